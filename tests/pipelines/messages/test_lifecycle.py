"""The content lifecycle (pipelines.lifecycle): a message, a file and a comment go visible -> deleted ->
purged, and every reader honours the state. Through the real drain, the embedded store and MemoryBlobs."""
from __future__ import annotations

from datetime import timedelta

import pytest

from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bench.thumbnails import photo_jpeg
from pipelines.media import cleanup as media_cleanup
from pipelines.media import gallery
from pipelines.messages import lifecycle, reactions
from pipelines.messages.drain import drain_inbox
from pipelines.messages.history import read_history, search_messages
from pipelines.messages.submit import submit_change, submit_entry, submit_message
from pipelines.moderation import reviews
from pipelines.notifications import digests
from pipelines.notifications import stored as notifications
from pipelines.upkeep.retention import apply_retention, do_set_retention
from pipelines.policy.rate_limits import RateLimits
from schemas.common import new_id, utcnow
from schemas.documents import ConversationMember, Digest, GroupMember
from schemas.errors import ApiError, Code
from schemas.payloads import (AlbumCreate, HistoryWindow, IdPage, MessageSend, NotificationQuery, ReactionChange,
                              ReminderCreate, RetentionUpdate, ReviewDecision, SearchQuery)
from tests.conftest import make_user
from tests.pipelines.media.world import LIMITS, world  # noqa: F401 - the fixture

TTL = 30


@pytest.fixture
def chat(store, inbox, notifier, emitter, world):  # noqa: F811
    """alice, bob and a moderator (mod) in one conversation; alice's photo, processed, in an album."""
    w = world
    w.mod = make_user(store, "mod")
    now = utcnow()
    store.groups.insert_group_member(GroupMember(id=new_id(), groupId=w.conv.groupId, userId=w.mod.id, role="MODERATOR",
                                          joinedAt=now))
    w.store, w.inbox, w.notifier, w.emitter = store, inbox, notifier, emitter

    def send(who, client_id, content="", **kw):
        submit_message(store, inbox, lambda c: None, who, MessageSend(convId=w.conv.id, clientId=client_id,
                                                                      content=content, **kw))
        drain()
        return store.messages.find_message_by_client_id(w.conv.id, who.id, client_id)

    def drain():
        return drain_inbox(w.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)

    def delete(who, message_id):
        submit_change(store, inbox, lambda c: None, who, message_id)
        return drain()

    def photo(who=None):
        created = w.upload(photo_jpeg((400, 300)), "image/jpeg", who=who or w.alice)
        assert w.finish(created["id"], who=who or w.alice).status == "ready"
        return created["id"]

    w.send, w.drain, w.delete, w.photo = send, drain, delete, photo
    return w


def _refused(code, fn, *args, **kw):
    with pytest.raises(ApiError) as err:
        fn(*args, **kw)
    assert err.value.code == code, err.value
    return err.value


def _keys(w, media_id):
    return sorted(w.blobs.keys(f"media/{w.conv.id}/{media_id}/"))


