"""Encryption at rest of messages and what quotes them (docs/security.md): written through the pipelines into
an encrypted store, the database holds none of what users wrote (every collection dumped and its raw BSON
searched), while every reader (history, search, exports' walk, the review queue, the moderation log,
scheduled messages) sees plain text; a plain conversation is untouched; the filter screens before sealing."""
from __future__ import annotations

from datetime import timedelta

import bson
import pytest
from bson.binary import Binary

from infra.crypto import CryptoError, LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.messages.history import read_history, search_messages
from pipelines.messages.search import search_everywhere
from pipelines.messages.submit import submit_change, submit_message
from pipelines.moderation import reviews
from pipelines.moderation.log import list_log
from pipelines.scheduling import scheduled as scheduling
from schemas.common import utcnow
from schemas.payloads import (GlobalSearchQuery, HistoryWindow, IdPage, MessageSend, ReviewQuery,
                              ScheduledMessageCreate, SearchQuery)
from tests.conftest import make_conversation, make_user
from tests.pipelines.messages.test_edits import drain
from tests.pipelines.moderation.test_moderation import mod  # noqa: F401 - the fixture, on this module's store

MASTER = LocalMasterKeys.generate("k1")
# What users write in the tests, each word found nowhere else (not in a rule, a name or a title).
WRITTEN = ("pamplemousse", "artichaut", "betterave", "courgette", "citrouille", "framboise", "mandarine",
           "noisette", "groseille", "rhubarbe")


@pytest.fixture
def store() -> Store:
    s = Store(embedded_client()["test"], LocalMasterKeys(MASTER), encrypt_all=True)
    s.ensure_indexes()
    return s


def raw(db, *names: str) -> bytes:
    """The named collections (all of them by default) as the BSON a backup would hold, lower-cased."""
    return b"".join(bson.encode(d) for name in names or db.list_collection_names() for d in db[name].find()).lower()


def text_of(page) -> list[str]:
    return [m.content for m in page.messages if m.type != "system"]


def write_everything(store, notifier, inbox, mod):
    """Through the pipelines: a flagged send, a send edited twice, a reply, a report, a decision with a
    note, a blocked send, a scheduled message, and an archived message."""
    mod.rule("word", "zut", "flag")
    mod.rule("word", "merde", "block")
    mod.send(mod.bob, "b1", "pamplemousse zut")
    mod.send(mod.admin, "a1", "artichaut")
    mod.drain()
    first = store.messages.find_message_by_client_id(mod.conv.id, mod.admin.id, "a1")
    submit_change(store, inbox, lambda c: None, mod.admin, first.id, content="betterave")
    mod.drain()
    mod.send(mod.dan, "d1", "courgette", replyTo=first.id)
    mod.drain()
    submit_change(store, inbox, lambda c: None, mod.admin, first.id, content="citrouille")
    mod.send(mod.bob, "b2", "merde groseille")
    mod.drain()
    flagged = store.messages.find_message_by_client_id(mod.conv.id, mod.bob.id, "b1")
    item = reviews.do_report(store, notifier, mod.dan, flagged.id, "framboise")
    mod.decide(item.id, "dismiss", note="noisette")
    scheduling.do_schedule(store, mod.bob, mod.conv.id, ScheduledMessageCreate(
        clientId="s1", content="mandarine", sendAt=(utcnow() + timedelta(hours=1)).isoformat()),
        now=utcnow(), limits=scheduling.Limits())
    mod.send(mod.bob, "b3", "rhubarbe")
    mod.drain()
    old = store.upkeep.messages_to_archive(mod.conv.id, below_seq=2, before=None, limit=10)
    store.upkeep.archive_messages(old)
    return first, flagged


