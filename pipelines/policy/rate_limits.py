"""Per-user rate limits on every client event that writes, shared by every web process (a moving window in
Redis, the ``limits`` library). One ``RateLimits`` holds the limit of each action; ``check`` counts one
event and refuses past the limit with ``rate_limited`` and ``retryAfter`` (seconds).

A moving window keeps at most ``amount`` timestamps per user and action, so a client looping on one event
costs Redis a bounded list, never a growing one."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, Mapping, NoReturn

from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import RateLimiter

from infra.inbox import RateWindow
from schemas.errors import ApiError, Code

# Every limited action, and how a refusal names it to the client.
Action = Literal["send", "edit", "delete", "reaction", "read", "delivered", "report", "comment", "upload",
                 "export", "reminder", "scheduled", "text"]
WHAT: dict[str, str] = {
    "send": "messages", "edit": "edits", "delete": "deletions", "reaction": "reactions", "read": "read receipts",
    "delivered": "delivery receipts", "report": "reports", "comment": "comments", "upload": "uploads",
    "export": "exports", "reminder": "reminders", "scheduled": "scheduled messages",
    "text": "changes to names, titles and captions",
}


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


@dataclass
class RateLimits:
    limiter: RateLimiter
    limits: Mapping[str, str] = field(default_factory=dict)  # action -> limits' notation ("30/10 seconds")

    def check(self, user_id: str, action: Action) -> None:
        """Count one ``action`` of the user; past its limit, refuse with when to retry (nothing counted
        then: a refused event does not push the window further)."""
        limit = self.limits.get(action)
        if not limit:
            return
        if not self.limiter.hit(_parse(limit), action, user_id):
            self.refuse(user_id, action)

    def window(self, user_id: str, action: Action) -> RateWindow | None:
        """The user's window for ``action`` as a Redis list that a script may hit in the same round trip as
        its write (infra.inbox's append), when the limits are kept in Redis; None otherwise (no limit, or
        another storage: then ``check``)."""
        limit = self.limits.get(action)
        storage = getattr(self.limiter, "storage", None)
        if not limit or not isinstance(storage, RedisStorage):
            return None
        item = _parse(limit)
        return RateWindow(storage.prefixed_key(item.key_for(action, user_id)), item.amount, item.get_expiry())

    def refuse(self, user_id: str, action: Action) -> NoReturn:
        """``rate_limited``, with the seconds until the user's oldest hit of ``action`` leaves the window."""
        limit = self.limits[action]
        item = _parse(limit)
        reset = self.limiter.get_window_stats(item, action, user_id).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise ApiError(Code.RATE_LIMITED, f"too many {WHAT.get(action, action)}: at most {limit}; "
                                          f"retry in {retry_after} s", {"retryAfter": retry_after})