def test_deleting_a_message_removes_its_files_from_every_reader(store, chat):
    w = chat
    media_id = w.photo()
    album = gallery.do_create_album(store, w.alice, w.conv.id, AlbumCreate(name="trip"))
    gallery.do_add_to_album(store, w.alice, album.id, media_id)
    message = w.send(w.alice, "photo", "look", attachments=[media_id])
    gallery.do_comment(store, w.bob, media_id, "nice")
    used = store.db.upload_usage.find_one({"_id": w.alice.id})["bytes"]
    assert used > 0 and len(_keys(w, media_id)) == 3  # original, small, large

    w.delete(w.alice, message.id)
    assert store.db.upload_usage.find_one({"_id": w.alice.id})["bytes"] == used   # held until the purge

    page = read_history(store, w.bob, w.conv.id, HistoryWindow(before=None, after=None, limit=50))
    [shown] = [m.public() for m in page.messages if m.id == message.id]
    assert shown["isDeleted"] and shown["content"] == "" and "files" not in shown["metadata"]
    # (stored: what the moderation view and moderators' exports show of it)
    assert store.messages.get_message(message.id).metadata.files == [{"mediaId": media_id, "fileType": "image",
                                                              "status": "deleted"}]
    assert gallery.gallery(store, w.bob, w.conv.id, None, IdPage(None, 50))["media"] == []
    [listed] = gallery.list_albums(store, w.bob, w.conv.id, IdPage(None, 50))["albums"]
    assert listed["mediaCount"] == 0 and listed["totalSize"] == 0 and listed["coverMediaId"] is None
    for variant in ("original", "small", "large"):
        _refused(Code.GONE, gallery.content_url, store, w.blobs, LIMITS, w.bob, media_id, variant)
    _refused(Code.GONE, gallery.get_media, store, w.bob, media_id)
    _refused(Code.GONE, gallery.do_like, store, w.bob, media_id, True)
    _refused(Code.GONE, gallery.do_comment, store, w.bob, media_id, "still?")
    _refused(Code.GONE, gallery.do_add_to_album, store, w.alice, album.id, media_id)
    _refused(Code.FORBIDDEN, gallery.get_media, store, w.eve, media_id)  # outsiders learn nothing of it
    # A redelivered deletion changes nothing.
    before = len(w.emitter.of("message:updated"))
    lifecycle.on_message_deleted(store, w.notifier, store.messages.get_message(message.id))
    assert len(w.emitter.of("message:updated")) == before and store.media.get_media(media_id).deletedAt is not None
    # A send may no longer carry it.
    _refused(Code.GONE, w.send, w.alice, "again", "", attachments=[media_id])


def test_the_objects_are_purged_after_the_grace_and_the_clean_up_waits_for_it(store, chat):
    w = chat
    media_id = w.photo()
    message = w.send(w.alice, "photo", attachments=[media_id])
    used = store.db.upload_usage.find_one({"_id": w.alice.id})["bytes"]
    w.delete(w.alice, message.id)
    deleted_at = store.media.get_media(media_id).deletedAt
    grace = timedelta(minutes=5)
    # Within the grace neither the purge nor the orphan clean-up touches the objects.
    assert lifecycle.purge_deleted_media(store, w.blobs, now=deleted_at + timedelta(minutes=4), grace=grace).purged == 0
    media_cleanup.do_cleanup(store, w.blobs, now=deleted_at + timedelta(minutes=4))
    assert len(_keys(w, media_id)) == 3
    result = lifecycle.purge_deleted_media(store, w.blobs, now=deleted_at + grace, grace=grace)
    assert (result.purged, result.objects) == (1, 3) and _keys(w, media_id) == []
    # The bytes it held come back with its objects, once.
    held = used - store.media.get_media(media_id).fileSize
    assert store.db.upload_usage.find_one({"_id": w.alice.id})["bytes"] == held
    doc = store.media.get_media(media_id)
    assert doc.purgedAt is not None and doc.purgeQueuedAt is None and doc.comments == [] and doc.variants == {}
    assert lifecycle.purge_deleted_media(store, w.blobs, now=deleted_at + grace * 2, grace=grace).purged == 0
    assert store.db.upload_usage.find_one({"_id": w.alice.id})["bytes"] == held
    _refused(Code.GONE, gallery.content_url, store, w.blobs, LIMITS, w.bob, media_id, "original")


def test_a_moderators_delete_decision_on_a_report_does_exactly_the_same(store, chat):
    w = chat
    media_id = w.photo(w.bob)  # a member's (a moderator may not decide on a group admin's message)
    message = w.send(w.bob, "photo", "offensive", attachments=[media_id])
    reply = w.send(w.alice, "reply", "what?", replyTo=message.id)
    item = reviews.do_report(store, w.notifier, w.alice, message.id, "offensive")
    reviews.do_decide(store, lambda r: None, w.mod, item.id, ReviewDecision(decision="delete"))
    reviews.do_apply_decision(store, w.notifier, lambda conv_id, entry: submit_entry(w.inbox, lambda c: None, conv_id,
                                                                                      entry), item.id)
    assert w.drain().changed == 1
    assert store.messages.get_message(message.id).isDeleted and store.media.get_media(media_id).isDeleted
    assert store.messages.get_message(reply.id).metadata.quote.deleted
    assert store.messages.get_message(reply.id).metadata.quote.excerpt == ""
    assert [a for a in _log_actions(store, w) if a.endswith("deleted")] == ["review_deleted"]  # logged once


