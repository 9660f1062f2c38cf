"""The restore test (issue 25): messages written through the pipelines under master key k1, every collection
copied to a second database (the backup) and restored, the master key rotated there (k2 current alongside
k1, the data keys re-wrapped, then k1 removed), and history, edits, quotes and search read back by a fresh
Store that has only k2."""
from __future__ import annotations

import bson
import pytest

from infra.crypto import CryptoError, LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.messages.drain import drain_inbox
from pipelines.messages.history import read_history, search_messages
from pipelines.messages.submit import submit_change, submit_message
from schemas.payloads import HistoryWindow, MessageSend, SearchQuery
from tests.conftest import make_conversation, make_user

K1, K2 = LocalMasterKeys.generate("k1"), LocalMasterKeys.generate("k2")


def write(store, inbox, notifier):
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])

    def drain():
        drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    submit_message(store, inbox, lambda c: None, alice, MessageSend(convId=conv.id, clientId="a", content="we deployed"))
    drain()
    first = store.messages.find_message_by_client_id(conv.id, alice.id, "a")
    submit_message(store, inbox, lambda c: None, bob, MessageSend(convId=conv.id, clientId="b", content="which build?",
                                                                  replyTo=first.id))
    submit_change(store, inbox, lambda c: None, alice, first.id, content="we deployed the checkout")
    drain()
    return alice, bob, conv


def backup_and_restore(db, target):
    """What mongodump and mongorestore do: every document of every collection as BSON, into ``target``."""
    for name in db.list_collection_names():
        docs = [bson.decode(bson.encode(d)) for d in db[name].find()]
        if docs:
            target[name].insert_many(docs)


def test_a_restored_backup_reads_back_after_the_master_key_is_rotated(inbox, notifier):
    source = Store(embedded_client()["chat"], LocalMasterKeys(K1), encrypt_all=True)
    source.ensure_indexes()
    alice, bob, conv = write(source, inbox, notifier)

    restored = embedded_client()["chat"]             # another server's memory: the restore
    backup_and_restore(source.db, restored)
    rotating = Store(restored, LocalMasterKeys(f"{K2},{K1}"))
    assert rotating.vault.rewrap_all(rotating.keys.all_keys(), rotating.keys.rewrap) == 1
    assert {d["masterKeyId"] for d in restored.data_keys.find()} == {"k2"}

    fresh = Store(restored, LocalMasterKeys(K2))      # k1 removed
    fresh.ensure_indexes()
    page = read_history(fresh, bob, conv.id, HistoryWindow(before=None, after=None, limit=50))
    assert [m.content for m in page.messages] == ["we deployed the checkout", "which build?"]
    first, reply = page.messages
    assert [e.content for e in first.editHistory] == ["we deployed"]
    assert reply.metadata.quote.excerpt == "we deployed the checkout"
    found = search_messages(fresh, bob, conv.id, SearchQuery("checkout", None, 20)).messages
    assert [m.id for m in found] == [first.id]
    assert [m.id for m in search_messages(fresh, bob, conv.id, SearchQuery("deploy", None, 20)).messages] == [first.id]

    # k1 alone no longer opens the restored data; the original still opens with k1.
    with pytest.raises(CryptoError):
        Store(restored, LocalMasterKeys(K1)).messages.get_message(first.id)
    assert source.messages.get_message(first.id).content == "we deployed the checkout"
