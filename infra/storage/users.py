"""Users: accounts by id and by username."""
from __future__ import annotations

from typing import Any, Iterable

from pymongo import ASCENDING as ASC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.storage.repository import Repository
from schemas.documents import User


class UsersRepo(Repository):
    INDEXES = {
        "users": [IndexModel([("username", ASC)], name="username", unique=True)],
    }

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.users = db["users"]

    def get_user(self, user_id: str) -> User | None:
        doc = self.users.find_one({"_id": user_id})
        return User.from_mongo(doc) if doc else None

    def get_user_by_username(self, username: str) -> User | None:
        doc = self.users.find_one({"username": username})
        return User.from_mongo(doc) if doc else None

    def users_by_usernames(self, usernames: Iterable[str]) -> dict[str, User]:
        found = {}
        for name in set(usernames):  # one indexed point lookup each; lists are short
            user = self.get_user_by_username(name)
            if user:
                found[name] = user
        return found

    def users_by_ids(self, user_ids: Iterable[str]) -> dict[str, User]:
        return {d["_id"]: User.from_mongo(d) for d in self.users.find({"_id": {"$in": list(set(user_ids))}})}

    def update_user_profile(self, user_id: str, changes: dict[str, Any], at) -> User | None:
        doc = self.users.find_one_and_update({"_id": user_id}, {"$set": {**changes, "updatedAt": at}},
                                             return_document=ReturnDocument.AFTER)
        return User.from_mongo(doc) if doc else None

    def insert_user_if_absent(self, user: User) -> User:
        """Create the user unless the username exists; either way return the stored one."""
        doc = self.users.find_one_and_update(
            {"username": user.username}, {"$setOnInsert": user.to_mongo()},
            upsert=True, return_document=ReturnDocument.AFTER)
        return User.from_mongo(doc)
