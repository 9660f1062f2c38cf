"""Encryption at rest with the real system (ENCRYPT_ALL=1 and a master key; embedded store, in-process
worker, real Redis): send, edit, reply and search over the socket and REST read as they always did. (That
the database holds none of it: tests/pipelines/messages/test_encryption.py, on the store's raw BSON.)"""
from __future__ import annotations

import pytest

from infra.crypto import LocalMasterKeys
from tests.e2e.harness import Api, make_conversation, own_system, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sealed_system():
    with own_system(ENCRYPT_ALL="1", ENCRYPTION_MASTER_KEYS=LocalMasterKeys.generate("e2e")) as system:
        yield system


def test_send_edit_reply_and_search_over_socket_and_rest(sealed_system):
    alice, bob = Api(sealed_system), Api(sealed_system)
    _, conv = make_conversation(alice, bob)
    path = f"/api/conversations/{conv['id']}"
    a, b = alice.socket(), bob.socket()
    try:
        for s in (a, b):
            s.wait_for("session:ready")
            assert s.call("conv:subscribe", {"convId": conv["id"]})["ok"]
        a.call("message:send", {"convId": conv["id"], "clientId": "s1", "content": "we deployed the checkout"})
        [first] = b.wait_for("message:new")
        assert first["content"] == "we deployed the checkout"
        bob.ok("POST", f"{path}/messages", json={"clientId": "r1", "content": "which build?", "replyTo": first["id"]})
        reply = b.wait_for("message:new", 2)[-1]
        assert reply["metadata"]["quote"]["excerpt"] == "we deployed the checkout"

        assert a.call("message:edit", {"messageId": first["id"], "content": "we deployed the cart"})["ok"]
        updates = b.wait_for("message:updated", 2)   # the message, then the reply's quote
        edited = next(u for u in updates if u["id"] == first["id"])
        assert [e["content"] for e in edited["editHistory"]] == ["we deployed the checkout"]
        requoted = next(u for u in updates if u["id"] == reply["id"])
        assert requoted["metadata"]["quote"]["excerpt"] == "we deployed the cart"
    finally:
        a.close()
        b.close()

    history = bob.chat(conv["id"])
    assert [m["content"] for m in history] == ["we deployed the cart", "which build?"]
    assert history[0]["editHistory"][0]["content"] == "we deployed the checkout"
    assert history[1]["metadata"]["quote"]["excerpt"] == "we deployed the cart"

    def found(params, where=f"{path}/search"):
        page = bob.ok("GET", where, params=params)
        return [m["content"] for m in page["messages"]] if "messages" in page else \
            [m["content"] for r in page["results"] for m in r["messages"]]
    assert found({"q": "cart"}) == ["we deployed the cart"]
    assert found({"q": "deploy"}) == ["we deployed the cart"]          # a stem
    assert found({"q": "checkout"}) == []                              # the edit's old words are gone
    assert found({"q": "buil"}) == []                                  # no prefix in an encrypted conversation
    assert found({"q": "build"}, "/api/search") == ["which build?"]
    wait_until(lambda: found({"q": "which"}) == ["which build?"], what="search")
