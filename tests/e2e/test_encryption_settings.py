"""Encryption at rest turned on by a group, end to end: a real system whose master key is in KMS (moto's
server over HTTP, the session's S3 server), the group setting over REST, the conversations marked
``encrypted`` in REST and ``session:ready``, the change in the moderation log; and a system without master
keys refusing it."""
from __future__ import annotations

import boto3

from tests.e2e.harness import Api, make_conversation, own_system
from tests.servers import session_s3_server


def test_a_group_turns_encryption_on_with_a_kms_master_key(clients):
    s3 = session_s3_server()
    kms = boto3.client("kms", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    arn = kms.create_key(Description="e2e master key")["KeyMetadata"]["Arn"]
    with own_system(ENCRYPTION_KMS_KEY_ID=arn, KMS_ENDPOINT_URL=s3.url) as system:
        admin, bob = Api(system), Api(system)
        group, conv = make_conversation(admin, bob)
        url = f"/api/groups/{group['id']}/settings"
        assert admin.ok("GET", url)["encryptionAvailable"] is True
        assert bob.call("PATCH", url, json={"encryption": True}).status_code == 403
        assert admin.ok("PATCH", url, json={"encryption": True, "gifRating": "pg"})["encryption"] is True
        assert [c["encrypted"] for c in bob.ok("GET", "/api/conversations")["conversations"]] == [True]
        socket = bob.socket()
        clients.append(socket)
        ready = socket.wait_for("session:ready")[0]
        assert [c["encrypted"] for c in ready["conversations"] if c["id"] == conv["id"]] == [True]
        later = admin.ok("POST", f"/api/groups/{group['id']}/conversations", json={"title": "later", "members": []})
        assert later["encrypted"] is True
        assert admin.call("PATCH", url, json={"encryption": False}).json()["error"]["code"] == "invalid_settings"
        log = admin.ok("GET", f"/api/groups/{group['id']}/moderation/log")["entries"]
        assert [e["changes"] for e in log if e["action"] == "group_settings"] == [
            {"encryption": {"from": False, "to": True}, "gifRating": {"from": "g", "to": "pg"}}]


def test_without_master_keys_a_group_cannot_turn_encryption_on(system):
    admin = Api(system)
    group, conv = make_conversation(admin)
    url = f"/api/groups/{group['id']}/settings"
    assert admin.ok("GET", url)["encryptionAvailable"] is False
    r = admin.call("PATCH", url, json={"encryption": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "encryption_unavailable"
    assert [c["encrypted"] for c in admin.ok("GET", "/api/conversations")["conversations"]
            if c["id"] == conv["id"]] == [False]
