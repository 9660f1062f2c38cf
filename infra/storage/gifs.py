"""The group GIF library's queries on the ``media`` collection (the files themselves are MediaRepo's): the
words each animated file is found by (``gifWords``: folded words, or blind tokens in an encrypted
conversation), a search over a set of conversations, and their newest animated files."""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.media import open_media
from infra.storage.repository import Repository
from schemas.documents import Media

# Only animated files are in the library (``animated: true``, set by the media job's metadata step), so the
# indexes hold only them.
_ANIMATED = {"animated": True}
_LIVE = {"animated": True, "status": "ready", "isDeleted": False}


class GifsRepo(Repository):
    INDEXES = {
        "media": [
            IndexModel([("convId", ASC), ("gifWords", ASC), ("_id", DESC)], name="gif_library_words",
                       partialFilterExpression=_ANIMATED),
            IndexModel([("convId", ASC), ("_id", DESC)], name="gif_library_newest", partialFilterExpression=_ANIMATED),
        ],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.vault = vault   # captions are sealed at rest (infra.storage.media): read through open_media
        self.media = db["media"]

    def set_words(self, media_id: str, words: list[str]) -> bool:
        """Store the words an animated file is found by; a file that is not animated gets none (False)."""
        return self.media.update_one({"_id": media_id, **_ANIMATED}, {"$set": {"gifWords": words}}).matched_count == 1

    def with_plain_words(self, conv_id: str, limit: int) -> list[Media]:
        """Animated files of the conversation whose library words are still plain (indexed before the
        conversation had a key: blind tokens start with "#", a folded word never does)."""
        query = {"convId": conv_id, **_ANIMATED, "gifWords": {"$regex": "^[^#]"}}
        return [open_media(self.vault, doc) for doc in self.media.find(query).limit(limit)]

    def search(self, clauses: list[tuple[list[str], list[str]]], limit: int) -> list[Media]:
        """The newest live animated files matching any clause ``(convIds, words)``: a file of one of the
        conversations holding every word. Plain conversations share one clause; each encrypted one has its
        own (its tokens are its own)."""
        ors: list[dict[str, Any]] = [{"convId": {"$in": conv_ids}, "gifWords": {"$all": words}}
                                     for conv_ids, words in clauses if conv_ids and words]
        if not ors:
            return []
        query = {**_LIVE, **ors[0]} if len(ors) == 1 else {**_LIVE, "$or": ors}
        return [open_media(self.vault, doc) for doc in self.media.find(query).sort("_id", DESC).limit(limit)]

    def newest(self, conv_ids: list[str], limit: int) -> list[Media]:
        """The newest live animated files of these conversations."""
        if not conv_ids:
            return []
        return [open_media(self.vault, doc) for doc in
                self.media.find({"convId": {"$in": conv_ids}, **_LIVE}).sort("_id", DESC).limit(limit)]
