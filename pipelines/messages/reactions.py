"""Reactions: idempotent, atomic, at most MAX_PER_USER different emoji per message per user."""
from __future__ import annotations

from infra.storage import Store
from pipelines.events import Notifier
from pipelines.policy.access import check_conversation_member
from pipelines.policy.gate import Gate
from schemas.common import utcnow
from schemas.documents import Message, Reaction, User
from schemas.errors import ApiError, Code
from schemas.payloads import ReactionChange, ReactionRemove

MAX_PER_USER = 10


def do_react(store: Store, notifier: Notifier, user: User, change: ReactionChange | ReactionRemove, add: bool,
             gate: Gate | None = None) -> Message:
    """Add or remove one reaction; message:updated goes to the room only when something changed. An added
    emoji is a text others see (fullwidth or look-alike letters fold to words): it goes through the write
    gate (member, not banned, not muted, and the group's filter); taking one back does not.

    Each change is one conditional update on the message (no read-modify-write), so concurrent
    reactions from many users never overwrite each other, and adding twice counts once.
    """
    message = store.messages.get_message(change.messageId)
    if message is None:
        raise ApiError(Code.NOT_FOUND, f"no message {change.messageId}")
    if add:
        gate = gate or Gate(store)
        admitted = gate.conversation(user, message.convId, "reaction")
        _check_not_deleted(message)
        screened = gate.screen(admitted, {"emoji": change.emoji}, message.id)
        emoji = screened.texts["emoji"]
        mine = {r.emoji for r in message.reactions if r.userId == user.id}
        if emoji in mine:
            return message
        if len(mine) >= MAX_PER_USER:
            # Checked before the update: a user racing their own adds may pass the bound by a few.
            raise ApiError(Code.LIMIT_REACHED, f"at most {MAX_PER_USER} different reactions per message")
        updated = store.messages.add_reaction(message.id, Reaction(userId=user.id, emoji=emoji, at=utcnow()))
        if updated is not None:
            gate.opened(screened)
    else:
        check_conversation_member(store, user, message.convId)
        _check_not_deleted(message)
        updated = store.messages.remove_reaction(message.id, user.id, change.emoji, utcnow())
    if updated is None:  # already so (a concurrent duplicate): nothing changed
        return store.messages.get_message(message.id) or message
    notifier.notify_message_updated(updated)
    return updated


def _check_not_deleted(message: Message) -> None:
    if message.isDeleted:
        raise ApiError(Code.GONE, "this message was deleted")
