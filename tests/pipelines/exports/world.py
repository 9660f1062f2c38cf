"""A conversation of every kind of message, MemoryBlobs and the job's I/O, for the export pipeline's tests:
``w`` is a fixture, imported where it is used; each test runs three ways (see ``w``)."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from infra.embedded.executor import EmbeddedExecutor
from infra.executor import DirectExecutor
from pipelines.exports.files import ExportSettings
from pipelines.exports.job import ExportIO, run_export
from pipelines.exports.requests import do_request_export
from schemas.common import new_id, utcnow
from schemas.documents import Edit, Message, MessageMetadata, Quote, Reaction, SenderInfo
from schemas.payloads import ExportCreate
from tests.conftest import make_conversation, make_user
from tests.fakes import MemoryBlobs


SETTINGS = ExportSettings(ttl=timedelta(hours=48), for_members=False, batch=50, lease_seconds=30, presign_seconds=300)


MARKUP = '<b>x</b> <img src="/etc/passwd"> R&D'


HEBREW = "שלום עולם"


ARABIC = "مرحبا بالعالم"


FORMULAS = ["=1+1", "@SUM(A1)", "+33 6 12", "-2+3", "\tTAB", "\rCR"]


class World:
    pass


def insert_message(store, conv, seq, sender, content, **extra) -> Message:
    now = utcnow() + timedelta(seconds=seq)
    m = Message(id=new_id(), convId=conv.id, seq=seq, clientId=f"c{seq}", senderId=sender.id,
                senderInfo=SenderInfo.of(sender), content=content, createdAt=now, updatedAt=now, **extra)
    store.messages.insert_message(m)
    store.conversations.advance_conversation(conv.id, seq, now)  # as the drain does once the message is announced
    return m


@pytest.fixture(params=["here", "in a snapshot", "embedded, small"])
def w(request, store, notifier, emitter):
    """Each test runs three ways: as a worker on MongoDB (JSON and CSV streamed to S3); as the embedded
    default's executor with a walk handed to its ``run_on_snapshot`` (which forks under eventlet; here,
    without an event loop, it is a plain call, which is enough for what the pipeline does with it: the
    file written first, then sent; tests/infra/test_cpu.py and tests/e2e/test_exports.py cover the fork
    itself); and as the embedded
    default with an export below ``fork_min_messages`` (walked here into a file, then sent)."""
    x = World()
    x.walk = request.param
    x.alice, x.bob = make_user(store, "alice", fname="Alice", lname="Martin"), make_user(store, "bob")
    x.carol = make_user(store, "carol")
    x.conv = make_conversation(store, [x.alice, x.bob])
    x.other = make_conversation(store, [x.carol], title="elsewhere")  # carol is the admin of another group
    x.blobs, x.emitter, x.store = MemoryBlobs(), emitter, store
    x.queued = []
    embedded = x.walk != "here"
    x.io = ExportIO(store=store, blobs=x.blobs, notifier=notifier,
                    settings=dataclasses.replace(SETTINGS, fork_min_messages=0 if x.walk == "in a snapshot" else 10**9),
                    executor=EmbeddedExecutor(snapshots=True) if embedded else DirectExecutor(), part_size=5 << 20)
    conv, alice, bob = x.conv, x.alice, x.bob
    insert_message(store, conv, 1, alice, "", type="system",
            metadata=MessageMetadata(systemAction="conversation_created", systemData={"username": "alice",
                                                                                     "title": "general"}))
    first = insert_message(store, conv, 2, alice, "Bonjour à tous, R&D meeting at 10")
    insert_message(store, conv, 3, bob, MARKUP, metadata=MessageMetadata(replyTo=first.id, quote=Quote.of(first)),
            reactions=[Reaction(userId=alice.id, emoji="👍", at=utcnow()), Reaction(userId=bob.id, emoji="👍", at=utcnow())])
    insert_message(store, conv, 4, bob, HEBREW)
    insert_message(store, conv, 5, alice, ARABIC)
    insert_message(store, conv, 6, bob, "secret plans", isDeleted=True, deletedAt=utcnow(), deletedBy=bob.id)
    insert_message(store, conv, 7, alice, "fixed text", isEdited=True, editedAt=utcnow(),
            editHistory=[Edit(content="typo txet", replacedAt=utcnow())])
    insert_message(store, conv, 8, bob, "", type="image", metadata=MessageMetadata(files=[{
        "mediaId": "m" * 24, "filename": "photo.jpg", "mimeType": "image/jpeg", "fileType": "image",
        "fileSize": 1234, "status": "ready"}]))
    for i, f in enumerate(FORMULAS):
        insert_message(store, conv, 9 + i, alice, f)
    seq = 9 + len(FORMULAS)
    for i in range(120):  # more than two windows of 50
        insert_message(store, conv, seq + i, bob if i % 2 else alice, f"message number {seq + i} emoji 🎉 中文")
    x.last = seq + 119

    def request(who=alice, conv_id=None, **body):
        return do_request_export(store, x.queued.append, SETTINGS, who, conv_id or conv.id,
                                         ExportCreate.model_validate({"format": "json", **body}))

    def run(export_id):
        return run_export(export_id, x.io)

    def file_of(export_id):
        e = store.exports.get_export(export_id)
        return x.blobs.open_read(e.key).read()

    x.request, x.run, x.file_of = request, run, file_of
    return x


def history_of(store, conv_id):
    return [m for m in store.messages.history(conv_id, before=None, after=0, limit=1000).messages]
