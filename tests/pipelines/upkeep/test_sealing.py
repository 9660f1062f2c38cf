"""The sealing walk (pipelines/upkeep/sealing.py): a group with history turns encryption on; what was stored
in clear before stays readable, then the walk, bounded and resumable, seals every copy of it (messages,
edits, quotes, search words, the archive, scheduled messages, review items, the log) and the readers still
see the same text; a second run finds nothing."""
from __future__ import annotations

from datetime import timedelta

import bson
import pytest
from bson.binary import Binary

from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.messages.history import search_messages
from pipelines.messages.submit import submit_change
from pipelines.moderation import reviews
from pipelines.moderation.log import list_log
from pipelines.scheduling import scheduled as scheduling
from pipelines.upkeep.repair import repair
from pipelines.upkeep.sealing import seal_stored
from schemas.common import utcnow
from schemas.payloads import IdPage, ScheduledMessageCreate, SearchQuery
from tests.pipelines.moderation.test_moderation import mod  # noqa: F401 - the fixture, on the plain store below

MASTER = LocalMasterKeys.generate("k1")
WRITTEN = ("pamplemousse", "artichaut", "betterave", "courgette", "framboise", "mandarine", "rhubarbe")


@pytest.fixture
def store() -> Store:
    """Where the history is written: the same database, before encryption was available."""
    s = Store(embedded_client()["test"])
    s.ensure_indexes()
    return s


def history_in_clear(store, notifier, inbox, mod):
    mod.rule("word", "zut", "flag")
    mod.send(mod.bob, "z0", "rhubarbe archivée")        # seq 1: archived below
    mod.send(mod.admin, "a1", "artichaut")
    mod.send(mod.bob, "b1", "pamplemousse zut")
    for n in range(5):
        mod.send(mod.bob, f"n{n}", f"rhubarbe {n}")
    mod.drain()
    first = store.messages.find_message_by_client_id(mod.conv.id, mod.admin.id, "a1")
    submit_change(store, inbox, lambda c: None, mod.admin, first.id, content="betterave")
    mod.send(mod.dan, "d1", "courgette", replyTo=first.id)
    mod.drain()
    flagged = store.messages.find_message_by_client_id(mod.conv.id, mod.bob.id, "b1")
    reviews.do_report(store, notifier, mod.dan, flagged.id, "framboise")
    scheduling.do_schedule(store, mod.bob, mod.conv.id, ScheduledMessageCreate(
        clientId="s1", content="mandarine", sendAt=(utcnow() + timedelta(hours=1)).isoformat()),
        now=utcnow(), limits=scheduling.Limits())
    store.upkeep.archive_messages(store.upkeep.messages_to_archive(mod.conv.id, below_seq=2, before=None, limit=5))
    return first


def turn_encryption_on(store, group_id) -> Store:
    store.db.groups.update_one({"_id": group_id}, {"$set": {"settings.encryption": True}})
    return Store(store.db, LocalMasterKeys(MASTER))


def in_clear(db) -> list[str]:
    dump = b"".join(bson.encode(d) for name in db.list_collection_names() for d in db[name].find()).lower()
    return [w for w in WRITTEN if w.encode() in dump]


def test_the_walk_seals_what_was_stored_before_and_readers_see_the_same(store, notifier, inbox, mod):
    first = history_in_clear(store, notifier, inbox, mod)
    assert in_clear(store.db) == list(WRITTEN)
    sealed = turn_encryption_on(store, mod.group)
    assert sealed.vault.encrypted(mod.conv.id)           # its key, made as the settings route makes it

    def found(s, text):
        return [m.content for m in search_messages(s, mod.dan, mod.conv.id, SearchQuery(text, None, 20)).messages]
    # Before the walk: old texts read and found as they are.
    assert found(sealed, "rhubarbe")[-1] == "rhubarbe 0" and found(sealed, "betterave") == ["betterave"]

    others: list[tuple[str, int]] = []
    answers = [3, 0]          # another capability's sealer: 3 sealed, then none left
    runs = 0
    while not (result := seal_stored(sealed, now=utcnow(), messages=4, batch=2,
                                     sealers=[lambda s, c, n: others.append((c, n)) or answers.pop(0)])).finished:
        runs += 1
        assert result.conversations == 1 and runs < 20   # bounded: a few messages a run, resumed
    assert runs >= 2 and others == [(mod.conv.id, 2)] * 2   # called until it answers 0
    assert in_clear(store.db) == []
    for name in ("messages", "messages_archive"):
        for doc in store.db[name].find({"type": {"$ne": "system"}}):
            assert isinstance(doc["content"], Binary) and all(w.startswith("#") for w in doc["words"]), doc
    # The readers see the same texts.
    message = sealed.messages.get_message(first.id)
    assert (message.content, [e.content for e in message.editHistory]) == ("betterave", ["artichaut"])
    reply = sealed.messages.find_message_by_client_id(mod.conv.id, mod.dan.id, "d1")
    assert reply.metadata.quote.excerpt == "betterave"
    assert found(sealed, "rhubarbe")[-1] == "rhubarbe 0" and found(sealed, "courgette") == ["courgette"]
    [item] = reviews.list_reviews(sealed, mod.carol, mod.group, reviews.ReviewQuery(("pending",), None,
                                                                                   IdPage(None, 10)))["reviews"]
    assert item["message"]["content"] == "pamplemousse zut"
    assert "framboise" in [e["reason"] for e in list_log(sealed, mod.carol, mod.group, IdPage(None, 50))["entries"]]
    [scheduled] = scheduling.list_scheduled(sealed, mod.bob, mod.conv.id, IdPage(None, 10))["scheduledMessages"]
    assert scheduled["content"] == "mandarine"
    # Done once: the key is marked, a second run walks nothing.
    assert store.db.data_keys.find_one({"scope": mod.conv.id})["sealedAt"] is not None
    assert seal_stored(sealed, now=utcnow()).conversations == 0


def test_the_repair_job_runs_the_walk(store, notifier, inbox, mod):
    history_in_clear(store, notifier, inbox, mod)
    sealed = turn_encryption_on(store, mod.group)
    sealed.vault.encrypted(mod.conv.id)
    result = repair(sealed, stranded_inboxes=lambda: [], enqueue_drain=lambda c: None, now=utcnow())
    assert result.conversations_sealed == 1 and in_clear(store.db) == []


def test_a_plain_conversation_is_never_walked(store, notifier, inbox, mod):
    history_in_clear(store, notifier, inbox, mod)
    plain = Store(store.db, LocalMasterKeys(MASTER))      # encryption available, not asked for
    assert seal_stored(plain, now=utcnow()).conversations == 0
    assert in_clear(store.db) == list(WRITTEN)
