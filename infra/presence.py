"""Who is online: each user's live sockets, in Redis, shared by every web process (seed 003).

A user is online while at least one of their sockets is live, on any web process. Each socket is a
member of ``presence:sockets:{userId}`` (a sorted set scored by when it expires); its web process
pushes the expiry forward every few seconds (``heartbeat``), so the sockets of a web process that
died expire by themselves and are swept; a heartbeat that finds one of its sockets gone (Redis
restarted empty, or an outage longer than the TTL let another process sweep it) says so, and the web
process registers it again. Every change is one Lua script, so when two tabs connect or close at once
exactly one of them sees the transition (online, or offline) and announces it; a batch of changes
(``apply``) is those scripts in one pipeline: one round trip, one connection, however many sockets.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import redis

ALL = "presence:all"              # "userId sid" -> expiry, for the sweep of dead web processes
LAST_SEEN = "presence:last_seen"  # userId -> when they went offline (ISO-8601)
HEARTBEAT_CHUNK = 1000            # sockets refreshed per script call


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


# KEYS: ALL. ARGV: expiry, then userId, sid pairs (the user's key is named here: one Redis, no cluster). Pushes the expiry of the sockets
# still registered; returns the 1-based pair numbers of those that are not.
_HEARTBEAT = """
local missing = {}
for i = 2, #ARGV, 2 do
  local key = 'presence:sockets:' .. ARGV[i]
  if redis.call('ZSCORE', key, ARGV[i + 1]) then
    redis.call('ZADD', key, ARGV[1], ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i] .. ' ' .. ARGV[i + 1])
  else
    missing[#missing + 1] = i / 2
  end
end
return missing
"""


@dataclass(frozen=True)
class Change:
    """A socket of this web process opened (``online``) or closed."""
    user_id: str
    sid: str
    online: bool


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
        self._heartbeat = client.register_script(_HEARTBEAT)

    def connect(self, user_id: str, sid: str) -> bool:
        """Record a live socket; True when it is the user's only one (the user just came online)."""
        return self.apply([Change(user_id, sid, True)], "")[0]

    def disconnect(self, user_id: str, sid: str, now_iso: str) -> bool:
        """Forget a socket; True when it was the user's last live one (the user just went offline)."""
        return self.apply([Change(user_id, sid, False)], now_iso)[0]

    def apply(self, changes: list[Change], now_iso: str) -> list[bool]:
        """Record these connects and disconnects, in order, in one round trip. For each: True when the
        user's online state changed with it (first socket opened, last socket closed)."""
        now = self.clock()
        pipe = self.redis.pipeline(transaction=False)
        for c in changes:
            if c.online:
                self._connect(keys=[_sockets(c.user_id), ALL], args=[c.sid, now + self.ttl, now, c.user_id],
                              client=pipe)
            else:
                self._disconnect(keys=[_sockets(c.user_id), ALL, LAST_SEEN], args=[c.sid, now, c.user_id, now_iso],
                                 client=pipe)
        return [r == (1 if c.online else 0) for c, r in zip(changes, pipe.execute())]

    def heartbeat(self, sockets: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Push forward the expiry of these live (userId, sid) sockets in one round trip; returns those
        the registry no longer holds (to be registered again)."""
        sockets, expiry = list(sockets), self.clock() + self.ttl
        pipe = self.redis.pipeline(transaction=False)
        chunks = [sockets[i:i + HEARTBEAT_CHUNK] for i in range(0, len(sockets), HEARTBEAT_CHUNK)]
        for chunk in chunks:  # each script call holds Redis briefly
            self._heartbeat(keys=[ALL], args=[expiry, *(x for pair in chunk for x in pair)], client=pipe)
        return [chunk[i - 1] for chunk, missing in zip(chunks, pipe.execute() if chunks else []) for i in missing]

    def expired(self, limit: int = 500) -> list[tuple[str, str]]:
        """(userId, sid) of sockets whose web process stopped refreshing them."""
        members = self.redis.zrangebyscore(ALL, "-inf", self.clock(), start=0, num=limit)
        return [tuple(m.decode().split(" ", 1)) for m in members]

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
