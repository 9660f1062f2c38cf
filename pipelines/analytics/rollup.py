"""The daily roll-ups (docs/analytics.md): one document per conversation per UTC day, folded from one
ordered read of its messages. ``do_rollup`` is beat's incremental run (what changed since the last run's
mark, with the last day(s) computed again whole), ``do_rebuild`` computes everything again from the
messages; both write the same documents for the same messages."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from infra.storage import Store
from infra.storage.analytics import ConvTip
from schemas.documents import AnalyticsDay

# A message "answers" an earlier one by someone else if it comes within this long (docs/analytics.md).
RESPONSE_WINDOW = timedelta(hours=24)
MEDIA_TYPES = frozenset({"image", "file", "media"})
# How often the fold lets ``pause`` run (the embedded store is in the web process: chat goes first).
PAUSE_EVERY = 250  # one read window (infra.storage.analytics.SEQ_WINDOW) per slice


@dataclass
class RollupResult:
    since: datetime | None          # the first instant computed again (None: everything, a rebuild)
    conversations: int = 0
    days: int = 0
    messages: int = 0
    conv_ids: list[str] = field(default_factory=list)


def aware(at: datetime) -> datetime:
    """MongoDB gives naive UTC datetimes unless asked otherwise; the embedded store gives aware ones."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


class _Fold:
    """The days of one conversation, as its messages arrive oldest first."""

    def __init__(self, conv_id: str, group_id: str, now: datetime, since: datetime | None) -> None:
        self.conv_id, self.group_id, self.now, self.since = conv_id, group_id, now, since
        self.days: dict[str, AnalyticsDay] = {}
        # The messages not answered yet: all by one sender (the next message by someone else answers them all).
        self.waiting: list[tuple[datetime, AnalyticsDay]] = []
        self.waiting_sender: str | None = None

    def day(self, at: datetime) -> AnalyticsDay:
        key = at.date().isoformat()
        found = self.days.get(key)
        if found is None:
            found = self.days[key] = AnalyticsDay(id=f"{self.conv_id}:{key}", convId=self.conv_id,
                                                  groupId=self.group_id, date=key, updatedAt=self.now)
        return found

    def add_message(self, doc: dict[str, Any]) -> bool:
        if doc.get("type") == "system":
            return False  # the product's own notes (joined, renamed): nobody sent them
        at, sender = aware(doc["createdAt"]), doc["senderId"]
        if self.since is not None and at < self.since:
            return False  # a day before the window: counted when it was rolled up, and not rewritten now
        day = self.day(at)
        day.lastSeq = max(day.lastSeq, doc.get("seq", 0))
        day.messages += 1
        day.hours[at.hour] += 1
        day.senders[sender] = day.senders.get(sender, 0) + 1
        if doc.get("type") in MEDIA_TYPES or (doc.get("metadata") or {}).get("files"):
            day.media += 1
        if sender != self.waiting_sender:
            for asked, asked_day in self.waiting:
                wait = at - asked
                if wait <= RESPONSE_WINDOW:
                    asked_day.responses.append(int(wait.total_seconds()))
            self.waiting, self.waiting_sender = [], sender
        self.waiting.append((at, day))
        return True

    def add_export(self, at: datetime) -> None:
        self.day(aware(at)).exports += 1

    def result(self) -> list[AnalyticsDay]:
        for day in self.days.values():
            day.responses.sort()
        return sorted(self.days.values(), key=lambda d: d.date)


def fold_conversation(conv_id: str, group_id: str, messages: Iterable[dict[str, Any]], exports: Iterable[datetime],
                      now: datetime, *, since: datetime | None = None,
                      pause: Callable[[], None] | None = None) -> tuple[list[AnalyticsDay], int]:
    """The days of ``messages`` (in seq order) and ``exports`` (their creation times) from ``since`` on
    (None: all); and how many messages were counted. Pure: tested on lists."""
    fold = _Fold(conv_id, group_id, now, since)
    counted = 0
    for i, doc in enumerate(messages, 1):
        counted += fold.add_message(doc)
        if pause is not None and i % PAUSE_EVERY == 0:
            pause()
    for at in exports:
        fold.add_export(at)
    return fold.result(), counted


def _roll(store: Store, conv_id: str, tip: ConvTip, since: datetime | None, now: datetime, result: RollupResult,
          pause: Callable[[], None] | None) -> None:
    """The conversation's days from ``since`` (a UTC midnight; None: all) computed again and written whole.
    The read starts after the last seq counted before ``since``: the messages of a conversation are stored
    in the order they were accepted, so their times follow their seqs (docs/analytics.md)."""
    if pause is not None:
        # Each conversation's reads and writes are a slice of their own: in the embedded default they hold
        # the web process's loop, and twenty conversations back to back held it 0.17 s every run.
        pause()
    from_date = since.date().isoformat() if since else None
    after = store.analytics.last_seq_before(conv_id, from_date) if from_date else 0
    days, counted = fold_conversation(conv_id, tip.group_id,
                                      store.analytics.messages_for_rollup(conv_id, after, tip.last_seq),
                                      store.analytics.export_times(conv_id, since), now, since=since, pause=pause)
    if pause is not None:
        pause()  # the write is a slice of its own too
    store.analytics.replace_days(conv_id, from_date, days)
    result.conversations += 1
    result.days += len(days)
    result.messages += counted
    result.conv_ids.append(conv_id)


def do_rollup(store: Store, now: datetime, *, overlap_days: int = 1,
              pause: Callable[[], None] | None = None) -> RollupResult:
    """Beat's run: the conversations with messages or exports since the start of the day ``overlap_days``
    before the last run's, their days from there computed again whole (late writes, answers that came
    after the last run), then the mark moves to ``now``. The first run ever is a rebuild."""
    mark = store.analytics.get_mark()
    if mark is None:
        return do_rebuild(store, now, pause=pause)
    since = midnight(aware(mark.until).date() - timedelta(days=overlap_days))
    convs = store.analytics.conversations_with_messages_since(since)
    more = store.analytics.conversations_with_exports_since(since) - convs.keys()
    if more:
        convs.update(store.analytics.conversations_by_ids(more))
    result = RollupResult(since=since)
    for conv_id, tip in sorted(convs.items()):
        _roll(store, conv_id, tip, since, now, result, pause)
    store.analytics.set_mark(now, now)
    return result


def do_rebuild(store: Store, now: datetime, *, pause: Callable[[], None] | None = None) -> RollupResult:
    """Every conversation's days computed again from all its messages (each conversation's old days replaced
    at once, so the figures stay readable meanwhile); the mark moves to ``now``."""
    result = RollupResult(since=None)
    for conv_id, tip in sorted(store.analytics.all_conversations().items()):
        _roll(store, conv_id, tip, None, now, result, pause)
    store.analytics.set_mark(now, now)
    return result
