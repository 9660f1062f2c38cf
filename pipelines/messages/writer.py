"""Storing a claimed batch of one conversation's inbox: sends take the next seq (exactly once, see
pipelines.messages.drain), edits and deletions apply in order with them, and the content filter screens
both before anything is stored or announced."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import pymongo

from infra.metrics import BROADCAST_SECONDS, DRAIN_LAG_SECONDS, STORE_SECONDS
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.media.attachments import attach_to_message, message_type
from pipelines.messages.lifecycle import on_message_deleted, on_message_edited
from pipelines.messages.search import search_fields
from pipelines.messages.submit import REVIEW_DELETE
from pipelines.moderation.filters import RuleSet, Verdict
from pipelines.moderation.log import do_log_action
from pipelines.moderation.screening import Screening, blocked_reason, hits_of
from schemas.common import iso, new_id, utcnow
from schemas.documents import ConversationMember, Message, MessageMetadata, Quote, SenderInfo, User
from schemas.errors import Code
from schemas.events import MessageRejected
from schemas.tasks import InboxEntry, ReviewRequest

log = logging.getLogger(__name__)


class TransientError(Exception):
    """Worth retrying later (a race lost, a service briefly away)."""


@dataclass
class DrainResult:
    """What one drain did (``drain_inbox`` returns it; the writer counts into it)."""
    conv_id: str
    locked_out: bool = False     # another worker was draining: it will see our entries
    stored: list[int] = field(default_factory=list)   # seqs stored by this drain
    duplicates: int = 0          # entries whose message was already stored (retry or redelivery)
    rejected: int = 0
    continued: bool = False      # the time budget ran out; a follow-up task was enqueued
    changed: int = 0             # edits and deletes applied
    held: int = 0                # sends and edits held for a moderator (review items, not messages)


class InboxWriter:
    """Stores one conversation's inbox entries, batch by batch, for one lock holding: the conversation's
    state and per-drain caches, so a burst from one sender costs one conversation, user and membership
    lookup, however many batches it takes."""

    def __init__(self, conv_id: str, store: Store, notifier: Notifier, result: DrainResult,
                 keep_lock: Callable[[], None], screening: Screening | None = None) -> None:
        self.conv_id, self.store, self.notifier, self.result, self.keep_lock = conv_id, store, notifier, result, keep_lock
        self.screening = screening
        self.rules: RuleSet | None = None  # the group's compiled filter rules, current as of this batch
        self.reviews: list[ReviewRequest] = []  # this batch's review requests, queued together after it
        conv = store.conversations.get_conversation(conv_id)
        self.conv_exists = conv is not None
        self.group_id = conv.groupId if conv else None
        self.seq = conv.lastSeq if conv else 0
        # lastSeq moves only once a batch's events are published: every seq up to it was announced.
        # Past it, a stored message was announced only if this drain did it (``announced``).
        self.announced_upto = self.seq
        self.announced: set[int] = set()
        self.users: dict[str, User | None] = {}
        self.members: dict[str, ConversationMember | None] = {}
        # Notifications (pipelines.notifications): set by drain_inbox; ``direct`` read once per drain.
        self.on_stored: Callable[[str, list[str]], None] | None = None
        self._direct: bool | None = None
        # When each message of the batch was stored (perf_counter), for its broadcast latency.
        self.stored_at: list[float] = []

    def notify_stored(self, messages: list[Message]) -> None:
        """One task per batch, ids only: mentions, replies, and a direct conversation's messages."""
        if self.on_stored is None or not messages:
            return
        if self._direct is None:
            self._direct = len(self.store.conversations.conversation_members_of(self.conv_id, 3)) == 2
        ids = [m.id for m in messages if m.type != "system" and
               (self._direct or m.metadata.mentions or m.metadata.replyTo)]
        if ids:
            try:
                self.on_stored(self.conv_id, ids)
            except Exception:  # noqa: BLE001 - the messages are stored and announced; notifications are extra
                log.exception("could not queue the notifications of %d messages of %s", len(ids), self.conv_id)

    def screen(self, entry: InboxEntry) -> Verdict | None:
        """The content filter's verdict on a send or an edit; None when clean, when the group has no rule,
        or when a moderator approved this entry. ``block`` and ``hold`` keep it from being stored at all;
        ``mask`` and ``flag`` store it (masked); ``flag`` opens a review item, and so does ``mask`` in a group
        that reviews masks (its setting ``reviewMasks``)."""
        if self.rules is None or entry.approvedBy or entry.kind not in ("send", "edit"):
            return None
        verdict = self.rules.scan(entry.content)
        return verdict if verdict.action else None

    def withhold(self, entry: InboxEntry, verdict: Verdict) -> None:
        """A blocked or held send or edit: nothing stored, nothing announced to the room."""
        if verdict.action == "block":
            self.result.rejected += 1
            hit = next(h for h in verdict.hits if h.action == "block")
            self.notifier.notify_message_rejected(entry.senderId, MessageRejected(
                clientId=entry.clientId, convId=self.conv_id, code=Code.CONTENT_BLOCKED, reason=blocked_reason(verdict),
                messageId=entry.messageId, details={"match": hit.match, "filterId": hit.rule_id}))
            self.screening.record_block(self.group_id, self.conv_id, entry.senderId, entry.clientId, hit.match)
        else:
            self.result.held += 1
            self.review("held", entry, verdict, entry.messageId)

    def review(self, kind: str, entry: InboxEntry, verdict: Verdict, message_id: str | None) -> None:
        """Ask for the review item (moderation worker): for ``held``, the text is kept there only."""
        self.reviews.append(ReviewRequest(
            kind=kind, groupId=self.group_id, convId=self.conv_id, senderId=entry.senderId, clientId=entry.clientId,
            content=entry.content, messageId=message_id, edit=entry.kind == "edit", replyTo=entry.replyTo,
            receivedAt=entry.receivedAt, hits=hits_of(verdict)))

    def apply_change(self, entry: InboxEntry) -> None:
        """An edit or a deletion, whoever asked (the author, a moderator, a review's decision); what follows
        for the replies' quotes, the files and the notifications is pipelines.messages.lifecycle's."""
        now = utcnow()
        verdict = self.screen(entry)
        if verdict is not None and verdict.action in ("block", "hold"):
            self.withhold(entry, verdict)
            return
        if entry.kind == "edit":
            text = verdict.masked if verdict else entry.content
            changed = self.store.messages.edit_message(entry.messageId, text, now,
                                                       search_fields(text, "text", self.sender(entry.senderId)),
                                                       masked=text != entry.content)
        else:
            changed = self.store.messages.delete_message(entry.messageId, entry.senderId, now)
        if changed is not None:  # None: already applied (a redelivery) or deleted meanwhile
            self.result.changed += 1
            self.notifier.notify_message_updated(changed)
            if verdict is not None and verdict.review:
                self.review("filter", entry, verdict, changed.id)
            if changed.isDeleted and entry.senderId != changed.senderId and not entry.clientId.startswith(REVIEW_DELETE):
                # A moderator deleted a member's message (a review's decision is logged as review_deleted).
                do_log_action(self.store, self.notifier, self.sender(entry.senderId), self.group_id, "message_deleted",
                              "message", changed.id, target_name=changed.senderInfo.username,
                              once=f"message_deleted:{changed.id}")
        # What follows runs again on a redelivery (a drain may have died between the change and this):
        # each step changes only what is not so yet, and announces only what it changed.
        current = changed or self.store.messages.get_message(entry.messageId)
        if current is not None and current.isDeleted:
            on_message_deleted(self.store, self.notifier, current)
        elif current is not None and entry.kind == "edit":
            on_message_edited(self.store, self.notifier, current)

    def sender(self, user_id: str) -> User | None:
        if user_id not in self.users:
            self.users[user_id] = self.store.users.get_user(user_id)
        return self.users[user_id]

    def member(self, user_id: str) -> ConversationMember | None:
        if user_id not in self.members:
            self.members[user_id] = self.store.conversations.get_conversation_member(self.conv_id, user_id)
        return self.members[user_id]

    def recheck_senders(self, stored: dict[str, list[Message]]) -> None:
        """Correct the senderInfo just stored if the sender's profile changed since it was read.

        A profile change that lands between our read of the sender and our insert may have been synced
        (pipelines.people.profiles) before the insert, which would leave it stale for good. Re-reading after the
        insert closes that gap: either the change came first and we see it here, or it came after this read,
        and its own sync task, enqueued later still, will find our messages. We re-read after writing until
        the profile holds still, so our correction cannot itself overwrite a newer sync.
        """
        for user_id, messages in stored.items():
            first = messages[0].senderInfo  # (a message found already stored may carry another one)
            written = first if all(m.senderInfo == first for m in messages) else None
            while (user := self.store.users.get_user(user_id)) is not None and SenderInfo.of(user) != written:
                written = SenderInfo.of(user)
                self.store.messages.set_sender_info([m.id for m in messages], written)
            self.users[user_id] = user

    def store_entries(self, entries: list[tuple[str, InboxEntry]]) -> None:
        """Store a claimed batch in inbox order and announce it; then queue its reviews and move lastSeq."""
        last_at = None
        stored: dict[str, list[Message]] = {}  # author -> their messages stored in this batch, in order
        _observe_lag(entries)
        if self.screening is not None and self.conv_exists:
            # Read after the batch was claimed: any send accepted after a rule change meets the new rules.
            self.rules = self.screening.cache.rules_for(self.group_id)
        # Events leave in one round trip once the batch is stored: the database is the source of truth.
        with self.notifier.batch():
            for _, entry in entries:
                self.keep_lock()
                if entry.kind in ("edit", "delete"):
                    self.apply_change(entry)
                    continue
                existing = self.store.messages.find_message_by_client_id(self.conv_id, entry.senderId, entry.clientId)
                if existing is not None:
                    last_at = self.repeat(entry, existing, last_at)
                    continue
                message = self.store_send(entry)
                if message is not None:
                    last_at = message.createdAt
                    stored.setdefault(message.senderId, []).append(message)
            if stored:
                self.recheck_senders(stored)
        # The batch's message:new left for the message queue as the block ended.
        published, stored_at, self.stored_at = time.perf_counter(), self.stored_at, []
        for at in stored_at:
            BROADCAST_SECONDS.observe(published - at)
        self.finish_batch(stored, last_at)

    def repeat(self, entry: InboxEntry, existing: Message, last_at: datetime | None) -> datetime | None:
        """A client retry or a redelivery: store nothing. The room hears it only if nobody announced it yet
        (a drain died between storing and publishing); otherwise only the retrying sender is answered, so
        that it can reconcile its pending copy. Returns the batch's last message time."""
        self.result.duplicates += 1
        self.seq = max(self.seq, existing.seq)
        if existing.seq > self.announced_upto and existing.seq not in self.announced:
            self.announced.add(existing.seq)
            self.notifier.notify_message_new(existing)
            if (verdict := self.screen(entry)) is not None and verdict.review:  # its review may not have been queued
                self.review("filter", entry, verdict, existing.id)
            return max(last_at or existing.createdAt, existing.createdAt)  # lastSeq catches up
        self.notifier.notify_message_to_sender(existing, entry.sid)
        return last_at

    def store_send(self, entry: InboxEntry) -> Message | None:
        """A send or a system message: stored with the next seq and announced, unless it is refused (the
        sender can no longer send) or withheld by the filter (None)."""
        sender = self.sender(entry.senderId)
        problem = _rejection(self, sender, entry)
        if problem:
            self.result.rejected += 1
            self.notifier.notify_message_rejected(entry.senderId, MessageRejected(
                clientId=entry.clientId, convId=self.conv_id, code=problem[0], reason=problem[1]))
            return None
        verdict = self.screen(entry)
        if verdict is not None and verdict.action in ("block", "hold"):
            self.withhold(entry, verdict)
            return None
        written = entry.model_copy(update={"content": verdict.masked}) if verdict else entry
        masked = written.content != entry.content
        message = _insert(self.store, self.conv_id, self.seq + 1, written, sender, masked=masked)
        self.stored_at.append(time.perf_counter())
        # Both clocks are wall clocks (the web process's, this worker's): a skew shows as 0, never below.
        STORE_SECONDS.observe(max(0.0, time.time() - entry.receivedAt.timestamp()))
        if entry.attachments:
            attach_to_message(self.store, self.notifier, message, entry.attachments)
        if verdict is not None and verdict.review:  # reviewed with the original text
            self.review("filter", entry, verdict, message.id)
        self.seq = message.seq
        self.result.stored.append(self.seq)
        self.announced.add(message.seq)
        self.notifier.notify_message_new(message)
        for user_id in message.metadata.mentions or ():
            self.notifier.notify_mention(user_id, message)
        return message

    def finish_batch(self, stored: dict[str, list[Message]], last_at: datetime | None) -> None:
        if self.reviews:
            # One task for the batch's review requests: a publish per hit costs the server CPU in
            # proportion to the hits. Queued after the writes; a drain dying before this point is
            # redelivered and asks again (see ``repeat``), and opening is idempotent.
            self.screening.open_reviews(self.reviews)
            self.reviews = []
        # The batch's events are out (store_entries published them): only now may lastSeq move, so that
        # it also marks what was announced. A drain that dies before this leaves lastSeq behind, and the
        # next one announces what it finds stored past it.
        if last_at is not None:
            self.store.conversations.advance_conversation(self.conv_id, self.seq, last_at)
            # Authors have read what they wrote: their own messages never count as unread.
            for author_id, theirs in stored.items():
                self.store.conversations.advance_read_mark(self.conv_id, author_id, theirs[-1].seq, last_at)
        self.notify_stored([m for theirs in stored.values() for m in theirs])


