"""Who is online: each user's live sockets, in Redis, shared by every web process (seed 003).

A user is online while at least one of their sockets is live, on any web process. Each socket is a
member of ``presence:sockets:{userId}`` (a sorted set scored by when it expires); its web process
pushes the expiry forward every few seconds (``heartbeat``), so the sockets of a web process that
died expire by themselves and are swept. Every change is one Lua script, so when two tabs connect or
close at once exactly one of them sees the transition (online, or offline) and announces it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import redis

ALL = "presence:all"              # "userId sid" -> expiry, for the sweep of dead web processes
LAST_SEEN = "presence:last_seen"  # userId -> when they went offline (ISO-8601)


def _sockets(user_id: str) -> str:
    return f"presence:sockets:{user_id}"


# KEYS: the user's sockets, ALL. ARGV: sid, expiry, now, userId. Returns the user's live sockets.
_CONNECT = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4] .. ' ' .. ARGV[1])
return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
"""

# KEYS: the user's sockets, ALL, LAST_SEEN. ARGV: sid, now, userId, now as ISO-8601.
# Returns -1 when that socket was already gone (someone else announced it), else the live sockets left.
_DISCONNECT = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[3] .. ' ' .. ARGV[1])
if removed == 0 then return -1 end
local left = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf')
if left == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return left
"""


@dataclass(frozen=True)
class Status:
    online: bool
    last_seen: str | None  # when they went offline; None when never seen offline


class PresenceRegistry:
    def __init__(self, client: redis.Redis, ttl_seconds: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = client
        self.ttl = ttl_seconds
        self.clock = clock  # seconds since the epoch, as every web process must agree on them
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)

    def connect(self, user_id: str, sid: str) -> bool:
        """Record a live socket; True when it is the user's only one (the user just came online)."""
        now = self.clock()
        return self._connect(keys=[_sockets(user_id), ALL], args=[sid, now + self.ttl, now, user_id]) == 1

    def disconnect(self, user_id: str, sid: str, now_iso: str) -> bool:
        """Forget a socket; True when it was the user's last live one (the user just went offline)."""
        return self._disconnect(keys=[_sockets(user_id), ALL, LAST_SEEN],
                                args=[sid, self.clock(), user_id, now_iso]) == 0

    def heartbeat(self, sockets: Iterable[tuple[str, str]]) -> None:
        """Push forward the expiry of these live (userId, sid) sockets; one round trip."""
        expiry = self.clock() + self.ttl
        pipe = self.redis.pipeline(transaction=False)
        for user_id, sid in sockets:
            pipe.zadd(_sockets(user_id), {sid: expiry}, xx=True)
            pipe.zadd(ALL, {f"{user_id} {sid}": expiry}, xx=True)
        pipe.execute()

    def expired(self, limit: int = 500) -> list[tuple[str, str]]:
        """(userId, sid) of sockets whose web process stopped refreshing them."""
        members = self.redis.zrangebyscore(ALL, "-inf", self.clock(), start=0, num=limit)
        return [tuple(m.decode().split(" ", 1)) for m in members]

    def sids(self, user_id: str) -> list[str]:
        """The user's live sockets, on every web process."""
        return [s.decode() for s in self.redis.zrangebyscore(_sockets(user_id), f"({self.clock()}", "+inf")]

    def status(self, user_ids: list[str]) -> dict[str, Status]:
        """One round trip for any number of users."""
        if not user_ids:
            return {}
        now = self.clock()
        pipe = self.redis.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.zcount(_sockets(user_id), f"({now}", "+inf")
        pipe.hmget(LAST_SEEN, user_ids)
        *counts, seen = pipe.execute()
        return {uid: Status(count > 0, s.decode() if s else None) for uid, count, s in zip(user_ids, counts, seen)}