def test_the_database_holds_none_of_what_users_wrote(store, notifier, inbox, mod):
    write_everything(store, notifier, inbox, mod)
    dump = raw(store.db)
    assert [w for w in WRITTEN if w.encode() in dump] == []
    # Not even as a search word or a stem: the words are blind tokens.
    assert b"pamplemouss" not in dump and b"citrouill" not in dump
    # The review item's filter match and the log's blocked match are the user's text too (the rules'
    # patterns are the moderators': "filter_created" entries name them).
    assert b"zut" not in raw(store.db, "reviews") and b"blocked: merde" not in raw(store.db, "activity_logs")
    for name in ("messages", "messages_archive"):
        for doc in store.db[name].find({"type": {"$ne": "system"}}):
            assert isinstance(doc["content"], Binary) and all(w.startswith("#") for w in doc["words"]), doc
    assert store.db.messages_archive.count_documents({}) == 1


def test_every_reader_sees_plain_text(store, notifier, inbox, mod):
    first, flagged = write_everything(store, notifier, inbox, mod)
    conv = mod.conv.id
    page = read_history(store, mod.bob, conv, HistoryWindow(before=None, after=None, limit=50))
    assert text_of(page) == ["citrouille", "courgette", "rhubarbe"]   # (pamplemousse archived)
    edited = store.messages.get_message(first.id)
    assert [e.content for e in edited.editHistory] == ["artichaut", "betterave"]
    reply = store.messages.find_message_by_client_id(conv, mod.dan.id, "d1")
    assert reply.metadata.quote.excerpt == "citrouille"
    window = store.messages.message_window(conv, 1, 100)
    assert [d["content"] for d in window if d["type"] != "system"] == ["pamplemousse zut", "citrouille",
                                                                       "courgette", "rhubarbe"]
    assert [m.content for m in store.messages.iter_conversation_messages(conv) if m.type != "system"][0] == \
        "pamplemousse zut"
    [item] = reviews.list_reviews(store, mod.carol, mod.group,
                                  ReviewQuery(("dismissed",), None, IdPage(None, 10)))["reviews"]
    assert item["message"]["content"] == "pamplemousse zut" and item["note"] == "noisette"
    assert sorted(r["match"] or r["reason"] for r in item["reasons"]) == ["framboise", "zut"]
    log = {e["action"]: e["reason"] for e in list_log(store, mod.carol, mod.group, IdPage(None, 50))["entries"]}
    assert (log["reported"], log["message_blocked"], log["review_dismissed"]) == \
        ("framboise", "blocked: merde", "noisette")
    [scheduled] = scheduling.list_scheduled(store, mod.bob, conv, IdPage(None, 10))["scheduledMessages"]
    assert scheduled["content"] == "mandarine"


def test_search_matches_whole_words_and_stems_not_prefixes(store, mod):
    mod.send(mod.bob, "b1", "we deployed the checkout")
    mod.send(mod.bob, "b2", "deploying again, no checkout")
    mod.drain()

    def found(text):
        return text_of(search_messages(store, mod.dan, mod.conv.id, SearchQuery(text, None, 20)))
    assert found("checkout") == ["deploying again, no checkout", "we deployed the checkout"]
    assert found("deploy") == ["deploying again, no checkout", "we deployed the checkout"]   # the stems
    assert found("deploy -again") == ["we deployed the checkout"]
    assert found('"deployed" checkout') == ["we deployed the checkout"]
    assert found("check") == []                            # a prefix: the tokens say nothing of it
    everywhere = search_everywhere(store, mod.dan, GlobalSearchQuery("deployed", None, 20))
    assert [m.content for g in everywhere.groups for m in g.messages] == ["deploying again, no checkout",
                                                                          "we deployed the checkout"]


