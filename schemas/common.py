"""Shared field types: ids, usernames, timestamps; and one_line, for text that leaves the product on one line."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from bson import ObjectId
from pydantic import StringConstraints

# Ids are 24 hex characters (an ObjectId's text), stored as strings.
Id = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{24}$")]
# A client-chosen idempotency key for a send.
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=32,
                           pattern=r"^[a-z0-9_.-]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
# Rendered by every client as an image source: a web address, nothing else (no javascript: or data:).
AvatarUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=512, pattern=r"^https?://\S+$")]


def new_id() -> str:
    return str(ObjectId())


def utcnow() -> datetime:
    # MongoDB keeps milliseconds; truncating here keeps what is emitted equal to what is stored.
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def one_line(text: str) -> str:
    """A person's text made fit for one line that leaves the product (an email header, a download's name, a
    PDF's title): no control or format character (line breaks, bidirectional overrides, zero-width
    characters), every run of white space as one space, trimmed."""
    return " ".join("".join(" " if c.isspace() else c for c in text if c.isprintable() or c.isspace()).split())
