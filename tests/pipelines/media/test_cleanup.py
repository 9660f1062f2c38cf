"""pipelines/media/cleanup.py: abandoned uploads aborted, orphaned objects deleted."""
from __future__ import annotations

from datetime import timedelta


from pipelines.media import cleanup
from schemas.common import utcnow
from tests.pipelines.media.world import world  # noqa: F401 - world: the fixture


def test_cleanup_aborts_abandoned_uploads_and_deletes_orphans(store, world):
    abandoned = world.upload(b"z" * 100, "text/plain", name="z.txt", parts=[])
    finished = world.upload(b"ok", "text/plain", name="ok.txt")
    world.finish(finished["id"])
    world.blobs.put_bytes(f"media/{world.conv.id}/{'f' * 24}/original", b"orphan", "text/plain")
    later = utcnow() + timedelta(hours=2)
    report = cleanup.do_cleanup(store, world.blobs, now=later)
    assert report["aborted"] >= 1 and report["orphanObjects"] == 1
    assert list(world.blobs.multipart_uploads()) == [] and store.media.get_media(abandoned["id"]) is None
    assert list(world.blobs.keys("media/")) == [store.media.get_media(finished["id"]).key]
    assert cleanup.do_cleanup(store, world.blobs, now=later) == {"aborted": 0, "expiredRecords": 0, "orphanObjects": 0}
