"""Reactions: idempotent, bounded per user, atomic under concurrency, members only."""
from __future__ import annotations

import threading

import pytest

from pipelines.messages.drain import drain_inbox
from pipelines.messages.reactions import MAX_PER_USER, do_react
from pipelines.messages.submit import submit_message
from schemas.common import utcnow
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend, ReactionChange, ReactionRemove
from tests.conftest import make_conversation, make_user

EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🔥", "👀", "🙏", "✅", "💯"]


@pytest.fixture
def posted(store, inbox, notifier):
    users = [make_user(store, f"user{i}") for i in range(12)]
    conv = make_conversation(store, users)
    submit_message(store, inbox, lambda c: None, users[0], MessageSend(convId=conv.id, clientId="m", content="x"))
    drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    return users, store.db.messages.find_one({"convId": conv.id})["_id"]


def react(store, notifier, user, message_id, emoji, add=True):
    return do_react(store, notifier, user, ReactionChange(messageId=message_id, emoji=emoji), add)


def test_adding_twice_counts_once_and_removing_is_idempotent(store, notifier, emitter, posted):
    users, mid = posted
    assert [(r.userId, r.emoji) for r in react(store, notifier, users[1], mid, "👍").reactions] == [(users[1].id, "👍")]
    assert len(react(store, notifier, users[1], mid, "👍").reactions) == 1
    assert react(store, notifier, users[1], mid, "👍", add=False).reactions == []
    assert react(store, notifier, users[1], mid, "👍", add=False).reactions == []
    updates = emitter.of("message:updated")
    assert len(updates) == 2 and updates[0][1].startswith("conv:")  # one event per real change


def test_a_user_has_a_bounded_set_of_emoji_per_message(store, notifier, posted):
    users, mid = posted
    for emoji in EMOJI[:MAX_PER_USER]:
        react(store, notifier, users[1], mid, emoji)
    with pytest.raises(ApiError) as err:
        react(store, notifier, users[1], mid, EMOJI[MAX_PER_USER])
    assert err.value.code == Code.LIMIT_REACHED
    assert len(store.messages.get_message(mid).reactions) == MAX_PER_USER
    react(store, notifier, users[2], mid, EMOJI[MAX_PER_USER])  # the bound is per user


def test_concurrent_reactions_from_many_users_lose_none(store, notifier, posted):
    users, mid = posted
    start = threading.Barrier(len(users))

    def go(user):
        start.wait()
        for emoji in EMOJI[:3]:
            react(store, notifier, user, mid, emoji)

    threads = [threading.Thread(target=go, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted((r.userId, r.emoji) for r in store.messages.get_message(mid).reactions)
    assert got == sorted((u.id, e) for u in users for e in EMOJI[:3])


def test_only_members_react_and_the_message_must_exist(store, notifier, posted):
    _, mid = posted
    outsider = make_user(store, "outsider")
    with pytest.raises(ApiError) as err:
        react(store, notifier, outsider, mid, "👍")
    assert err.value.code == Code.NOT_A_MEMBER
    with pytest.raises(ApiError) as err:
        react(store, notifier, outsider, "f" * 24, "👍")
    assert err.value.code == Code.NOT_FOUND
    assert store.messages.get_message(mid).reactions == []


def test_flags_keycaps_and_zwj_sequences_are_stored_as_sent(store, notifier, posted):
    users, mid = posted
    for emoji in ["🇫🇷", "#️⃣", "👨‍👩‍👧‍👦", "🧑🏽‍💻"]:
        react(store, notifier, users[1], mid, emoji)
    assert [r.emoji for r in store.messages.get_message(mid).reactions] == ["🇫🇷", "#️⃣", "👨‍👩‍👧‍👦", "🧑🏽‍💻"]


def test_a_reaction_stored_before_the_one_emoji_check_can_still_be_taken_back(store, notifier, posted):
    users, mid = posted
    store.db.messages.update_one({"_id": mid}, {"$push": {"reactions": {"userId": users[1].id, "emoji": "👍👍", "at": utcnow()}}})
    with pytest.raises(ValueError):
        ReactionChange(messageId=mid, emoji="👍👍")            # it could not be added today
    removed = do_react(store, notifier, users[1], ReactionRemove(messageId=mid, emoji="👍👍"), add=False)
    assert removed.reactions == []
    with pytest.raises(ValueError):
        ReactionRemove(messageId=mid, emoji="+1")              # ASCII was never a reaction
