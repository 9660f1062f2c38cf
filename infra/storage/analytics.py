"""Analytics roll-ups: the daily documents per conversation, the incremental run's mark, and the reads the
roll-up makes of messages, conversations and exports (with the indexes those reads need)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date as _date, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.database import Database

from infra.storage.repository import Repository
from schemas.documents import AnalyticsDay, AnalyticsMark

MARK_ID = "rollup"
RECENT_DAYS = 7  # last_seq_before's lookups by id
SEQ_WINDOW = 250  # a window is read in one go: at about 20 µs a message in the embedded store, one slice of the loop


class ConvTip(NamedTuple):
    """What the roll-up needs of a conversation: its group, and its newest announced seq."""
    group_id: str
    last_seq: int


def _tip(doc: dict[str, Any]) -> ConvTip:
    return ConvTip(doc["groupId"], doc.get("lastSeq", 0))


class AnalyticsRepo(Repository):
    INDEXES = {
        # A conversation's days in a period (unique: one document per conversation per day); a group's days
        # in a period (the group's figures are the sum of its conversations').
        "analytics_days": [
            IndexModel([("convId", ASC), ("date", ASC)], name="convId_date", unique=True),
            IndexModel([("groupId", ASC), ("date", ASC)], name="groupId_date"),
        ],
        # The conversations with messages since the last run (drains set lastMessageAt).
        "conversations": [IndexModel([("lastMessageAt", ASC)], name="lastMessageAt", sparse=True)],
        # Export jobs requested since the last run; one conversation's in a period.
        "exports": [IndexModel([("createdAt", ASC)], name="createdAt"),
                    IndexModel([("convId", ASC), ("createdAt", ASC)], name="convId_createdAt")],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.days = db["analytics_days"]
        self.marks = db["analytics_marks"]
        self.messages = db["messages"]
        self.conversations = db["conversations"]
        self.exports = db["exports"]

    # -- what the roll-up reads -----------------------------------------------------------------------
    def messages_for_rollup(self, conv_id: str, after_seq: int, up_to_seq: int) -> Iterator[dict[str, Any]]:
        """The conversation's messages after ``after_seq`` up to ``up_to_seq``, in seq order, with only what the
        roll-up counts (deleted ones included: they count as sent). Read on the (convId, seq) index in
        windows of ``SEQ_WINDOW`` seqs: a bounded range there is what the embedded store answers by lookups
        instead of examining every message of the conversation."""
        fields = {"_id": 0, "seq": 1, "senderId": 1, "createdAt": 1, "type": 1, "metadata.files": 1}
        low = after_seq + 1
        while low <= up_to_seq:
            high = min(low + SEQ_WINDOW - 1, up_to_seq)
            # Sorted here: a range on the index comes in seq order from MongoDB anyway, and the embedded
            # store's own sort cost a tenth of the read.
            yield from sorted(self.messages.find({"convId": conv_id, "seq": {"$gte": low, "$lte": high}}, fields),
                              key=itemgetter("seq"))
            low = high + 1

    def conversations_with_messages_since(self, since: datetime) -> dict[str, ConvTip]:
        """The conversations whose newest message is at or after ``since``."""
        return {d["_id"]: _tip(d) for d in
                self.conversations.find({"lastMessageAt": {"$gte": since}}, {"groupId": 1, "lastSeq": 1})}

    def all_conversations(self) -> dict[str, ConvTip]:
        """Every conversation: the rebuild's list."""
        return {d["_id"]: _tip(d) for d in self.conversations.find({}, {"groupId": 1, "lastSeq": 1})}

    def conversations_by_ids(self, conv_ids: Iterable[str]) -> dict[str, ConvTip]:
        return {d["_id"]: _tip(d) for d in
                self.conversations.find({"_id": {"$in": list(conv_ids)}}, {"groupId": 1, "lastSeq": 1})}

    def conversations_with_exports_since(self, since: datetime) -> set[str]:
        return {d["convId"] for d in self.exports.find({"createdAt": {"$gte": since}}, {"convId": 1})}

    def export_times(self, conv_id: str, since: datetime | None) -> list[datetime]:
        query: dict[str, Any] = {"convId": conv_id}
        if since is not None:
            query["createdAt"] = {"$gte": since}
        return [d["createdAt"] for d in self.exports.find(query, {"createdAt": 1})]

    # -- the roll-ups -----------------------------------------------------------------------------------
    def replace_days(self, conv_id: str, from_date: str | None, days: list[AnalyticsDay]) -> None:
        """The conversation's days from ``from_date`` on (all: None) become ``days``: removed, then written in
        one insert. (One replace per day cost the embedded store a millisecond each, a quarter of a
        100,000-message rebuild; a page read between the two sees that conversation's days missing for
        that moment, which a statistics page can live with.)"""
        query: dict[str, Any] = {"convId": conv_id}
        if from_date is not None:
            query["date"] = {"$gte": from_date}
        self.days.delete_many(query)
        if days:
            self.days.insert_many([d.to_mongo() for d in days], ordered=False)

    def last_seq_before(self, conv_id: str, date: str) -> int:
        """The highest seq counted on the conversation's last day before ``date`` (0: none). The week before
        is looked up first by id (a day's id is ``convId:date``): the embedded store answers that by point
        lookups, where the range below examines every day of the conversation (5 ms of the web process's
        loop at a year of days, for each conversation of each incremental run)."""
        first = _date.fromisoformat(date)
        ids = [f"{conv_id}:{(first - timedelta(days=k)).isoformat()}" for k in range(1, RECENT_DAYS + 1)]
        recent = list(self.days.find({"_id": {"$in": ids}}, {"date": 1, "lastSeq": 1}))
        if recent:
            return max(recent, key=lambda d: d["date"]).get("lastSeq", 0)
        doc = self.days.find_one({"convId": conv_id, "date": {"$lt": date}}, {"lastSeq": 1}, sort=[("date", DESC)])
        return doc.get("lastSeq", 0) if doc else 0

    def days_of_conversation(self, conv_id: str, from_date: str, to_date: str) -> list[AnalyticsDay]:
        return [AnalyticsDay.from_mongo(d) for d in
                self.days.find({"convId": conv_id, "date": {"$gte": from_date, "$lte": to_date}})]

    def days_of_group(self, group_id: str, from_date: str, to_date: str) -> list[AnalyticsDay]:
        return [AnalyticsDay.from_mongo(d) for d in
                self.days.find({"groupId": group_id, "date": {"$gte": from_date, "$lte": to_date}})]

    def all_days(self) -> list[AnalyticsDay]:
        """Every roll-up (tests and the rebuild's comparison; never a page's)."""
        return [AnalyticsDay.from_mongo(d) for d in self.days.find({}).sort("_id", ASC)]

    def drop_days(self) -> None:
        self.days.delete_many({})

    def get_mark(self) -> AnalyticsMark | None:
        doc = self.marks.find_one({"_id": MARK_ID})
        return AnalyticsMark.from_mongo(doc) if doc else None

    def set_mark(self, until: datetime, now: datetime) -> None:
        self.marks.replace_one({"_id": MARK_ID}, AnalyticsMark(id=MARK_ID, until=until, updatedAt=now).to_mongo(),
                               upsert=True)
