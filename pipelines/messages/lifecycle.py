"""One lifecycle for content: a message, a file and a comment move visible -> deleted -> purged, and what
each move does to every reader (docs/architecture.md, "Content lifecycle").

- A message is deleted by the drain (``pipelines.messages.writer.InboxWriter.apply_change``), whoever
  asked: its author, a moderator, or a moderator's "delete" decision on a review item (which queues the
  same inbox entry).
  ``on_message_deleted`` then deletes its files, marks its replies' quotes deleted and redacts its
  notifications (dropping its pending reminders). ``on_message_edited`` rewrites its replies' quotes.
- A file is deleted on its own by its uploader or a group moderator (``do_delete_media``), with its message,
  or by retention (``retire_files``); ``purge_deleted_media`` (beat) deletes its S3 objects after a grace.
- A comment is deleted by its author or a group moderator (``do_delete_comment``); a file's purge takes its
  comments and likes with it.

Every step is a conditional update, so a redelivered task or a second deletion repeats nothing visible.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.blobs import Blobs
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.moderation.log import do_log_action
from pipelines.policy.access import check_conversation_member, check_may_moderate_content, check_owner, is_moderator
from pipelines.policy.rate_limits import RateLimits
from schemas.common import iso, utcnow
from schemas.documents import Media, Message, User, deleted_file, quote_excerpt
from schemas.errors import ApiError, Code

log = logging.getLogger(__name__)

MAX_ANNOUNCED_REPLIES = 200   # replies told message:updated per edit or deletion (all are rewritten)


# -- messages (the drain) -------------------------------------------------------------------------------
def on_message_edited(store: Store, notifier: Notifier, message: Message) -> None:
    """The replies' quotes show the parent's current text."""
    _requote(store, notifier, message.id, {"excerpt": quote_excerpt(message.content)}, message.updatedAt)


def on_message_deleted(store: Store, notifier: Notifier, message: Message) -> None:
    """What follows a message's deletion, for every reader: its files are deleted (unless another live
    message carries one), its replies' quotes say "original message deleted", its notifications lose
    their bodies and its pending reminders are dropped."""
    at = message.deletedAt or utcnow()
    media_ids = [f["mediaId"] for f in message.metadata.files or [] if f.get("mediaId")]
    for media in store.media.media_by_ids(media_ids).values():
        others = [m for m in media.messageIds if m != message.id]
        if others and store.messages.live_message_ids(others):
            continue  # (the same file attached to another message that is still there)
        delete_file(store, notifier, media, message.deletedBy, at, quiet=message.id)
    _requote(store, notifier, message.id, {"excerpt": "", "deleted": True}, at)
    dropped, redacted = store.notifications.redact_message_notifications(message.id, at)
    if dropped or redacted:
        log.info("message %s deleted: %d reminders dropped, %d notifications redacted", message.id, dropped, redacted)


def _requote(store: Store, notifier: Notifier, parent_id: str, quote: dict, at: datetime) -> None:
    for reply in store.messages.rewrite_quotes(parent_id, quote, at, limit=MAX_ANNOUNCED_REPLIES):
        notifier.notify_message_updated(reply)


# -- files ----------------------------------------------------------------------------------------------
def delete_file(store: Store, notifier: Notifier, media: Media, by: str | None, at: datetime, *,
                quiet: str | None = None) -> Media | None:
    """visible -> deleted, once: out of the gallery and its album, and each message carrying it shows it
    deleted (announced, but for ``quiet``: a message being deleted itself, whose files members no longer
    see). None when it already was deleted. (Its quota comes back when it is purged: its bytes are in S3
    until then.)"""
    deleted = store.media.mark_media_deleted(media.id, by, at)
    if deleted is None:
        return None
    if deleted.albumId:
        store.media.remove_from_album(deleted, at)
    with notifier.batch():
        for message_id in deleted.messageIds:
            message = store.messages.get_message(message_id)
            if message is None:
                continue
            files = [deleted.summary() if f.get("mediaId") == deleted.id else f for f in message.metadata.files or []]
            changed = store.messages.set_message_files(message_id, files, at)
            if changed is not None and message_id != quiet:
                notifier.notify_message_updated(changed)
    notifier.notify_media_updated(deleted)
    return deleted


def do_delete_media(store: Store, notifier: Notifier, user: User, media_id: str,
                    limits: RateLimits | None = None) -> None:
    """DELETE /api/media/{id}: the uploader, or a moderator of the group (recorded in the moderation log);
    within the user's deletion rate."""
    media, moderator = _deletable(store, user, media_id, limits)
    moderating = _check_may_delete(store, user, moderator, media, media.uploadedBy, "file")
    if media.status == "uploading":
        raise ApiError(Code.NOT_READY, f"this file is still uploading: cancel its upload (DELETE /api/uploads/{media.id})",
                       {"status": media.status})
    if delete_file(store, notifier, media, user.id, utcnow()) is not None and moderating:
        do_log_action(store, notifier, user, media.groupId, "media_deleted", "media", media.id,
                      target_name=media.uploaderInfo.username, changes={"filename": media.filename})


