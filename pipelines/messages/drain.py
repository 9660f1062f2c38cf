"""The message path: accept a send (web side), store it in order (worker side), read history.

Ordering and exactly-once, in short:
- ``submit_message`` appends the send to the conversation's inbox (a Redis stream, whose order is
  the order in which sends were accepted by any web process) and enqueues ``messages.drain`` unless
  a drain is already scheduled for the conversation.
- ``drain_inbox`` runs in a worker. One drainer per conversation at a time (a Redis lock); it stores
  entries in stream order with seq = previous + 1, so seq has no gaps or repeats, and one sender's
  messages keep their send order whatever the size of the worker pool. It removes an entry from the
  stream only after its message is stored, so a worker killed mid-drain loses nothing.
- Idempotency: a unique (convId, senderId, clientId) index. A redelivered task or a client retry finds
  the stored message instead of storing a second one. The room hears a message once: a retry of an
  announced message is answered to the retrying socket only; a message stored by a drain that died
  before announcing it (its seq is past the conversation's ``lastSeq``, which moves only after the
  batch's events are published) is announced to the room then.
- Edits and deletes travel through the same inbox (``submit_change``), so they apply in order with the
  sends, and are written so that applying one twice changes nothing.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import pymongo
from redis.exceptions import LockError

from infra.inbox import Appended, Inbox
from infra.store import Page, Store
from pipelines.messages import lifecycle
from pipelines.media import attachments
from pipelines.policy.access import (check_conversation_member, check_may_moderate_content, check_moderator, is_moderator,
                               log_denied)
from pipelines.moderation.filters import RuleSet, Verdict
from pipelines.policy.gate import Gate
from pipelines.moderation.sanctions import Screening, blocked_reason, do_log_action, hits_of
from pipelines.events import Notifier
from schemas.common import iso, new_id, utcnow
from schemas.documents import (ConversationMember, Message, MessageMetadata, Quote, SenderInfo, SystemAction, User,
                               system_text)
from schemas.errors import ApiError, Code
from schemas.events import MessageRejected
from schemas.payloads import HistoryWindow, MessageSend, SearchQuery
from schemas.tasks import InboxEntry, ReviewRequest

log = logging.getLogger(__name__)


class TransientError(Exception):
    """Worth retrying later (a race lost, a service briefly away)."""


# -- web side -------------------------------------------------------------------------------------
def submit_message(store: Store, inbox: Inbox, enqueue_drain: Callable[[str], None], user: User,
                   send: MessageSend, context: dict | None = None, max_backlog: int = 5000,
                   gate: Gate | None = None) -> Appended:
    """Admit a send through the write gate (member, not banned, not muted, under the per-user rate) and
    queue it; returns where it went and the backlog behind it. Nothing is queued when a check fails. The
    text meets the group's filter in the drain, once (``_Drain.screen``).

    A conversation whose inbox already holds ``max_backlog`` sends refuses more (``rate_limited``):
    the workers are behind, and growing the queue without bound only makes every message later.
    """
    gate = gate or Gate(store)
    admitted = gate.conversation(user, send.convId, "send", context)
    if send.replyTo is not None and not store.message_exists(send.replyTo, send.convId):
        raise ApiError(Code.NOT_FOUND, "replyTo must name a message of the same conversation")
    if send.attachments:
        attachments.check_attachments(store, user, send.convId, send.attachments)
    gate.count(admitted)
    entry = InboxEntry(senderId=user.id, clientId=send.clientId, content=send.content or "",
                       type=send.type, replyTo=send.replyTo, receivedAt=utcnow(),
                       sid=(context or {}).get("sid"), attachments=send.attachments)
    return submit_entry(inbox, enqueue_drain, send.convId, entry, max_backlog)


def submit_change(store: Store, inbox: Inbox, enqueue_drain: Callable[[str], None], user: User,
                  message_id: str, *, content: str | None = None, max_backlog: int = 5000,
                  gate: Gate | None = None) -> None:
    """Queue an edit (``content`` given) or a soft delete of a stored message, after the role check.

    The author edits, through the write gate (not muted, under the per-user ``edit`` rate); the author,
    the group's moderators and admins (and system admins) delete. The change goes through the
    conversation's inbox, so it is applied after every send accepted before it; like a send, it is refused
    (``rate_limited``) when ``max_backlog`` entries wait there, so an edit loop cannot grow the inbox or
    push other members' sends back.
    """
    message = store.get_message(message_id)
    if message is None:
        raise ApiError(Code.NOT_FOUND, f"no message {message_id}")
    kind = "edit" if content is not None else "delete"
    gate = gate or Gate(store)
    if kind == "edit":
        admitted = gate.conversation(user, message.convId, "edit")
        conv_group = admitted.group_ids[0]
    else:
        conv_group = check_conversation_member(store, user, message.convId)[0].groupId
    if message.isDeleted:
        raise ApiError(Code.NOT_FOUND, "this message was deleted")
    if message.senderId != user.id:
        if kind == "edit" or not is_moderator(store, user, conv_group):
            log_denied(store, user, "message", message_id, f"{kind} of another member's message")
            raise ApiError(Code.FORBIDDEN, "only the author can edit a message" if kind == "edit" else
                           "only the author, a moderator or an admin of the group can delete a message")
        check_may_moderate_content(store, user, message.senderId, conv_group, "delete a message by")
    if kind == "edit":
        gate.count(admitted)
    submit_entry(inbox, enqueue_drain, message.convId, InboxEntry(
        kind=kind, senderId=user.id, clientId=f"{kind}:{new_id()}", content=content or "", messageId=message_id,
        receivedAt=utcnow()), max_backlog)


def submit_system(inbox: Inbox, enqueue_drain: Callable[[str], None], conv_id: str, actor: User,
                  action: SystemAction, data: dict) -> None:
    """Queue a system message (``type: "system"``) through the conversation's inbox, so it takes its
    seq in order with the sends. ``actor`` is who did it; ``data`` names who it concerns."""
    submit_entry(inbox, enqueue_drain, conv_id, InboxEntry(
        kind="system", senderId=actor.id, clientId=f"system:{new_id()}", type="system",
        content=system_text(action, data), systemAction=action, systemData=data, receivedAt=utcnow()))


def submit_entry(inbox: Inbox, enqueue_drain: Callable[[str], None], conv_id: str, entry: InboxEntry,
                 max_backlog: int = 2**31) -> Appended:
    """Append an entry to the conversation's inbox, in order with the sends, and schedule a drain if none is.
    Users' sends, edits and deletes pass their ``max_backlog`` and are refused (``rate_limited``) past it;
    entries the server writes itself (a system message, a moderator's approval or deletion) never are."""
    appended = inbox.append(conv_id, entry, max_backlog=max_backlog)
    if appended.schedule:
        enqueue_drain(conv_id)
    if appended.entry_id is None:
        raise ApiError(Code.RATE_LIMITED, f"{appended.backlog} messages are waiting to be stored in this "
                                          "conversation; retry shortly with the same clientId",
                       {"retryAfter": 1})
    return appended


def read_history(store: Store, user: User, conv_id: str, window: HistoryWindow) -> Page:
    """Members read the conversation; the moderation view (deleted content shown by the caller) is for
    the group's moderators and admins, and system admins."""
    if window.view == "moderation":
        check_moderator(store, user, conv_id)
    else:
        check_conversation_member(store, user, conv_id)
    return store.history(conv_id, before=window.before, after=window.after, limit=window.limit)


def search_messages(store: Store, user: User, conv_id: str, query: SearchQuery) -> Page:
    """Members search the conversation, newest first; deleted and system messages never match."""
    check_conversation_member(store, user, conv_id)
    return store.search(conv_id, query.text, before=query.before, limit=query.limit)


# -- worker side ----------------------------------------------------------------------------------
@dataclass
class DrainResult:
    conv_id: str
    locked_out: bool = False     # another worker was draining: it will see our entries
    stored: list[int] = field(default_factory=list)   # seqs stored by this drain
    duplicates: int = 0          # entries whose message was already stored (retry or redelivery)
    rejected: int = 0
    continued: bool = False      # the time budget ran out; a follow-up task was enqueued
    changed: int = 0             # edits and deletes applied
    held: int = 0                # sends and edits held for a moderator (review items, not messages)


def drain_inbox(conv_id: str, *, store: Store, inbox: Inbox, notifier: Notifier,
                enqueue_drain: Callable[[str], None], batch: int = 50, budget_seconds: float = 0.5,
                linger_ms: int = 0, screening: Screening | None = None,
                on_stored: Callable[[str, list[str]], None] | None = None,
                may_linger: Callable[[], bool] | None = None) -> DrainResult:
    """Store the pending sends of the conversation, in inbox order. Safe to run twice, or concurrently.

    The "drain scheduled" flag stays set while this runs, so senders do not enqueue more tasks. When
    the inbox is empty the drain lingers up to ``linger_ms`` for more (a chatty conversation then costs
    one task per burst, not one per message), clears the flag, reads once more, and stops. It lingers
    in slices of at most ``LINGER_SLICE_MS`` and asks ``may_linger()`` before each: a worker whose other
    tasks wait for a slot does not linger, or stops within a slice. After
    ``budget_seconds`` it hands over to a follow-up task, so one busy conversation cannot hold a
    worker while others wait. With ``screening``, each send and edit passes the group's content filter
    before anything is stored or announced (see ``_Drain.screen``). ``on_stored(convId, messageIds)``
    is called once per stored batch with the ids that may notify someone (mentions, replies, and every
    message of a direct conversation): the notifications worker does the rest, off the drain.
    """
    result = DrainResult(conv_id)
    deadline = time.monotonic() + budget_seconds
    while True:
        with inbox.drain_lock(conv_id) as lock:
            if lock is None:
                # The holder re-checks after releasing (below), so it will read what we were sent for.
                result.locked_out = True
                return result
            drain = _Drain(conv_id, store, notifier, result, _Renewer(lock), screening)
            drain.on_stored = on_stored
            unscheduled = False
            last_id, idle_ms = None, 0  # the last entry stored, and how long the drain has lingered since
            entries = inbox.claim(conv_id, batch)
            while True:
                done: list[str] = []
                if entries:
                    drain.store_entries(entries)
                    done = [entry_id for entry_id, _ in entries]
                    last_id, idle_ms = done[-1], 0
                    if time.monotonic() >= deadline:
                        inbox.remove(conv_id, done)
                        break
                elif unscheduled:
                    break
                wait = None if unscheduled or last_id is None else _linger_slice(
                    linger_ms, idle_ms, deadline, may_linger)
                if done or wait:
                    # Delete what was stored and read on, waiting a slice for more if the inbox is empty.
                    entries = inbox.advance(conv_id, done, last_id, batch, wait)
                    idle_ms += wait or 0
                    continue
                # Nothing more: sends from now on schedule their own drain; read once more what came before.
                entries = inbox.unschedule_and_claim(conv_id, batch)
                unscheduled = True
        pending, scheduled = inbox.status(conv_id)
        if pending and time.monotonic() > deadline:
            enqueue_drain(conv_id)
            result.continued = True
            return result
        # A send scheduled after our unschedule may have found the lock taken and left it to us.
        if not pending and not scheduled:
            return result


# Longest single wait of a lingering drain: how late it notices that its worker needs the slot.
LINGER_SLICE_MS = 100


def _linger_slice(linger_ms: int, idle_ms: int, deadline: float,
                  may_linger: Callable[[], bool] | None) -> int | None:
    """How long the drain's next read may wait for new entries (None: do not wait)."""
    wait = min(LINGER_SLICE_MS, linger_ms - idle_ms)
    if wait <= 0 or (deadline - time.monotonic()) * 1000 <= wait:
        return None
    if may_linger is not None and not may_linger():
        return None
    return wait


class _Renewer:
    """Renews the drain lock when a third of its timeout has passed, so a long drain keeps it."""

    def __init__(self, lock) -> None:
        self.lock = lock
        self.every = (lock.timeout or 30) / 3
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        try:
            self.lock.reacquire()
        except LockError as exc:
            # Another drainer may be running now; stop here, the entries stay for a retry.
            raise TransientError(f"drain lock lost: {exc}") from exc
        self.last = time.monotonic()


REVIEW_DELETE = "delete:review:"   # the clientId prefix of a review decision's deletion (pipelines.reviews)


class _Drain:
    """One lock holding: the conversation's state and per-drain caches, so a burst from one sender
    costs one conversation, user and membership lookup, however many batches it takes."""

    def __init__(self, conv_id: str, store: Store, notifier: Notifier, result: DrainResult,
                 keep_lock: Callable[[], None], screening: Screening | None = None) -> None:
        self.conv_id, self.store, self.notifier, self.result, self.keep_lock = conv_id, store, notifier, result, keep_lock
        self.screening = screening
        self.rules: RuleSet | None = None  # the group's compiled filter rules, current as of this batch
        self.reviews: list[ReviewRequest] = []  # this batch's review requests, queued together after it
        conv = store.get_conversation(conv_id)
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

    def notify_stored(self, messages: list[Message]) -> None:
        """One task per batch, ids only: mentions, replies, and a direct conversation's messages."""
        if self.on_stored is None or not messages:
            return
        if self._direct is None:
            self._direct = len(self.store.conversation_members_of(self.conv_id, 3)) == 2
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
        ``mask`` and ``flag`` store it (masked) and open a review item."""
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
        for the replies' quotes, the files and the notifications is pipelines.lifecycle's."""
        now = utcnow()
        verdict = self.screen(entry)
        if verdict is not None and verdict.action in ("block", "hold"):
            self.withhold(entry, verdict)
            return
        if entry.kind == "edit":
            changed = self.store.edit_message(entry.messageId, verdict.masked if verdict else entry.content, now)
        else:
            changed = self.store.delete_message(entry.messageId, entry.senderId, now)
        if changed is not None:  # None: already applied (a redelivery) or deleted meanwhile
            self.result.changed += 1
            self.notifier.notify_message_updated(changed)
            if verdict is not None:
                self.review("filter", entry, verdict, changed.id)
            if changed.isDeleted and entry.senderId != changed.senderId and not entry.clientId.startswith(REVIEW_DELETE):
                # A moderator deleted a member's message (a review's decision is logged as review_deleted).
                do_log_action(self.store, self.notifier, self.sender(entry.senderId), self.group_id, "message_deleted",
                              "message", changed.id, target_name=changed.senderInfo.username,
                              once=f"message_deleted:{changed.id}")
        # What follows runs again on a redelivery (a drain may have died between the change and this):
        # each step changes only what is not so yet, and announces only what it changed.
        current = changed or self.store.get_message(entry.messageId)
        if current is not None and current.isDeleted:
            lifecycle.on_message_deleted(self.store, self.notifier, current)
        elif current is not None and entry.kind == "edit":
            lifecycle.on_message_edited(self.store, self.notifier, current)

    def sender(self, user_id: str) -> User | None:
        if user_id not in self.users:
            self.users[user_id] = self.store.get_user(user_id)
        return self.users[user_id]

    def member(self, user_id: str) -> ConversationMember | None:
        if user_id not in self.members:
            self.members[user_id] = self.store.get_conversation_member(self.conv_id, user_id)
        return self.members[user_id]

    def recheck_senders(self, stored: dict[str, list[Message]]) -> None:
        """Correct the senderInfo just stored if the sender's profile changed since it was read.

        A profile change that lands between our read of the sender and our insert may have been synced
        (pipelines.profiles) before the insert, which would leave it stale for good. Re-reading after the
        insert closes that gap: either the change came first and we see it here, or it came after this read,
        and its own sync task, enqueued later still, will find our messages. We re-read after writing until
        the profile holds still, so our correction cannot itself overwrite a newer sync.
        """
        for user_id, messages in stored.items():
            first = messages[0].senderInfo  # (a message found already stored may carry another one)
            written = first if all(m.senderInfo == first for m in messages) else None
            while (user := self.store.get_user(user_id)) is not None and SenderInfo.of(user) != written:
                written = SenderInfo.of(user)
                self.store.set_sender_info([m.id for m in messages], written)
            self.users[user_id] = user

    def store_entries(self, entries: list[tuple[str, InboxEntry]]) -> None:
        conv_id, store, notifier, result = self.conv_id, self.store, self.notifier, self.result
        last_at = None
        stored: dict[str, list[Message]] = {}  # author -> their messages stored in this batch, in order
        if self.screening is not None and self.conv_exists:
            # Read after the batch was claimed: any send accepted after a rule change meets the new rules.
            self.rules = self.screening.cache.rules_for(self.group_id)
        # Events leave in one round trip once the batch is stored: the database is the source of truth.
        with notifier.batch():
            for _, entry in entries:
                self.keep_lock()
                if entry.kind in ("edit", "delete"):
                    self.apply_change(entry)
                    continue
                existing = store.find_message_by_client_id(conv_id, entry.senderId, entry.clientId)
                if existing is not None:
                    # A client retry or a redelivery: store nothing. The room hears it only if nobody
                    # announced it yet (a drain died between storing and publishing); otherwise only the
                    # retrying sender is answered, so that it can reconcile its pending copy.
                    result.duplicates += 1
                    self.seq = max(self.seq, existing.seq)
                    if existing.seq > self.announced_upto and existing.seq not in self.announced:
                        self.announced.add(existing.seq)
                        notifier.notify_message_new(existing)
                        last_at = max(last_at or existing.createdAt, existing.createdAt)  # lastSeq catches up
                        if (verdict := self.screen(entry)) is not None:  # its review may not have been queued
                            self.review("filter", entry, verdict, existing.id)
                    else:
                        notifier.notify_message_to_sender(existing, entry.sid)
                    continue
                sender = self.sender(entry.senderId)
                problem = _rejection(self, sender, entry)
                if problem:
                    result.rejected += 1
                    notifier.notify_message_rejected(entry.senderId, MessageRejected(
                        clientId=entry.clientId, convId=conv_id, code=problem[0], reason=problem[1]))
                    continue
                verdict = self.screen(entry)
                if verdict is not None and verdict.action in ("block", "hold"):
                    self.withhold(entry, verdict)
                    continue
                written = entry.model_copy(update={"content": verdict.masked}) if verdict else entry
                message = _insert(store, conv_id, self.seq + 1, written, sender)
                if entry.attachments:
                    attachments.attach_to_message(store, notifier, message, entry.attachments)
                if verdict is not None:  # masked or flagged: stored, and reviewed with the original text
                    self.review("filter", entry, verdict, message.id)
                self.seq, last_at = message.seq, message.createdAt
                result.stored.append(self.seq)
                stored.setdefault(message.senderId, []).append(message)
                self.announced.add(message.seq)
                notifier.notify_message_new(message)
                for user_id in message.metadata.mentions or ():
                    notifier.notify_mention(user_id, message)
            if stored:
                self.recheck_senders(stored)
        if self.reviews:
            # One task for the batch's review requests (one publish per hit cost 3.7 % of the server's CPU
            # at 5 % of messages hit, py-spy). Queued after the writes; a drain dying before this point is
            # redelivered and asks again (see the duplicate branch above), and opening is idempotent.
            self.screening.open_reviews(self.reviews)
            self.reviews = []
        # The batch's events are out (the block above published them): only now may lastSeq move, so
        # that it also marks what was announced. A drain that dies before this leaves lastSeq behind,
        # and the next one announces what it finds stored past it.
        if last_at is not None:
            store.advance_conversation(conv_id, self.seq, last_at)
            # Authors have read what they wrote: their own messages never count as unread.
            for author_id, theirs in stored.items():
                store.advance_read_mark(conv_id, author_id, theirs[-1].seq, last_at)
        self.notify_stored([m for theirs in stored.values() for m in theirs])


def _rejection(drain: _Drain, sender: User | None, entry: InboxEntry) -> tuple[str, str] | None:
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
    users = store.users_by_usernames(sorted(names)[:MAX_MENTIONS])
    return sorted(u.id for u in users.values()
                  if u.id != sender_id and store.get_conversation_member(conv_id, u.id) is not None)


def _insert(store: Store, conv_id: str, seq: int, entry: InboxEntry, sender: User) -> Message:
    now = utcnow()
    files = None
    if entry.kind == "system":
        metadata = MessageMetadata(systemAction=entry.systemAction, systemData=entry.systemData)
    else:
        parent = store.get_message(entry.replyTo) if entry.replyTo else None
        # (a deleted parent's quote carries no text: Quote.of)
        quote = Quote.of(parent) if parent is not None and parent.convId == conv_id else None
        if entry.attachments:
            found = store.media_by_ids(entry.attachments)
            files = [found[i].summary() for i in entry.attachments if i in found] or None
        metadata = MessageMetadata(replyTo=entry.replyTo if quote else None, quote=quote, files=files,
                                   mentions=find_mentions(store, conv_id, entry.content, entry.senderId) or None)
    message = Message(id=new_id(), convId=conv_id, seq=seq, clientId=entry.clientId, senderId=entry.senderId,
                      senderInfo=SenderInfo.of(sender), type=attachments.message_type(files) if files else entry.type,
                      content=entry.content, metadata=metadata, createdAt=entry.receivedAt, updatedAt=now)
    try:
        store.insert_message(message)
        return message
    except pymongo.errors.DuplicateKeyError:
        pass
    # The conversation's lastSeq was behind the messages (a drain died between storing and recording
    # it) or another drainer outlived its lock. Re-read the truth from the messages and try once more.
    existing = store.find_message_by_client_id(conv_id, entry.senderId, entry.clientId)
    if existing is not None:
        return existing
    message.seq = store.max_seq(conv_id) + 1
    try:
        store.insert_message(message)
    except pymongo.errors.DuplicateKeyError as exc:
        raise TransientError(f"conversation {conv_id}: seq {message.seq} taken concurrently") from exc
    log.warning("conversation %s: lastSeq was behind the stored messages; resumed at seq %s", conv_id, message.seq)
    return message
