"""Groups and their members: membership, roles and group settings."""
from __future__ import annotations

import re
from typing import Any, Iterable

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.storage.repository import Repository, insert_once
from schemas.documents import Group, GroupMember


class GroupsRepo(Repository):
    INDEXES = {
        "groups": [IndexModel([("createdBy", ASC)], name="createdBy"),
                   IndexModel([("name", ASC)], name="name")],   # names searched on the keys (exporters' picker)
        "group_members": [
            IndexModel([("groupId", ASC), ("userId", ASC)], name="groupId_userId", unique=True),
            IndexModel([("userId", ASC), ("groupId", ASC)], name="userId_groupId"),
            IndexModel([("userId", ASC), ("role", ASC), ("groupId", ASC)], name="userId_role_groupId"),
        ],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.groups = db["groups"]
        self.group_members = db["group_members"]
        self.conversation_members = db["conversation_members"]

    def insert_group(self, group: Group, creator: GroupMember) -> None:
        self.groups.insert_one(group.to_mongo())
        self.group_members.insert_one(creator.to_mongo())

    def get_group(self, group_id: str) -> Group | None:
        doc = self.groups.find_one({"_id": group_id})
        return Group.from_mongo(doc) if doc else None

    def get_group_member(self, group_id: str, user_id: str) -> GroupMember | None:
        doc = self.group_members.find_one({"groupId": group_id, "userId": user_id})
        return GroupMember.from_mongo(doc) if doc else None

    def insert_group_member(self, member: GroupMember) -> bool:
        """False when the user already belongs to the group."""
        return insert_once(self.group_members, member.to_mongo())

    def group_members_of(self, group_id: str, limit: int) -> list[GroupMember]:
        """The group's members in joining order, at most ``limit`` (from the (groupId, userId) index)."""
        docs = self.group_members.find({"groupId": group_id}).limit(limit)
        return sorted((GroupMember.from_mongo(d) for d in docs), key=lambda m: m.joinedAt)

    def group_members_after(self, group_id: str, after: str | None, limit: int) -> list[GroupMember]:
        """The group's members by user id, from just after ``after``: a range of the (groupId, userId) index."""
        query: dict[str, Any] = {"groupId": group_id, **({"userId": {"$gt": after}} if after else {})}
        docs = self.group_members.find(query).sort([("groupId", ASC), ("userId", ASC)]).limit(limit)
        return [GroupMember.from_mongo(d) for d in docs]

    def group_ids_of_user(self, user_id: str) -> list[str]:
        """From the (userId, groupId) index alone (a covered query)."""
        return [m["groupId"] for m in self.group_members.find({"userId": user_id}, {"_id": 0, "groupId": 1})]

    def group_ids_of_users(self, user_ids: list[str]) -> dict[str, list[str]]:
        """Each user's groups, in one read of the (userId, groupId) index (covered): a presence batch's."""
        out: dict[str, list[str]] = {}
        for m in self.group_members.find({"userId": {"$in": list(dict.fromkeys(user_ids))}},
                                         {"_id": 0, "userId": 1, "groupId": 1}):
            out.setdefault(m["userId"], []).append(m["groupId"])
        return out

    def groups_of_user(self, user_id: str) -> list[tuple[Group, str]]:
        roles = {m["groupId"]: m["role"] for m in self.group_members.find({"userId": user_id})}
        groups = self.groups.find({"_id": {"$in": list(roles)}})
        return sorted(((Group.from_mongo(g), roles[g["_id"]]) for g in groups), key=lambda gr: gr[0].createdAt)

    def set_group_role(self, group_id: str, user_id: str, role: str) -> GroupMember | None:
        doc = self.group_members.find_one_and_update({"groupId": group_id, "userId": user_id},
                                                     {"$set": {"role": role}}, return_document=ReturnDocument.AFTER)
        return GroupMember.from_mongo(doc) if doc else None

    def remove_group_member(self, group_id: str, user_id: str) -> list[str]:
        """Take the user out of the group and of its conversations; the conversations they left."""
        convs = [m["convId"] for m in self.conversation_members.find({"userId": user_id, "groupId": group_id},
                                                                      {"convId": 1})]
        self.conversation_members.delete_many({"userId": user_id, "groupId": group_id})
        self.group_members.delete_one({"groupId": group_id, "userId": user_id})
        return convs

    def all_groups(self, limit: int) -> list[Group]:
        """Newest first (system admins moderate every group)."""
        return [Group.from_mongo(d) for d in self.groups.find().sort("_id", DESC).limit(limit)]

    def set_group_settings(self, group_id: str, changes: dict[str, Any]) -> Group | None:
        doc = self.groups.find_one_and_update({"_id": group_id}, {"$set": {f"settings.{k}": v for k, v in changes.items()}},
                                              return_document=ReturnDocument.AFTER)
        return Group.from_mongo(doc) if doc else None

    def group_ids_where_role(self, user_id: str, role: str) -> list[str]:
        """The groups where the user has ``role`` (a covered query on (userId, role, groupId))."""
        return [m["groupId"] for m in self.group_members.find({"userId": user_id, "role": role},
                                                              {"_id": 0, "groupId": 1})]

    def groups_by_ids(self, group_ids: Iterable[str]) -> dict[str, Group]:
        return {d["_id"]: Group.from_mongo(d) for d in self.groups.find({"_id": {"$in": list(set(group_ids))}})}

    def group_ids_named(self, text: str, limit: int) -> list[str]:
        """Groups whose name holds ``text`` (any case, taken literally), at most ``limit``."""
        pattern = {"$regex": re.escape(text), "$options": "i"}
        return [d["_id"] for d in self.groups.find({"name": pattern}, {"_id": 1}).limit(limit)]