def _observe_lag(entries: list[tuple[str, InboxEntry]]) -> None:
    """How long each entry of a claimed batch waited in the inbox (accepted -> taken by a drain)."""
    now = time.time()
    for _, entry in entries:
        DRAIN_LAG_SECONDS.observe(max(0.0, now - entry.receivedAt.timestamp()))


def _rejection(drain: InboxWriter, sender: User | None, entry: InboxEntry) -> tuple[str, str] | None:
    # The front checked all of this at accept time; it can have changed while the send was queued.
    if not drain.conv_exists:
        return Code.NOT_FOUND, "the conversation no longer exists"
    if entry.kind == "system":
        return None  # written by the server about its members: the actor may have just left
    if sender is None or not sender.active:
        return Code.FORBIDDEN, "the sender's account is no longer active"
    member = drain.member(entry.senderId)
    if member is None:
        return Code.NOT_A_MEMBER, "the sender is no longer a member of the conversation"
    if member.mutedUntil is not None and member.mutedUntil > utcnow():
        return Code.MUTED, f"the sender is muted in this group until {iso(member.mutedUntil)}"
    return None


MAX_MENTIONS = 256  # names looked up per message (each a point read); a larger group needs @here-style mentions
MENTION = re.compile(r"(?<![\w@])@([a-z0-9_.-]{2,32})", re.IGNORECASE)


