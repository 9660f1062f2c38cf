"""pipelines/media/uploads.py: resuming an upload from the parts S3 holds, and a specific error for each bad input."""
from __future__ import annotations

import hashlib

import pytest

from pipelines.media import uploads
from pipelines.messages.submit import submit_message
from schemas.errors import ApiError, Code
from schemas.payloads import MessageSend, UploadCreate
from tests.pipelines.media.world import LIMITS, PART, world  # noqa: F401 - world: the fixture


def test_an_interrupted_upload_resumes_from_the_parts_s3_holds(store, world):
    data = b"PK\x03\x04" + bytes(range(256)) * ((2 * PART + 12345) // 256 + 1)
    data = data[:2 * PART + 12345]  # three parts, of a zip (by its magic bytes)
    created = world.upload(data, "application/zip", name="archive.zip", parts=[1])
    status = uploads.upload_status(store, world.blobs, world.alice, created["id"])
    assert status["uploadedParts"] == [1] and status["partCount"] == 3
    urls = uploads.part_urls(store, world.blobs, LIMITS, world.alice, created["id"], [2, 3])["urls"]
    for n in (2, 3):
        world.blobs.accept_put(urls[str(n)], data[(n - 1) * PART:n * PART])
    assert world.finish(created["id"]).status == "ready"
    stored = world.blobs._objects[store.media.get_media(created["id"]).key][0]
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


def test_bad_input_gets_a_specific_error_and_changes_nothing(store, inbox, world):
    def create(**kw):
        body = {"convId": world.conv.id, "filename": "f.jpg", "size": 10, "mimeType": "image/jpeg", **kw}
        who = body.pop("who", world.alice)
        return uploads.do_create_upload(store, world.blobs, LIMITS, who, UploadCreate(**body))

    for kw, code in [({"size": 51 << 20}, Code.FILE_TOO_LARGE), ({"mimeType": "application/x-msdownload"},
                     Code.UNSUPPORTED_TYPE), ({"mimeType": "application/postscript"}, Code.UNSUPPORTED_TYPE),
                     ({"who": world.eve}, Code.NOT_A_MEMBER)]:
        with pytest.raises(ApiError) as err:
            create(**kw)
        assert err.value.code == code, kw
    store.db.upload_usage.update_one({"_id": world.alice.id}, {"$set": {"bytes": 55 << 20}}, upsert=True)
    with pytest.raises(ApiError) as err:
        create(size=10 << 20)
    assert (err.value.code, err.value.status) == (Code.QUOTA_EXCEEDED, 413)
    store.db.upload_usage.update_one({"_id": world.alice.id}, {"$set": {"bytes": 0}})
    assert store.db.media.count_documents({}) == 0 and list(world.blobs.multipart_uploads()) == []

    created = world.upload(b"x" * 10, "text/plain", name="a.txt")
    for call, code in [(lambda: uploads.part_urls(store, world.blobs, LIMITS, world.alice, created["id"], [0, 2]),
                        Code.INVALID_PART),
                       (lambda: uploads.part_urls(store, world.blobs, LIMITS, world.bob, created["id"], [1]), Code.FORBIDDEN),
                       (lambda: uploads.do_complete_upload(store, lambda m: None, world.bob, created["id"]), Code.FORBIDDEN)]:
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.code == code
    # Both refusals of another member's upload are logged, as every "is this yours?" refusal is.
    assert store.db.activity_logs.count_documents({"userId": world.bob.id, "action": "denied", "resourceId": created["id"],
                                                   "metadata.reason": "not the uploader"}) == 2
    world.finish(created["id"])
    with pytest.raises(ApiError) as err:  # twice
        uploads.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    assert err.value.code == Code.ALREADY_COMPLETED

    mine_elsewhere = world.upload(b"y", "text/plain", name="b.txt", conv_id=world.other.id)
    for who, ids, code in [(world.bob, [created["id"]], Code.INVALID_ATTACHMENT),
                           (world.alice, [mine_elsewhere["id"]], Code.INVALID_ATTACHMENT),
                           (world.alice, ["0" * 24], Code.NOT_FOUND)]:
        with pytest.raises(ApiError) as err:
            submit_message(store, inbox, lambda c: None, who, MessageSend(convId=world.conv.id, clientId="c",
                                                                          attachments=ids))
        assert err.value.code == code
    assert inbox.pending(world.conv.id) == 0
