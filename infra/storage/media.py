"""Media: uploads in progress, files, quota usage, albums, likes and comments.

Encryption at rest (docs/security.md): a file's ``caption`` and its comments' ``content`` are sealed with its
conversation's key on every write and opened on every read (``opened``: every method that returns a Media goes
through it), so the pipelines above, the gallery and the routes see plain text."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pymongo import ASCENDING as ASC, DESCENDING as DESC, IndexModel, ReturnDocument
from pymongo.database import Database

from infra.crypto import Vault
from infra.storage.repository import Repository, newest_first
from schemas.documents import Album, Media, Upload


def open_media(vault: Vault | None, doc: dict[str, Any]) -> Media:
    """The model of a stored file with what users wrote opened: every reader of the media collection
    (this repository, the GIF library's) goes through here."""
    if vault is not None:
        conv_id = doc["convId"]
        doc["caption"] = vault.open(conv_id, doc.get("caption"))
        for comment in doc.get("comments") or ():
            comment["content"] = vault.open(conv_id, comment.get("content"))
    return Media.from_mongo(doc)


class MediaRepo(Repository):
    INDEXES = {
        # Media (seed 001 event_media): a conversation's gallery newest first, filterable by type.
        "media": [
            IndexModel([("convId", ASC), ("isDeleted", ASC), ("_id", DESC)], name="convId_isDeleted_id"),
            IndexModel([("convId", ASC), ("isDeleted", ASC), ("fileType", ASC), ("_id", DESC)],
                       name="convId_isDeleted_fileType_id"),
            IndexModel([("uploadedBy", ASC), ("createdAt", DESC)], name="uploadedBy_createdAt"),
            IndexModel([("albumId", ASC), ("_id", DESC)], name="albumId_id", sparse=True),
            # The sweeper's question: files stuck uploading or processing since before a time.
            IndexModel([("status", ASC), ("updatedAt", ASC)], name="status_updatedAt"),
            # Deleted files whose S3 objects are still to go: set at deletion, unset by the purge.
            IndexModel([("purgeQueuedAt", ASC)], name="purgeQueuedAt", sparse=True),
            # A conversation's captions and comments still stored plain (written before it had a key), for
            # the walk that seals them (``plain_media_texts``); sealed values are binary, outside the filters.
            IndexModel([("convId", ASC)], name="convId_plainCaption", partialFilterExpression={"caption": {"$gt": ""}}),
            IndexModel([("convId", ASC)], name="convId_plainComment",
                       partialFilterExpression={"comments.content": {"$gt": ""}}),
        ],
        # Uploads in progress (seed 001 file_uploads): gone an hour after creation (the clean-up job aborts
        # the multipart uploads S3 still holds for them).
        "uploads": [IndexModel([("expiresAt", ASC)], name="expiresAt_ttl", expireAfterSeconds=0)],
        "albums": [IndexModel([("convId", ASC), ("_id", DESC)], name="convId_id"),
                   # A conversation's album descriptions still stored plain, for the sealing walk.
                   IndexModel([("convId", ASC)], name="convId_plainDescription",
                              partialFilterExpression={"description": {"$gt": ""}})],
        # _id is the user's id: bytes of files held or being uploaded, against UPLOAD_QUOTA_BYTES.
        "upload_usage": [],
    }

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        super().__init__(db)
        self.vault = vault
        self.media = db["media"]
        self.uploads = db["uploads"]
        self.albums = db["albums"]
        self.upload_usage = db["upload_usage"]

    def reserve_quota(self, user_id: str, media_id: str, size: int, quota: int) -> bool:
        """Count ``size`` more bytes against the user's quota, atomically, unless that would pass it. The
        reservation is recorded as in flight (``open.{mediaId}``) until the file is ready or refused."""
        self.upload_usage.update_one({"_id": user_id}, {"$setOnInsert": {"bytes": 0}}, upsert=True)
        return self.upload_usage.update_one({"_id": user_id, "bytes": {"$lte": quota - size}},
                                            {"$inc": {"bytes": size}, "$set": {f"open.{media_id}": size}}
                                            ).modified_count == 1

    def return_quota(self, user_id: str, media_id: str) -> bool:
        """Give back the bytes reserved for a file that will never be held (failed, quarantined, cancelled,
        abandoned), exactly once: one conditional update removes the reservation and its bytes together,
        so of any number of racing paths one returns it. False: already returned, or the file is held."""
        doc = self.upload_usage.find_one({"_id": user_id}, {f"open.{media_id}": 1})
        size = ((doc or {}).get("open") or {}).get(media_id)
        if size is None:
            return False
        return self.upload_usage.update_one({"_id": user_id, f"open.{media_id}": size},
                                            {"$inc": {"bytes": -size}, "$unset": {f"open.{media_id}": ""}}
                                            ).modified_count == 1

    def keep_quota(self, user_id: str, media_id: str) -> None:
        """The file is ready: its bytes stay counted, and no later failure path may return them."""
        self.upload_usage.update_one({"_id": user_id}, {"$unset": {f"open.{media_id}": ""}})

    def release_quota(self, user_id: str, size: int) -> None:
        """Give back the bytes of a held (ready) file whose objects were purged. Once: the caller does it
        on its own conditional deleted -> purged transition (``finish_media_purge``)."""
        self.upload_usage.update_one({"_id": user_id, "bytes": {"$gte": size}}, {"$inc": {"bytes": -size}})

    # -- sealing (what users write: the caption, the comments) ---------------------------
    def _seal(self, conv_id: str, text: str | None) -> Any:
        return self.vault.seal(conv_id, text) if self.vault is not None and text else text

    def _sealed_fields(self, conv_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``changes`` with its caption sealed (if it has one)."""
        out = dict(changes)
        if "caption" in out:
            out["caption"] = self._seal(conv_id, out["caption"])
        return out

    def _sealed(self, doc: dict[str, Any]) -> dict[str, Any]:
        doc = self._sealed_fields(doc["convId"], doc)
        for comment in doc.get("comments") or ():
            comment["content"] = self._seal(doc["convId"], comment["content"])
        return doc

    def opened(self, doc: dict[str, Any]) -> Media:
        """The model of a stored file, its caption and comments opened."""
        return open_media(self.vault, doc)

    def _conv_of(self, media_id: str) -> str | None:
        doc = self.media.find_one({"_id": media_id}, {"convId": 1})
        return doc["convId"] if doc else None

    def plain_media_texts(self, conv_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` files of the conversation with a caption or a comment still stored plain:
        ``{_id, caption, comments}`` as stored."""
        fields = {"_id": 1, "caption": 1, "comments": 1}
        found: dict[str, dict[str, Any]] = {}
        for field in ("caption", "comments.content"):
            if len(found) < limit:
                for d in self.media.find({"convId": conv_id, field: {"$gt": ""}}, fields).limit(limit):
                    found.setdefault(d["_id"], d)
        return list(found.values())[:limit]

    def seal_media_caption(self, media_id: str, conv_id: str, plain: str) -> bool:
        """Replace a plain caption by its sealed value, unless it changed since it was read."""
        return self.media.update_one({"_id": media_id, "caption": plain},
                                     {"$set": {"caption": self._seal(conv_id, plain)}}).modified_count == 1

    def seal_media_comment(self, media_id: str, conv_id: str, comment_id: str, plain: str) -> bool:
        """Replace a comment's plain content by its sealed value, unless it changed or went since."""
        return self.media.update_one(
            {"_id": media_id, "comments": {"$elemMatch": {"id": comment_id, "content": plain}}},
            {"$set": {"comments.$.content": self._seal(conv_id, plain)}}).modified_count == 1

    def insert_upload(self, upload: Upload, media: Media) -> None:
        self.media.insert_one(self._sealed(media.to_mongo()))
        self.uploads.insert_one(upload.to_mongo())

    def insert_media(self, media: Media) -> None:
        """A file that has no upload (a GIF send's copy, pipelines.media.remote)."""
        self.media.insert_one(self._sealed(media.to_mongo()))

    def get_upload(self, upload_id: str) -> Upload | None:
        doc = self.uploads.find_one({"_id": upload_id})
        return Upload.from_mongo(doc) if doc else None

    def close_upload(self, upload_id: str, status: str, at) -> Upload | None:
        """uploading -> completed or cancelled, once: None when it was no longer uploading."""
        doc = self.uploads.find_one_and_update({"_id": upload_id, "status": "uploading"},
                                               {"$set": {"status": status, "completedAt": at}},
                                               return_document=ReturnDocument.AFTER)
        return Upload.from_mongo(doc) if doc else None

    def expired_uploads(self, now, limit: int) -> list[Upload]:
        """Uploads past their expiry still open (the TTL index deletes them later: run before it does)."""
        return [Upload.from_mongo(d) for d in self.uploads.find({"expiresAt": {"$lte": now}}).limit(limit)]

    def delete_upload(self, upload_id: str) -> None:
        self.uploads.delete_one({"_id": upload_id})

    def get_media(self, media_id: str) -> Media | None:
        doc = self.media.find_one({"_id": media_id})
        return self.opened(doc) if doc else None

    def media_by_ids(self, media_ids: list[str]) -> dict[str, Media]:
        return {d["_id"]: self.opened(d) for d in self.media.find({"_id": {"$in": media_ids}})}

    def update_media(self, media_id: str, changes: dict[str, Any], *, unless_status: tuple[str, ...] = ()) -> Media | None:
        if changes.get("caption") and self.vault is not None:
            conv_id = self._conv_of(media_id)
            if conv_id is None:
                return None
            changes = self._sealed_fields(conv_id, changes)
        query: dict[str, Any] = {"_id": media_id}
        if unless_status:
            query["status"] = {"$nin": list(unless_status)}
        doc = self.media.find_one_and_update(query, {"$set": changes}, return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def attach_message(self, media_id: str, message_id: str) -> Media | None:
        """Record that a message carries the file; the document as of that moment (see pipelines.media)."""
        doc = self.media.find_one_and_update({"_id": media_id}, {"$addToSet": {"messageIds": message_id}},
                                             return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def delete_media(self, media_id: str) -> None:
        self.media.delete_one({"_id": media_id})

    def stale_media(self, status: str, before, limit: int) -> list[Media]:
        """Files in ``status`` (uploading, processing) that nothing moved since before ``before``."""
        docs = self.media.find({"status": status, "updatedAt": {"$lt": before}}).sort("updatedAt", ASC).limit(limit)
        return [self.opened(d) for d in docs]

    def settle_media(self, media: Media, changes: dict[str, Any]) -> Media | None:
        """Change the file as read (same status, same updatedAt: no worker moved it since); None otherwise."""
        changes = self._sealed_fields(media.convId, changes)
        doc = self.media.find_one_and_update({"_id": media.id, "status": media.status, "updatedAt": media.updatedAt},
                                             {"$set": changes}, return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def mark_media_deleted(self, media_id: str, by: str | None, at) -> Media | None:
        """visible -> deleted, once (None when it already was): the caller's cue to do what follows. Its
        S3 objects are queued for the purge (``purgeQueuedAt``)."""
        doc = self.media.find_one_and_update(
            {"_id": media_id, "isDeleted": False},
            {"$set": {"isDeleted": True, "deletedAt": at, "deletedBy": by, "purgeQueuedAt": at, "updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def media_due_for_purge(self, queued_before, limit: int) -> list[Media]:
        """Deleted files queued for the purge at or before ``queued_before`` (the grace is over)."""
        return [self.opened(d) for d in self.media.find({"purgeQueuedAt": {"$lte": queued_before}}).limit(limit)]

    def finish_media_purge(self, media_id: str, at) -> Media | None:
        """deleted -> purged, once (None when it already was): its objects are gone; its likes, comments and
        renditions go with them."""
        doc = self.media.find_one_and_update({"_id": media_id, "purgeQueuedAt": {"$ne": None}},
                                             {"$unset": {"purgeQueuedAt": ""},
                                              "$set": {"purgedAt": at, "likes": [], "comments": [], "variants": {},
                                                       "caption": None, "updatedAt": at}},
                                             return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def delete_media_comment(self, media_id: str, comment_id: str) -> bool:
        return self.media.update_one({"_id": media_id, "comments.id": comment_id},
                                     {"$pull": {"comments": {"id": comment_id}}}).modified_count == 1

    def remove_from_album(self, media: Media, at) -> None:
        """A deleted file leaves its album's counts; a new cover is the album's newest image left."""
        album = self.albums.find_one_and_update(
            {"_id": media.albumId}, {"$inc": {"mediaCount": -1, "totalSize": -media.fileSize}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.AFTER)
        if album is None or album.get("coverMediaId") != media.id:
            return
        cover = self.media.find_one({"albumId": media.albumId, "isDeleted": False, "fileType": "image"},
                                    {"_id": 1}, sort=[("_id", DESC)])
        self.albums.update_one({"_id": media.albumId, "coverMediaId": media.id},
                               {"$set": {"coverMediaId": cover["_id"] if cover else None}})

    def gallery(self, conv_id: str, file_type: str | None, *, before: str | None, limit: int) -> tuple[list[Media], bool]:
        """The conversation's files that are not deleted, newest first, all or of one type."""
        query: dict[str, Any] = {"convId": conv_id, "isDeleted": False, "status": {"$nin": ["uploading"]}}
        if file_type:
            query["fileType"] = file_type
        return newest_first(self.media, query, SimpleNamespace(from_mongo=self.opened), before=before, limit=limit)

    def like_media(self, media_id: str, user_id: str, at, add: bool) -> Media | None:
        if add:
            doc = self.media.find_one_and_update(
                {"_id": media_id, "likes.userId": {"$ne": user_id}},
                {"$push": {"likes": {"userId": user_id, "at": at}}}, return_document=ReturnDocument.AFTER)
        else:
            doc = self.media.find_one_and_update({"_id": media_id, "likes.userId": user_id},
                                                 {"$pull": {"likes": {"userId": user_id}}},
                                                 return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    def comment_media(self, media_id: str, comment: dict[str, Any], max_comments: int) -> Media | None:
        if self.vault is not None:
            conv_id = self._conv_of(media_id)
            if conv_id is None:
                return None
            comment = {**comment, "content": self._seal(conv_id, comment["content"])}
        doc = self.media.find_one_and_update(
            {"_id": media_id, f"comments.{max_comments - 1}": {"$exists": False}},
            {"$push": {"comments": comment}}, return_document=ReturnDocument.AFTER)
        return self.opened(doc) if doc else None

    # An album's description is what a member wrote (sealed like a caption); its name is a title (metadata).
    def _album(self, doc: dict[str, Any]) -> Album:
        if self.vault is not None:
            doc["description"] = self.vault.open(doc["convId"], doc.get("description", ""))
        return Album.from_mongo(doc)

    def insert_album(self, album: Album) -> None:
        doc = album.to_mongo()
        doc["description"] = self._seal(album.convId, doc.get("description"))
        self.albums.insert_one(doc)

    def get_album(self, album_id: str) -> Album | None:
        doc = self.albums.find_one({"_id": album_id})
        return self._album(doc) if doc else None

    def albums_of(self, conv_id: str, *, before: str | None, limit: int) -> tuple[list[Album], bool]:
        query: dict[str, Any] = {"convId": conv_id}
        return newest_first(self.albums, query, SimpleNamespace(from_mongo=self._album), before=before, limit=limit)

    def plain_album_descriptions(self, conv_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` albums of the conversation whose description is still stored plain."""
        return list(self.albums.find({"convId": conv_id, "description": {"$gt": ""}},
                                     {"_id": 1, "description": 1}).limit(limit))

    def seal_album_description(self, album_id: str, conv_id: str, plain: str) -> bool:
        """Replace a plain description by its sealed value, unless it changed since it was read."""
        return self.albums.update_one({"_id": album_id, "description": plain},
                                      {"$set": {"description": self._seal(conv_id, plain)}}).modified_count == 1

    def add_to_album(self, album: Album, media: Media, at) -> Album | None:
        """Move the file into the album (once): the counts follow in the same step for the album."""
        if self.media.update_one({"_id": media.id, "albumId": {"$ne": album.id}},
                                 {"$set": {"albumId": album.id}}).modified_count == 0:
            return None
        if media.albumId:  # it left another album
            self.albums.update_one({"_id": media.albumId}, {"$inc": {"mediaCount": -1, "totalSize": -media.fileSize}})
        changes: dict[str, Any] = {"updatedAt": at}
        if album.coverMediaId is None and media.fileType == "image":
            changes["coverMediaId"] = media.id
        doc = self.albums.find_one_and_update(
            {"_id": album.id}, {"$inc": {"mediaCount": 1, "totalSize": media.fileSize},
                                "$addToSet": {"mediaTypes": media.fileType}, "$set": changes},
            return_document=ReturnDocument.AFTER)
        return self._album(doc) if doc else None
