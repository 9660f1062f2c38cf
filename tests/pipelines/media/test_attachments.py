"""pipelines/media/attachments.py: a message carrying files is delivered at once, then updated when they are ready."""
from __future__ import annotations



from bench.thumbnails import photo_jpeg
from pipelines.media import job, uploads
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import submit_message
from schemas.payloads import MessageSend
from tests.pipelines.media.world import world  # noqa: F401 - world: the fixture


def test_a_message_with_files_is_delivered_at_once_then_updated_when_ready(store, inbox, notifier, emitter, world):
    created = world.upload(photo_jpeg((640, 480), orientation=1), "image/jpeg")
    uploads.do_complete_upload(store, lambda m: None, world.alice, created["id"])
    submit_message(store, inbox, lambda c: None, world.alice, MessageSend(
        convId=world.conv.id, clientId="pic", content="", attachments=[created["id"]]))
    drain_inbox(world.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
    [(new, room)] = emitter.of("message:new")
    assert room == f"conv:{world.conv.id}" and new["type"] == "image" and new["content"] == ""
    assert new["metadata"]["files"][0]["status"] == "processing"
    job.process_media(created["id"], world.io)
    [(updated, _)] = emitter.of("message:updated")  # one update, when the files are ready
    [summary] = updated["metadata"]["files"]
    assert summary["status"] == "ready" and set(summary["variants"]) == {"small", "large"}
    assert summary["dimensions"] == {"width": 640, "height": 480}
