"""A group's settings over HTTP (GET/PATCH /api/groups/{id}/settings, the real app, a real Redis for its
events): who may read and change them, a partial update of strict fields, encryption refused without
master keys and one way, each change in the moderation log, and the data keys of every conversation of the
group made at once when encryption is turned on."""
from __future__ import annotations

import pytest
from bson.binary import Binary

from app.auth import issue_token
from app.web import create_app
from infra.config import Settings, get_settings, use_settings
from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.runtime import get_runtime
from infra.storage import Store
from schemas.common import new_id, utcnow
from schemas.documents import Conversation
from tests.conftest import make_conversation, make_user


def _world(redis_server, master: str | None):
    client = create_app(Settings(redis_url=redis_server.url)).test_client()
    store = Store(embedded_client()[f"settings-{new_id()}"], LocalMasterKeys(master) if master else None)
    store.ensure_indexes()
    get_runtime().__dict__["store"] = store        # this test's store, with or without master keys
    admin, bob, root = make_user(store, "admin"), make_user(store, "bob"), make_user(store, "root", role="ADMIN")
    conv = make_conversation(store, [admin, bob])
    second = Conversation(id=new_id(), groupId=conv.groupId, title="second", createdBy=admin.id, createdAt=utcnow())
    store.conversations.insert_conversation(second, [])
    elsewhere = make_conversation(store, [admin], "another group's")
    return {"client": client, "store": store, "conv": conv, "second": second, "elsewhere": elsewhere, "admin": admin, "bob": bob,
            "root": root, "url": f"/api/groups/{conv.groupId}/settings"}


@pytest.fixture
def world(redis_server):
    before = get_settings()
    try:
        yield _world(redis_server, LocalMasterKeys.generate("k1"))
    finally:
        use_settings(before)


@pytest.fixture
def keyless(redis_server):
    before = get_settings()
    try:
        yield _world(redis_server, None)
    finally:
        use_settings(before)


def call(world, who, method, path=None, body=None):
    headers = {"Authorization": f"Bearer {issue_token(world[who])}"} if who else {}
    return world["client"].open(path or world["url"], method=method, json=body, headers=headers)


def test_group_admins_and_system_admins_read_the_settings(world):
    r = call(world, "admin", "GET")
    assert r.status_code == 200, r.json
    assert r.json == {"groupId": world["conv"].groupId, "keepOriginalMetadata": False, "encryption": False,
                      "gifRating": "g", "encryptionAvailable": True}
    assert call(world, "root", "GET").status_code == 200
    assert call(world, "bob", "GET").json["error"]["code"] == "forbidden"
    assert call(world, None, "GET").status_code == 401
    assert call(world, "admin", "GET", "/api/groups/nope/settings").status_code == 404


def test_a_partial_update_changes_only_what_is_given_and_logs_it(world):
    r = call(world, "admin", "PATCH", body={"gifRating": "pg-13"})
    assert r.status_code == 200, r.json
    assert (r.json["gifRating"], r.json["keepOriginalMetadata"], r.json["encryption"]) == ("pg-13", False, False)
    r = call(world, "admin", "PATCH", body={"keepOriginalMetadata": True})
    assert (r.json["gifRating"], r.json["keepOriginalMetadata"]) == ("pg-13", True)
    assert world["store"].groups.get_group(world["conv"].groupId).settings.keepOriginalMetadata is True
    call(world, "admin", "PATCH", body={"keepOriginalMetadata": True})          # no change: nothing logged
    log = call(world, "admin", "GET", f"/api/groups/{world['conv'].groupId}/moderation/log").json["entries"]
    changes = [e["changes"] for e in log if e["action"] == "group_settings"]
    assert changes == [{"keepOriginalMetadata": {"from": False, "to": True}},
                       {"gifRating": {"from": "g", "to": "pg-13"}}]               # newest first
    assert all(e["actorName"] == world["admin"].username for e in log if e["action"] == "group_settings")


@pytest.mark.parametrize("body, problem", [
    ({}, "at least one"), ({"encryption": None}, "cannot be null"), ({"encryption": "yes"}, "boolean"),
    ({"keepOriginalMetadata": 1}, "boolean"), ({"gifRating": "nc-17"}, "gifRating"), ({"colour": "red"}, "colour"),
])
def test_bad_input_is_refused_and_changes_nothing(world, body, problem):
    r = call(world, "admin", "PATCH", body=body)
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_payload"
    assert problem in str(r.json["error"])
    assert call(world, "admin", "GET").json["gifRating"] == "g"
    assert call(world, "bob", "PATCH", body={"gifRating": "r"}).status_code == 403
    assert call(world, "admin", "GET").json["gifRating"] == "g"


def test_turning_encryption_on_makes_every_conversations_key_at_once_and_it_stays_on(world):
    store, conv, second = world["store"], world["conv"], world["second"]
    assert store.vault.seal(conv.id, "plain before") == "plain before"   # "no key" believed for a while
    r = call(world, "admin", "PATCH", body={"encryption": True})
    assert r.status_code == 200 and r.json["encryption"] is True
    for c in (conv, second):
        assert store.keys.current_key(c.id) is not None
        assert store.conversations.get_conversation(c.id).encrypted is True
    assert store.keys.current_key(world["elsewhere"].id) is None
    assert isinstance(store.vault.seal(conv.id, "sealed at once"), Binary)
    listed = call(world, "bob", "GET", "/api/conversations").json["conversations"]
    assert [c["encrypted"] for c in listed] == [True]
    created = call(world, "admin", "POST", f"/api/groups/{conv.groupId}/conversations",
                   {"title": "new one", "members": [world["bob"].username]})
    assert created.status_code == 201 and created.json["encrypted"] is True
    r = call(world, "admin", "PATCH", body={"encryption": False})
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_settings"
    assert call(world, "admin", "GET").json["encryption"] is True
    log = call(world, "admin", "GET", f"/api/groups/{conv.groupId}/moderation/log").json["entries"]
    assert [e["changes"] for e in log if e["action"] == "group_settings"] == [
        {"encryption": {"from": False, "to": True}}]


def test_encryption_without_master_keys_is_unavailable(keyless):
    assert call(keyless, "admin", "GET").json["encryptionAvailable"] is False
    r = call(keyless, "admin", "PATCH", body={"encryption": True, "gifRating": "pg"})
    assert r.status_code == 409 and r.json["error"]["code"] == "encryption_unavailable"
    assert call(keyless, "admin", "GET").json["gifRating"] == "g"       # the whole change refused
    assert call(keyless, "admin", "PATCH", body={"encryption": False}).status_code == 200