def _log_actions(store, w):
    return [e.action for e in store.audit.moderation_log(w.conv.groupId, before=None, limit=50)[0]]


def test_a_moderators_own_deletion_of_a_members_message_is_logged_and_an_authors_is_not(store, chat):
    w = chat
    store.conversations.insert_conversation_member(ConversationMember(id=new_id(), convId=w.conv.id, userId=w.mod.id,
                                                        groupId=w.conv.groupId, joinedAt=utcnow()))
    own, other = w.send(w.bob, "own", "mine"), w.send(w.bob, "other", "rude")
    w.delete(w.bob, own.id)
    assert "message_deleted" not in _log_actions(store, w)
    w.delete(w.mod, other.id)
    [entry] = [e.moderation_entry() for e in store.audit.moderation_log(w.conv.groupId, before=None, limit=50)[0]
               if e.action == "message_deleted"]
    assert (entry["actorName"], entry["targetId"], entry["targetName"]) == ("mod", other.id, "bob")


def test_a_replys_quote_follows_its_parent_edited_then_deleted(store, chat):
    w = chat
    parent = w.send(w.alice, "p", "the first version")
    old_reply = w.send(w.bob, "r1", "agreed", replyTo=parent.id)
    assert old_reply.metadata.quote.excerpt == "the first version"

    submit_change(store, w.inbox, lambda c: None, w.alice, parent.id, content="the second version")
    w.drain()
    assert store.messages.get_message(old_reply.id).metadata.quote.excerpt == "the second version"
    updated = [d for d, _ in w.emitter.of("message:updated") if d["id"] == old_reply.id]
    assert updated[-1]["metadata"]["quote"] == {**updated[-1]["metadata"]["quote"], "excerpt": "the second version"}

    w.delete(w.alice, parent.id)
    quote = store.messages.get_message(old_reply.id).metadata.quote
    assert (quote.deleted, quote.excerpt) == (True, "")
    announced = [d for d, _ in w.emitter.of("message:updated") if d["id"] == old_reply.id][-1]
    assert announced["metadata"]["quote"]["deleted"] is True and "version" not in str(announced)
    # A reply sent after the deletion (the composer had it open) carries no text of it either.
    late = w.send(w.bob, "r2", "wait, what did it say?", replyTo=parent.id)
    assert late.metadata.quote.deleted and late.metadata.quote.excerpt == "" and late.metadata.replyTo == parent.id
    # Nor does search, or the history, anywhere.
    found = search_messages(store, w.bob, w.conv.id, SearchQuery(text="version", before=None, limit=20))
    assert found.messages == []
    page = read_history(store, w.bob, w.conv.id, HistoryWindow(before=None, after=None, limit=50))
    assert "version" not in str([m.public() for m in page.messages])
    # A redelivered deletion announces nothing again.
    before = len(w.emitter.of("message:updated"))
    lifecycle.on_message_deleted(store, w.notifier, store.messages.get_message(parent.id))
    assert len(w.emitter.of("message:updated")) == before


def test_a_deletion_cut_short_is_finished_by_the_redelivered_entry(store, chat):
    """The drain wrote the deletion and died before its effects: the entry comes again and finishes them."""
    w = chat
    media_id = w.photo()
    message = w.send(w.alice, "photo", "x", attachments=[media_id])
    reply = w.send(w.bob, "r", "y", replyTo=message.id)
    submit_change(store, w.inbox, lambda c: None, w.alice, message.id)
    store.messages.delete_message(message.id, w.alice.id, utcnow())   # the write happened; nothing after it did
    assert w.drain().changed == 0
    assert store.media.get_media(media_id).isDeleted and store.messages.get_message(reply.id).metadata.quote.deleted


