"""Analytics roll-ups (docs/analytics.md): one document per conversation per UTC day, and the roll-up's mark."""
from __future__ import annotations

from pydantic import Field

from schemas.documents.base import Document, Timestamp

HOURS = 24


class AnalyticsDay(Document):
    """What one conversation did on one UTC day. ``_id`` is ``{convId}:{date}``. Every list and map keeps
    what a period needs to be exact: ``senders`` (userId -> messages) so that a period's distinct senders
    are a union, ``responses`` (every first-response time of the day's messages, in seconds, sorted) so
    that a period's median and p90 are read from all of them."""
    convId: str
    groupId: str
    date: str                      # YYYY-MM-DD, the UTC day
    messages: int = 0              # sent that day, deleted ones included (system messages are not counted)
    media: int = 0                 # of those, the ones that carried files (images, files, media)
    exports: int = 0               # export jobs requested that day for the conversation
    hours: list[int] = Field(default_factory=lambda: [0] * HOURS)   # messages by UTC hour
    senders: dict[str, int] = Field(default_factory=dict)
    responses: list[int] = Field(default_factory=list)
    lastSeq: int = 0               # the highest seq counted: where the next incremental read starts
    updatedAt: Timestamp


class AnalyticsMark(Document):
    """The incremental roll-up's high-water mark (``_id`` "rollup"): every message created before ``until``
    was rolled up when it was written."""
    until: Timestamp
    updatedAt: Timestamp