def find_mentions(store: Store, conv_id: str, content: str, sender_id: str) -> list[str]:
    """Ids of the conversation's members named as @username in the text (never trusted from the client)."""
    names = {m.lower().rstrip(".") for m in MENTION.findall(content)}
    if not names:
        return []
    users = store.users.users_by_usernames(sorted(names)[:MAX_MENTIONS])
    return sorted(u.id for u in users.values()
                  if u.id != sender_id and store.conversations.get_conversation_member(conv_id, u.id) is not None)


def _insert(store: Store, conv_id: str, seq: int, entry: InboxEntry, sender: User, *,
            masked: bool = False) -> Message:
    now = utcnow()
    files = None
    if entry.kind == "system":
        metadata = MessageMetadata(systemAction=entry.systemAction, systemData=entry.systemData)
    else:
        parent = store.messages.get_message(entry.replyTo) if entry.replyTo else None
        # (a deleted parent's quote carries no text: Quote.of)
        quote = Quote.of(parent) if parent is not None and parent.convId == conv_id else None
        if entry.attachments:
            found = store.media.media_by_ids(entry.attachments)
            files = [found[i].summary() for i in entry.attachments if i in found] or None
        metadata = MessageMetadata(replyTo=entry.replyTo if quote else None, quote=quote, files=files,
                                   mentions=find_mentions(store, conv_id, entry.content, entry.senderId) or None,
                                   masked=masked or None)
    kind = message_type(files) if files else entry.type
    message = Message(id=new_id(), convId=conv_id, seq=seq, clientId=entry.clientId, senderId=entry.senderId,
                      senderInfo=SenderInfo.of(sender), type=kind, content=entry.content, metadata=metadata,
                      createdAt=entry.receivedAt, updatedAt=now, **search_fields(entry.content, kind, sender))
    try:
        store.messages.insert_message(message)
        return message
    except pymongo.errors.DuplicateKeyError:
        pass
    # The conversation's lastSeq was behind the messages (a drain died between storing and recording
    # it) or another drainer outlived its lock. Re-read the truth from the messages and try once more.
    existing = store.messages.find_message_by_client_id(conv_id, entry.senderId, entry.clientId)
    if existing is not None:
        return existing
    message.seq = store.messages.max_seq(conv_id) + 1
    try:
        store.messages.insert_message(message)
    except pymongo.errors.DuplicateKeyError as exc:
        raise TransientError(f"conversation {conv_id}: seq {message.seq} taken concurrently") from exc
    log.warning("conversation %s: lastSeq was behind the stored messages; resumed at seq %s", conv_id, message.seq)
    return message