def test_search_across_plain_and_encrypted_conversations(notifier, inbox):
    """Without ENCRYPT_ALL, a group that asked for encryption has its conversation's words blind, another
    group's stay as they are; one search reads both (a clause each for the encrypted one)."""
    store = Store(embedded_client()["test"], LocalMasterKeys(MASTER))
    store.ensure_indexes()
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    sealed, plain = make_conversation(store, [alice, bob], "sealed"), make_conversation(store, [alice, bob], "plain")
    store.db.groups.update_one({"_id": sealed.groupId}, {"$set": {"settings.encryption": True}})
    for conv, text in ((sealed, "checkout on friday"), (plain, "checkout on monday")):
        submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="x", content=text))
        drain(store, inbox, notifier, conv)
    assert isinstance(store.db.messages.find_one({"convId": sealed.id})["content"], Binary)
    assert store.db.messages.find_one({"convId": plain.id})["content"] == "checkout on monday"
    assert "checkout" in store.db.messages.find_one({"convId": plain.id})["words"]

    def everywhere(text):
        found = search_everywhere(store, bob, GlobalSearchQuery(text, None, 20))
        return sorted((g.conversation.title, m.content) for g in found.groups for m in g.messages)
    assert everywhere("checkout") == [("plain", "checkout on monday"), ("sealed", "checkout on friday")]
    assert everywhere("check") == [("plain", "checkout on monday")]   # a prefix finds plain words only
    assert everywhere("checkout -friday") == [("plain", "checkout on monday")]


def test_a_plain_conversation_is_stored_as_before(notifier, inbox):
    store = Store(embedded_client()["test"])   # no master key: encryption off
    store.ensure_indexes()
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="x", content="artichaut"))
    drain(store, inbox, notifier, conv)
    [doc] = store.db.messages.find({"convId": conv.id, "type": "text"})
    assert doc["content"] == "artichaut" and "artichaut" in doc["words"]
    assert store.db.data_keys.count_documents({}) == 0


def test_the_filter_screens_before_sealing(store, emitter, mod):
    """Block and mask see the plain text in the drain; what is stored is the masked text, sealed, and the
    original lives only in the review item, sealed too."""
    mod.rule("word", "merde", "block")
    mod.rule("word", "con*", "mask")
    mod.send(mod.bob, "b1", "Quelle MERDE")
    mod.send(mod.bob, "b2", "Quel connard")
    result = mod.drain()
    assert result.rejected == 1 and emitter.of("message:rejected")[0][0]["details"]["match"] == "MERDE"
    [stored] = [m for m in store.messages.history(mod.conv.id, before=None, after=None, limit=10).messages
                if m.type == "text"]
    assert stored.content == "Quel •••••••" and stored.metadata.masked is True
    assert b"connard" not in raw(store.db, "messages") and b"quel" not in raw(store.db, "messages")


def test_edits_and_quotes_apply_once_when_redelivered(store, notifier, inbox, mod):
    mod.send(mod.admin, "a1", "artichaut")
    mod.drain()
    parent = store.messages.find_message_by_client_id(mod.conv.id, mod.admin.id, "a1")
    mod.send(mod.dan, "d1", "courgette", replyTo=parent.id)
    mod.drain()
    assert store.messages.edit_message(parent.id, "betterave", utcnow()) is not None
    assert store.messages.edit_message(parent.id, "betterave", utcnow()) is None   # the same edit redelivered
    quote = {"excerpt": "betterave"}
    assert [m.metadata.quote.excerpt for m in store.messages.rewrite_quotes(parent.id, quote, utcnow(), limit=5)] \
        == ["betterave"]
    assert store.messages.rewrite_quotes(parent.id, quote, utcnow(), limit=5) == []   # nothing differs now
    deleted = {"excerpt": "", "deleted": True}
    [reply] = store.messages.rewrite_quotes(parent.id, deleted, utcnow(), limit=5)
    assert (reply.metadata.quote.excerpt, reply.metadata.quote.deleted) == ("", True)
    assert store.messages.rewrite_quotes(parent.id, deleted, utcnow(), limit=5) == []


def test_a_sealed_value_moved_to_another_conversation_does_not_open(store, mod):
    mod.send(mod.bob, "b1", "pamplemousse")
    mod.drain()
    other = make_conversation(store, [mod.bob], "other")
    doc = store.db.messages.find_one({"convId": mod.conv.id, "type": "text"})
    store.db.messages.insert_one({**doc, "_id": "moved", "convId": other.id, "seq": 99})
    with pytest.raises(CryptoError):
        store.messages.get_message("moved")