def test_notifications_are_redacted_and_reminders_never_fire_for_a_deleted_message(store, chat):
    w = chat
    parent = w.send(w.bob, "p", "the secret plan")
    reply = w.send(w.alice, "r", "@bob the secret answer", replyTo=parent.id)
    notifications.notify_from_messages(store, w.notifier, w.conv.id, [reply.id], now=utcnow(), ttl_days=TTL,
                                       default_delay=5, is_online=None, email_enabled=False)
    now = utcnow()
    reminder = notifications.do_create_reminder(store, w.bob, reply.id, ReminderCreate(
        at=(now + timedelta(minutes=5)).isoformat()), now=now, max_days_ahead=365, ttl_days=TTL)
    [told] = [n for n in store.db.notifications.find({"userId": w.bob.id, "type": {"$ne": "reminder"}})]
    assert "secret answer" in told["body"]

    w.delete(w.alice, reply.id)

    doc = store.db.notifications.find_one({"_id": told["_id"]})
    assert doc["body"] == "" and doc["data"]["deleted"] is True
    listed = notifications.list_notifications(store, w.bob, NotificationQuery("all", IdPage(None, 50)), utcnow())
    assert "secret" not in str(listed)
    assert store.notifications.get_notification(reminder.id) is None   # dropped: nothing fires
    later = now + timedelta(minutes=6)
    assert notifications.dispatch_due_reminders(store, w.notifier, now=later, lease_seconds=30).reminders == 0
    _refused(Code.GONE, notifications.do_create_reminder, store, w.bob, reply.id,
             ReminderCreate(at=(now + timedelta(minutes=5)).isoformat()), now=now, max_days_ahead=365, ttl_days=TTL)
    # One written by a dispatcher racing the deletion is dropped when due, not sent.
    store.db.notifications.insert_one({**reminder.model_copy(update={"id": new_id(), "key": "late"}).to_mongo()})
    result = notifications.dispatch_due_reminders(store, w.notifier, now=later, lease_seconds=30)
    assert (result.reminders, result.dropped) == (0, 1)
    assert [d for d, _ in w.emitter.of("notification:new") if d["type"] == "reminder"] == []


def test_a_deleted_message_never_reaches_an_email_digest(store, chat):
    w = chat
    t0 = utcnow()
    mention = w.send(w.alice, "m", "@bob the secret")
    notifications.notify_from_messages(store, w.notifier, w.conv.id, [mention.id], now=t0, ttl_days=TTL,
                                       default_delay=5, is_online=None, email_enabled=False)
    digest = Digest(id="d", userId=w.bob.id, since=t0 - timedelta(minutes=1), upTo=t0 + timedelta(minutes=1),
                    createdAt=t0, updatedAt=t0)
    assert [i.text for i in digests.collect_items(store, w.bob, digest, 5, t0)] == ["@bob the secret"]
    w.delete(w.alice, mention.id)
    assert digests.collect_items(store, w.bob, digest, 5, t0) == []


def test_reacting_to_a_deleted_message_is_refused(store, chat):
    w = chat
    message = w.send(w.alice, "m", "hello")
    w.delete(w.alice, message.id)
    _refused(Code.GONE, reactions.do_react, store, w.notifier, w.bob, ReactionChange(messageId=message.id, emoji="👍"),
             True)
    assert store.messages.get_message(message.id).reactions == []


def test_a_file_is_deleted_on_its_own_by_its_uploader_or_a_moderator(store, chat):
    w = chat
    mine, theirs = w.photo(w.bob), w.photo(w.bob)
    message = w.send(w.bob, "two", "both", attachments=[mine, theirs])
    _refused(Code.FORBIDDEN, lifecycle.do_delete_media, store, w.notifier, w.eve, mine)   # not a member
    store.db.group_members.update_one({"groupId": w.conv.groupId, "userId": w.alice.id}, {"$set": {"role": "MEMBER"}})
    _refused(Code.FORBIDDEN, lifecycle.do_delete_media, store, w.notifier, w.alice, mine)  # another's file
    assert store.db.activity_logs.count_documents({"userId": w.alice.id, "action": "denied", "resourceId": mine,
                                                "metadata.reason": "deletion of another member's file"}) == 1
    assert not store.media.get_media(mine).isDeleted

    lifecycle.do_delete_media(store, w.notifier, w.bob, mine)
    files = store.messages.get_message(message.id).metadata.files
    assert files[0] == {"mediaId": mine, "fileType": "image", "status": "deleted"} and files[1]["status"] == "ready"
    shown = [d for d, _ in w.emitter.of("message:updated") if d["id"] == message.id][-1]
    assert shown["metadata"]["files"][0]["status"] == "deleted" and "photo.jpg" not in str(shown["metadata"]["files"][0])
    _refused(Code.GONE, lifecycle.do_delete_media, store, w.notifier, w.bob, mine)
    uploading = w.upload(b"%PDF-1.4\n", "application/pdf", name="half.pdf", who=w.bob)["id"]
    _refused(Code.NOT_READY, lifecycle.do_delete_media, store, w.notifier, w.bob, uploading)  # cancel it instead

    limits = RateLimits(MovingWindowRateLimiter(MemoryStorage()), {"delete": "1/minute"})
    lifecycle.do_delete_media(store, w.notifier, w.mod, theirs, limits)
    third = w.photo(w.bob)
    err = _refused(Code.RATE_LIMITED, lifecycle.do_delete_media, store, w.notifier, w.mod, third, limits)
    assert err.details["retryAfter"] >= 1 and not store.media.get_media(third).isDeleted
    [entry] = [e.moderation_entry() for e in store.audit.moderation_log(w.conv.groupId, before=None, limit=10)[0]
               if e.action == "media_deleted"]
    assert entry["actorName"] == "mod" and entry["targetId"] == theirs and entry["targetName"] == "bob"
    assert [f["status"] for f in store.messages.get_message(message.id).metadata.files] == ["deleted", "deleted"]
    assert not store.messages.get_message(message.id).isDeleted   # the message keeps its text


