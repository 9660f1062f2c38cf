"""Analytics roll-ups: the daily documents per conversation, the incremental run's mark, and the reads the
roll-up makes of messages, conversations and exports (with the indexes those reads need)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING as ASC, IndexModel
from pymongo.database import Database

from infra.storage.repository import Repository
from schemas.documents import AnalyticsDay, AnalyticsMark

MARK_ID = "rollup"


class AnalyticsRepo(Repository):
    INDEXES = {
        # A conversation's days in a period (unique: one document per conversation per day); a group's days
        # in a period (the group's figures are the sum of its conversations').
        "analytics_days": [
            IndexModel([("convId", ASC), ("date", ASC)], name="convId_date", unique=True),
            IndexModel([("groupId", ASC), ("date", ASC)], name="groupId_date"),
        ],
        # The roll-up reads one conversation's messages of a period, in time order.
        "messages": [IndexModel([("convId", ASC), ("createdAt", ASC)], name="convId_createdAt")],
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
    def messages_for_rollup(self, conv_id: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        """The conversation's messages created at or after ``since`` (all: None), oldest first, with only
        what the roll-up counts (deleted ones included: they count as sent)."""
        query: dict[str, Any] = {"convId": conv_id}
        if since is not None:
            query["createdAt"] = {"$gte": since}
        fields = {"_id": 0, "senderId": 1, "createdAt": 1, "type": 1, "metadata.files": 1}
        return self.messages.find(query, fields).sort([("convId", ASC), ("createdAt", ASC)])

    def conversations_with_messages_since(self, since: datetime) -> dict[str, str]:
        """convId -> groupId of the conversations whose newest message is at or after ``since``."""
        return {d["_id"]: d["groupId"] for d in
                self.conversations.find({"lastMessageAt": {"$gte": since}}, {"groupId": 1})}

    def all_conversations(self) -> Iterator[tuple[str, str]]:
        """(convId, groupId) of every conversation: the rebuild's list."""
        for d in self.conversations.find({}, {"groupId": 1}):
            yield d["_id"], d["groupId"]

    def groups_of(self, conv_ids: Iterable[str]) -> dict[str, str]:
        return {d["_id"]: d["groupId"] for d in
                self.conversations.find({"_id": {"$in": list(conv_ids)}}, {"groupId": 1})}

    def conversations_with_exports_since(self, since: datetime) -> set[str]:
        return {d["convId"] for d in self.exports.find({"createdAt": {"$gte": since}}, {"convId": 1})}

    def export_times(self, conv_id: str, since: datetime | None) -> list[datetime]:
        query: dict[str, Any] = {"convId": conv_id}
        if since is not None:
            query["createdAt"] = {"$gte": since}
        return [d["createdAt"] for d in self.exports.find(query, {"createdAt": 1})]

    # -- the roll-ups -----------------------------------------------------------------------------------
    def replace_days(self, conv_id: str, from_date: str | None, days: list[AnalyticsDay]) -> None:
        """The conversation's days from ``from_date`` on (all: None) become ``days``: each one replaced
        whole, and a day that no longer has anything removed."""
        # One replace per day (mongomock's bulk_write does not take pymongo's ReplaceOne of this version).
        for day in days:
            self.days.replace_one({"_id": day.id}, day.to_mongo(), upsert=True)
        query: dict[str, Any] = {"convId": conv_id, "_id": {"$nin": [d.id for d in days]}}
        if from_date is not None:
            query["date"] = {"$gte": from_date}
        self.days.delete_many(query)

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