def do_delete_comment(store: Store, notifier: Notifier, user: User, media_id: str, comment_id: str,
                      limits: RateLimits | None = None) -> None:
    """DELETE /api/media/{id}/comments/{commentId}: its author, or a moderator of the group (logged); within
    the user's deletion rate."""
    media, moderator = _deletable(store, user, media_id, limits)
    comment = next((c for c in media.comments if c.id == comment_id), None)
    if comment is None:
        raise ApiError(Code.NOT_FOUND, f"no comment {comment_id} on this file")
    moderating = _check_may_delete(store, user, moderator, media, comment.userId, "comment")
    if store.media.delete_media_comment(media_id, comment_id) and moderating:
        do_log_action(store, notifier, user, media.groupId, "comment_deleted", "media", media.id,
                      target_name=comment.userInfo.username, changes={"commentId": comment_id})


def _check_may_delete(store: Store, user: User, moderator: bool, media: Media, author_id: str, what: str) -> bool:
    """Its author deletes it; else a moderator of the group who is not muted there and not outranked by the
    author (refusals logged). True when a moderator is deleting another's."""
    if author_id == user.id:
        return False
    if not moderator:
        check_owner(store, user, "media", media.id, author_id,
                    f"only its author, a moderator or an admin of the group can delete a {what}",
                    reason=f"deletion of another member's {what}")
    check_may_moderate_content(store, user, author_id, media.groupId, f"delete a {what} by")
    return True


def _deletable(store: Store, user: User, media_id: str, limits: RateLimits | None) -> tuple[Media, bool]:
    """A file that is still there, for a member of its conversation or a moderator of its group (who need
    not be a member, as for messages); and whether the user moderates the group."""
    media = found_media(store, media_id)
    moderator = is_moderator(store, user, media.groupId)
    if not moderator:
        check_conversation_member(store, user, media.convId)
    not_deleted(media)
    if limits is not None:
        limits.check(user.id, "delete")
    return media, moderator


def live_media(store: Store, user: User, media_id: str) -> Media:
    """A file of the user's conversation that is still there: every reader and writer of a file asks this
    (404 unknown, 403 not a member, 410 ``gone`` deleted)."""
    media = found_media(store, media_id)
    check_conversation_member(store, user, media.convId)
    return not_deleted(media)


def found_media(store: Store, media_id: str) -> Media:
    """The file, deleted or not (404 unknown)."""
    media = store.media.get_media(media_id)
    if media is None:
        raise ApiError(Code.NOT_FOUND, f"no media {media_id}")
    return media


def not_deleted(media: Media) -> Media:
    """The file, unless it was deleted (410 ``gone``)."""
    if media.isDeleted:
        raise ApiError(Code.GONE, "this file was deleted", {"deletedAt": iso(media.deletedAt)})
    return media


def purge_archived(docs: list[dict]) -> None:
    """Retention, on the stored messages about to move to the archive: a deleted message's content, edits
    and quote are purged for good, and every message's files show deleted (``retire_files`` deletes them)."""
    for d in docs:
        meta = d.setdefault("metadata", {})
        if d.get("isDeleted"):
            d["content"], d["editHistory"] = "", []
            meta.pop("quote", None)
        if meta.get("files"):
            meta["files"] = [deleted_file(f.get("mediaId"), f.get("fileType")) for f in meta["files"]]


def retire_files(store: Store, notifier: Notifier, docs: list[dict], at: datetime) -> int:
    """Retention, once ``docs`` left the live collection: their files are deleted (and purged after the grace
    like any other), unless a live message still carries one. How many were deleted."""
    ids = [f["mediaId"] for d in docs for f in (d.get("metadata") or {}).get("files") or [] if f.get("mediaId")]
    return sum(delete_file(store, notifier, media, None, at) is not None
               for media in store.media.media_by_ids(ids).values() if not store.messages.live_message_ids(media.messageIds))


# -- the purge (beat) -----------------------------------------------------------------------------------
@dataclass
class PurgeResult:
    purged: int = 0
    objects: int = 0


def purge_deleted_media(store: Store, blobs: Blobs, *, now: datetime, grace: timedelta, limit: int = 500
                        ) -> PurgeResult:
    """Delete the S3 objects (original and renditions) of files deleted at least ``grace`` ago, then mark
    them purged. The objects go first: a purge cut short is finished by the next run.

    A ready file's quota comes back here, once (with the conditional deleted -> purged): its bytes were held
    until now. A refused file's came back when it was refused; one deleted while processing gets it back
    from whichever end its processing reaches (refused: then; ready: here)."""
    result = PurgeResult()
    for media in store.media.media_due_for_purge(now - grace, limit):
        result.objects += blobs.delete_prefix(media.key.rsplit("/", 1)[0] + "/")
        purged = store.media.finish_media_purge(media.id, now)
        if purged is not None:
            result.purged += 1
            if purged.status == "ready":
                store.media.release_quota(purged.uploadedBy, purged.fileSize)
    return result