def test_a_comment_is_deleted_by_its_author_or_a_moderator(store, chat):
    w = chat
    media_id = w.photo()
    w.send(w.alice, "photo", attachments=[media_id])
    first = gallery.do_comment(store, w.alice, media_id, "mine")
    second = gallery.do_comment(store, w.bob, media_id, "rude")
    _refused(Code.FORBIDDEN, lifecycle.do_delete_comment, store, w.notifier, w.bob, media_id, first["id"])
    _refused(Code.NOT_FOUND, lifecycle.do_delete_comment, store, w.notifier, w.bob, media_id, "nope")
    lifecycle.do_delete_comment(store, w.notifier, w.alice, media_id, first["id"])
    lifecycle.do_delete_comment(store, w.notifier, w.mod, media_id, second["id"])
    assert store.media.get_media(media_id).comments == []
    logged = [e.moderation_entry() for e in store.audit.moderation_log(w.conv.groupId, before=None, limit=10)[0]]
    assert [(e["action"], e["targetName"]) for e in logged if e["action"] == "comment_deleted"] == [
        ("comment_deleted", "bob")]   # the moderator's, not the author's own


def test_retention_purges_deleted_content_and_the_archived_messages_files(store, chat):
    w = chat
    media_id = w.photo()
    old = w.send(w.alice, "old", "a photo", attachments=[media_id])
    gone = w.send(w.bob, "gone", "regrettable words")
    w.delete(w.bob, gone.id)
    w.send(w.alice, "new", "the newest stays")
    do_set_retention(store, w.alice, w.conv.groupId, RetentionUpdate(days=1, maxMessages=None), utcnow())
    result = apply_retention(store, w.notifier, now=utcnow() + timedelta(days=2))
    assert result.archived[w.conv.id] == 2 and result.files == 1
    archived = {d["_id"]: d for d in store.db.messages_archive.find({"convId": w.conv.id})}
    assert archived[gone.id]["content"] == "" and archived[gone.id]["isDeleted"]
    assert archived[old.id]["metadata"]["files"] == [{"mediaId": media_id, "fileType": "image", "status": "deleted"}]
    assert store.media.get_media(media_id).isDeleted
    _refused(Code.GONE, gallery.content_url, store, w.blobs, LIMITS, w.bob, media_id, "original")


def test_a_moderator_deletes_no_file_or_comment_of_a_group_admin(store, chat):
    w = chat
    admins = w.photo()  # alice is the group's admin
    gallery.do_comment(store, w.alice, admins, "my comment")
    comment_id = store.media.get_media(admins).comments[0].id
    _refused(Code.OUTRANKED, lifecycle.do_delete_media, store, w.notifier, w.mod, admins)
    _refused(Code.OUTRANKED, lifecycle.do_delete_comment, store, w.notifier, w.mod, admins, comment_id)
    assert not store.media.get_media(admins).isDeleted and len(store.media.get_media(admins).comments) == 1
    denied = [e for e in store.db.activity_logs.find({"userId": w.mod.id, "action": "denied"})]
    assert [e["metadata"]["reason"] for e in denied] == ["outranked", "outranked"]
