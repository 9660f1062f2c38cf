"""The review queue: its items, their states, and the one table of the transitions between them.

An item is one per message (``key``): ``msg:{messageId}`` for a delivered message that the filter flagged
or masked, or that members reported; ``held:{convId}:{senderId}:{clientId}`` for a send (or edit) that the
filter holds until a moderator decides. Every item starts ``pending``; a decision moves it once, by a
conditional update, so of two moderators deciding at once one wins and the other gets ``already_decided``.
The decision's effects (delivering a held message through the inbox, deleting a message, telling the
sender) run on the ``moderation`` queue, and are idempotent: a redelivered task repeats nothing visible.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.messages.submit import REVIEW_DELETE
from pipelines.moderation.log import Tell, do_log_action, tell_user
from pipelines.policy.access import check_conversation_member, check_group_moderator, check_may_moderate_content, deny
from schemas.common import new_id, utcnow
from schemas.documents import ReviewItem, ReviewMessage, ReviewReason, SenderInfo, User
from schemas.errors import ApiError, Code
from schemas.events import MessageHeld, MessageRejected
from schemas.payloads import ReviewDecision, ReviewQuery
from schemas.tasks import InboxEntry, ReviewRequest

log = logging.getLogger(__name__)

# decision -> the status it leads to, for each kind of item. Held items were never delivered: a moderator
# lets them through or not. Delivered ones (flagged by the filter, or reported) stay, leave the queue as
# unfounded, or are deleted.
TRANSITIONS: dict[str, dict[str, str]] = {
    "held": {"approve": "approved", "reject": "rejected"},
    "filter": {"approve": "approved", "dismiss": "dismissed", "delete": "deleted"},
    "report": {"approve": "approved", "dismiss": "dismissed", "delete": "deleted"},
    # A flagged text that is not a message (pipelines.gate): kept, or left the queue as unfounded; a
    # moderator removes a comment, or sanctions its author, by those means.
    "text": {"approve": "approved", "dismiss": "dismissed"},
}


def message_key(message_id: str) -> str:
    return f"msg:{message_id}"


def held_key(conv_id: str, sender_id: str, client_id: str) -> str:
    return f"held:{conv_id}:{sender_id}:{client_id}"


def text_key(request: ReviewRequest) -> str:
    """One item per flagged write (its ``clientId`` is the write's: a redelivery finds the same item)."""
    return f"text:{request.clientId}"


# -- created by the filter (moderation worker) ---------------------------------------------------------
def do_open_review(store: Store, notifier: Notifier, request: ReviewRequest) -> ReviewItem | None:
    """Open (or grow) the item for what the filter found; tell the moderators, and a held sender."""
    if request.kind == "text":
        return _open_text_review(store, notifier, request)
    conv, sender = store.conversations.get_conversation(request.convId), store.users.get_user(request.senderId)
    if conv is None or sender is None:
        log.info("review of %s/%s not opened: the conversation or the sender is gone", request.convId,
                 request.clientId)
        return None
    stored = store.messages.get_message(request.messageId) if request.kind == "filter" and request.messageId else None
    if request.kind == "filter" and stored is None:
        return None  # deleted since (or never stored: nothing to review)
    held = request.kind == "held"
    key = held_key(conv.id, sender.id, request.clientId) if held else message_key(request.messageId)
    now = utcnow()
    if request.edit and not held:
        # A flagged edit: the item shows the text as it is now, and its hits are in that text.
        store.moderation.replace_review_text(key, request.content, now)
    item = ReviewItem(id=new_id(), key=key, groupId=conv.groupId, convId=conv.id, convTitle=conv.title,
                      messageId=request.messageId, kind=request.kind, edit=request.edit,
                      message=ReviewMessage(senderId=sender.id, senderInfo=SenderInfo.of(sender),
                                            content=request.content,
                                            createdAt=stored.createdAt if stored else request.receivedAt,
                                            seq=stored.seq if stored else None, clientId=request.clientId,
                                            replyTo=request.replyTo),
                      createdAt=now, updatedAt=now)
    item = _upsert_hits(store, notifier, item, request, now)
    if held:  # (again on a redelivery: the sender's page matches it by clientId)
        notifier.notify_message_held(sender.id, MessageHeld(clientId=request.clientId, convId=conv.id,
                                                            reviewId=item.id,
                                                            messageId=request.messageId if request.edit else None))
    return item


def _upsert_hits(store: Store, notifier: Notifier, item: ReviewItem, request: ReviewRequest, now) -> ReviewItem:
    """Create the item or add the hits it lacks; the moderators hear of it when something changed."""
    reasons = [ReviewReason(kind="filter", key=f"filter:{request.clientId}:{h.filterId}:{h.start}:{h.end}",
                            filterId=h.filterId, action=h.action, match=h.match, start=h.start, end=h.end, at=now)
               for h in request.hits]
    item, changed = store.moderation.upsert_review(item, reasons)
    if changed:
        notifier.notify_review(item, flagged=True)
    return item


def _open_text_review(store: Store, notifier: Notifier, request: ReviewRequest) -> ReviewItem | None:
    """The item of a flagged (or masked) comment, album, caption, name or title (pipelines.gate)."""
    sender = store.users.get_user(request.senderId)
    if sender is None:
        return None
    conv = store.conversations.get_conversation(request.convId) if request.convId else None
    now = utcnow()
    item = ReviewItem(id=new_id(), key=text_key(request), groupId=request.groupId, convId=request.convId,
                      convTitle=conv.title if conv else "", kind="text", target=request.target,
                      message=ReviewMessage(senderId=sender.id, senderInfo=SenderInfo.of(sender),
                                            content=request.content, createdAt=request.receivedAt,
                                            clientId=request.clientId),
                      createdAt=now, updatedAt=now)
    return _upsert_hits(store, notifier, item, request, now)


# -- reports and decisions (web) ---------------------------------------------------------------------
def do_report(store: Store, notifier: Notifier, user: User, message_id: str, reason: str) -> ReviewItem:
    """A member reports a message of their conversation: one item per message, each reporter once."""
    message = store.messages.get_message(message_id)
    if message is None or message.isDeleted:
        raise ApiError(Code.NOT_FOUND, f"no message {message_id}")
    conv, _ = check_conversation_member(store, user, message.convId)
    if message.type == "system":
        raise ApiError(Code.INVALID_PAYLOAD, "system messages cannot be reported")
    if message.senderId == user.id:
        raise deny(store, user, Code.OWN_CONTENT, "message", message.id, "you cannot report your own message")
    now = utcnow()
    item = ReviewItem(id=new_id(), key=message_key(message.id), groupId=conv.groupId, convId=conv.id,
                      convTitle=conv.title, messageId=message.id, kind="report",
                      message=ReviewMessage(senderId=message.senderId, senderInfo=message.senderInfo,
                                            content=message.content, createdAt=message.createdAt, seq=message.seq,
                                            clientId=message.clientId, replyTo=message.metadata.replyTo),
                      createdAt=now, updatedAt=now)
    item, changed = store.moderation.upsert_review(item, [ReviewReason(kind="report", key=f"report:{user.id}", reporterId=user.id,
                                                            reporterName=user.username, reason=reason, at=now)])
    if changed:
        notifier.notify_review(item, flagged=True)
        do_log_action(store, notifier, user, conv.groupId, "reported", "message", message.id,
                      target_name=message.senderInfo.username, reason=reason, conv_id=conv.id)
    return item


def do_decide(store: Store, enqueue_effects: Callable[[str], None], user: User, review_id: str,
              request: ReviewDecision) -> ReviewItem:
    """A moderator decides a pending item: not one about their own message, not while muted, not one about
    a message by someone who outranks them. The state moves here, atomically (the answer must say who
    won); what follows from it is queued (``apply_decision``)."""
    item = store.moderation.get_review(review_id)
    if item is None:
        raise ApiError(Code.NOT_FOUND, f"no review item {review_id}")
    check_group_moderator(store, user, item.groupId)
    if item.message.senderId == user.id:
        raise deny(store, user, Code.OWN_CONTENT, "review", item.id, "you cannot decide on your own message: "
                   "another moderator will", {"groupId": item.groupId})
    check_may_moderate_content(store, user, item.message.senderId, item.groupId, "decide on a message by")
    allowed = TRANSITIONS[item.kind]
    if request.decision not in allowed:
        raise ApiError(Code.INVALID_DECISION, f"a {item.kind} item can be decided with {' or '.join(allowed)}, "
                                              f"not {request.decision}", {"allowed": list(allowed)})
    if item.status == "pending":
        decided = store.moderation.decide_review(review_id, allowed[request.decision], user, request.note, utcnow())
        if decided is not None:
            enqueue_effects(review_id)
            return decided
    current = store.moderation.get_review(review_id)
    raise ApiError(Code.ALREADY_DECIDED, f"{current.decidedByName} already decided this item ({current.status})",
                   {"status": current.status, "decidedBy": current.decidedBy, "decidedByName": current.decidedByName})


def do_apply_decision(store: Store, notifier: Notifier, submit: Callable[[str, InboxEntry], None],
                      review_id: str, tell: Tell | None = None) -> str | None:
    """The effects of a decision (moderation worker), each safe to repeat: a held message or edit goes
    through the conversation's inbox (its clientId kept, so the drain stores it once; it takes the next
    seq); a rejected one is told to its sender; a deleted message is deleted through the inbox (in order
    with the sends). Then the moderators hear the decision, and the log records it once."""
    item = store.moderation.get_review(review_id)
    if item is None or item.status == "pending":
        return None
    msg = item.message
    if item.kind == "held" and item.status == "approved":
        submit(item.convId, InboxEntry(kind="edit" if item.edit else "send", senderId=msg.senderId,
                                       clientId=msg.clientId, content=msg.content, replyTo=msg.replyTo,
                                       messageId=item.messageId if item.edit else None, receivedAt=utcnow(),
                                       approvedBy=item.id))
    elif item.kind == "held" and item.status == "rejected":
        why = "A moderator did not approve your message" + (f": {item.note}" if item.note else ".")
        notifier.notify_message_rejected(msg.senderId, MessageRejected(
            clientId=msg.clientId, convId=item.convId, code=Code.REJECTED_BY_MODERATOR, reason=why,
            messageId=item.messageId if item.edit else None, details={"note": item.note} if item.note else None))
        tell_user(tell, msg.senderId, f"review:{item.id}:rejected", "A moderator did not approve your message", why,
                  item.groupId)
    elif item.status == "deleted" and item.messageId:
        submit(item.convId, InboxEntry(kind="delete", senderId=item.decidedBy, clientId=f"{REVIEW_DELETE}{item.id}",
                                       content="", messageId=item.messageId, receivedAt=utcnow()))
        tell_user(tell, msg.senderId, f"review:{item.id}:deleted", "A moderator deleted your message",
                  item.note or "", item.groupId)
    notifier.notify_review(item, flagged=False)
    decider = store.users.get_user(item.decidedBy) if item.decidedBy else None
    do_log_action(store, notifier, decider, item.groupId, f"review_{item.status}", "review", item.id,
                  target_name=msg.senderInfo.username, reason=item.note,
                  changes={"kind": item.kind, "messageId": item.messageId}, once=f"review:{item.id}:{item.status}",
                  conv_id=item.convId or None)
    return item.status


# -- reading -----------------------------------------------------------------------------------------
def list_reviews(store: Store, user: User, group_id: str, query: ReviewQuery) -> dict[str, Any]:
    check_group_moderator(store, user, group_id)
    items, more = store.moderation.reviews_of_group(group_id, query.statuses, query.kind, before=query.page.before,
                                         limit=query.page.limit)
    return {"reviews": [i.public() for i in items], "hasMore": more}


def get_review(store: Store, user: User, review_id: str) -> ReviewItem:
    item = store.moderation.get_review(review_id)
    if item is None:
        raise ApiError(Code.NOT_FOUND, f"no review item {review_id}")
    check_group_moderator(store, user, item.groupId)
    return item
