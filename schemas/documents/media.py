"""Media (seed 001 file_uploads, event_media, media_albums): files, their processing steps and variants,
uploads and albums."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.documents.base import Document, Timestamp
from schemas.documents.people import SenderInfo

FileType = Literal["image", "video", "audio", "document"]
MediaStatus = Literal["uploading", "processing", "ready", "failed", "quarantined"]
STEP_NAMES = ("upload", "verification", "virusScan", "metadata", "thumbnails")  # in the order they run


class Step(BaseModel):
    """One processing step's outcome; a rerun of the task skips the steps that are ``done`` or ``skipped``."""
    status: Literal["pending", "done", "skipped", "failed"] = "pending"
    at: Timestamp | None = None
    result: str | None = None     # e.g. the virus scan's "clean", or why a step was skipped


class Variant(BaseModel):
    """A rendition the worker made (thumbnails): where it is, and what it is."""
    width: int
    height: int
    mimeType: str
    size: int
    key: str


class MediaLike(BaseModel):
    userId: str
    at: Timestamp


class MediaComment(BaseModel):
    id: str
    userId: str
    userInfo: SenderInfo
    content: str
    at: Timestamp


class MediaSource(BaseModel):
    """Where a copied file came from (a GIF send): the provider's file, fetched by the media worker, or a
    group's stored file (``library``: ``mediaId``), copied in S3. Kept private: clients never see the
    provider's URL."""
    provider: str                 # giphy, tenor, library
    id: str                       # the GIF id the sender chose ("giphy:<id>", "library:<mediaId>")
    url: str | None = None        # the provider's file (None for a library GIF)
    mediaId: str | None = None    # a library GIF: the stored file copied
    attempts: int = 0             # fetches that met a provider failing for now (bounded: then refused)


class MediaGif(BaseModel):
    """What a GIF message's file shows of its origin."""
    provider: str
    title: str = ""


class Media(Document):
    """A file of a conversation (seed 001 event_media): its upload, its processing, what others see of it."""
    convId: str
    groupId: str
    uploadedBy: str
    uploaderInfo: SenderInfo
    filename: str                 # safe to show and to download as
    originalFilename: str
    mimeType: str
    fileType: FileType
    fileSize: int
    status: MediaStatus = "uploading"
    processingSteps: dict[str, Step] = Field(default_factory=lambda: {n: Step() for n in STEP_NAMES})
    metadata: dict[str, Any] = Field(default_factory=dict)   # dimensions, exif, duration, codec, pages
    variants: dict[str, Variant] = Field(default_factory=dict)
    error: dict[str, str] | None = None                       # {code, message} when failed or quarantined
    caption: str | None = None
    albumId: str | None = None
    likes: list[MediaLike] = Field(default_factory=list)
    comments: list[MediaComment] = Field(default_factory=list)
    messageIds: list[str] = Field(default_factory=list)       # the messages it is attached to
    requeues: int = 0             # times the sweeper queued its processing again (once, then it fails it)
    key: str                                                   # the original's S3 key
    # GIFs (issue 25): absent on older documents. ``source``/``gif`` on a GIF send's copy; ``animated`` set
    # by the metadata step on a GIF/WebP of more than one frame (and a GIF's MP4).
    source: MediaSource | None = None
    gif: MediaGif | None = None
    animated: bool | None = None
    # Its lifecycle (docs/architecture.md, "Content lifecycle"): deleted by its uploader, a moderator, the
    # deletion of its message or retention; its S3 objects go MEDIA_DELETE_GRACE_MINUTES after
    # ``purgeQueuedAt`` (set at deletion; then unset, and ``purgedAt`` set).
    isDeleted: bool = False
    deletedAt: Timestamp | None = None
    deletedBy: str | None = None
    purgeQueuedAt: Timestamp | None = None
    purgedAt: Timestamp | None = None
    createdAt: Timestamp
    updatedAt: Timestamp

    def _private(self) -> set[str]:
        return {"key", "messageIds", "requeues", "purgeQueuedAt", "source"}

    def public(self) -> dict[str, Any]:
        out = super().public()
        out["variants"] = {name: {k: v for k, v in variant.items() if k != "key"}
                           for name, variant in out["variants"].items()}
        out["likeCount"], out["commentCount"] = len(self.likes), len(self.comments)
        return out

    def summary(self) -> dict[str, Any]:
        """What a message carries of each attached file (``metadata.files``); of a deleted file, only
        that it was there (status ``deleted``)."""
        if self.isDeleted:
            return deleted_file(self.id, self.fileType)
        out: dict[str, Any] = {"mediaId": self.id, "filename": self.filename, "mimeType": self.mimeType,
                               "fileType": self.fileType, "fileSize": self.fileSize, "status": self.status}
        for name in ("dimensions", "duration"):
            if name in self.metadata:
                out[name] = self.metadata[name]
        if self.variants:
            out["variants"] = {n: {"width": v.width, "height": v.height, "mimeType": v.mimeType, "size": v.size}
                               for n, v in self.variants.items()}
        if self.error:
            out["error"] = self.error
        if self.gif is not None:
            out["gif"] = self.gif.model_dump()
        if self.animated:
            out["animated"] = True
        return out


def deleted_file(media_id: str | None, file_type: str | None) -> dict[str, Any]:
    """A deleted file as the messages that carried it show it: that it was there, nothing of it."""
    return {"mediaId": media_id, "fileType": file_type, "status": "deleted"}


class Upload(Document):
    """A resumable upload in progress (seed 001 file_uploads); ``_id`` is the media's id. Expires (TTL) an
    hour after creation: the clean-up job aborts what S3 still holds of an abandoned one."""
    userId: str
    convId: str
    key: str
    s3UploadId: str
    size: int
    partSize: int
    partCount: int
    status: Literal["uploading", "completed", "cancelled"] = "uploading"
    createdAt: Timestamp
    completedAt: Timestamp | None = None
    expiresAt: Timestamp


class Album(Document):
    """A conversation's album (seed 001 media_albums)."""
    convId: str
    name: str
    description: str = ""
    coverMediaId: str | None = None
    mediaCount: int = 0
    totalSize: int = 0
    mediaTypes: list[str] = Field(default_factory=list)
    createdBy: str
    createdAt: Timestamp
    updatedAt: Timestamp
