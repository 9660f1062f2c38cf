"""pipelines/media/remote.py and the media job on a GIF send: the send's refusals, and the copy from the local
provider server (tests/gif_provider.py: real HTTP, real GIF/WebP/MP4 files) or from the group's own files,
through the verification, metadata and thumbnails steps; each refusal with its code and nothing left in S3."""
from __future__ import annotations

import io

import pytest
import redis as redis_lib
from PIL import Image

from infra.gifs import FetchPolicy
from pipelines.gifs.offers import remember_offers
from pipelines.media import job
from pipelines.media.remote import GifLimits, RemoteFetch, RemoteUnavailable
from pipelines.messages.drain import drain_inbox
from pipelines.messages.submit import GifSending, submit_message
from schemas.common import utcnow
from schemas.documents import GifOffer
from schemas.errors import ApiError
from schemas.payloads import MessageSend
from tests.gif_provider import CATALOGUE, animated_gif, gif_provider, gif_provider_server, media_file  # noqa: F401
from tests.pipelines.media.world import LIMITS, world  # noqa: F401 - world: the fixture

BY_NAME = {gif.name: gif for gif in CATALOGUE}
MAX_BYTES = 1 << 20


@pytest.fixture
def gifs(world, redis_server, gif_provider, store, inbox, notifier):
    """The world, with the provider's host allowed (HTTP and a loopback address: tests only), a Redis for
    the offers, and helpers to offer a GIF to a user, send it, and run the queued copy."""
    client = redis_lib.Redis.from_url(redis_server.url)
    fetcher = FetchPolicy((gif_provider.media_host,), MAX_BYTES, 0.5, allow_http=True, allow_private=True)
    world.io.remote = RemoteFetch(providers={"giphy": fetcher}, attempts=2, quota_bytes=LIMITS.quota_bytes)
    queued: list[str] = []
    sending = GifSending(client, GifLimits(MAX_BYTES, LIMITS.quota_bytes), queued.append)

    def offer(name: str, rendition: str = "original.gif", *, mime: str | None = None, who=None, size=None,
              provider="giphy", media_id=None) -> GifOffer:
        url = gif_provider.media_url(name, rendition) if provider != "library" else None
        declared = size if size is not None else (len(media_file(BY_NAME[name], rendition)[0]) if url else None)
        mime = mime or {"gif": "image/gif", "webp": "image/webp", "mp4": "video/mp4"}[rendition.rsplit(".", 1)[1]]
        made = GifOffer(id=f"{provider}:{media_id or name}", provider=provider,
                        title=BY_NAME[name].title if url else name, width=96, height=72, previewUrl=url or "/thumb",
                        mediaUrl=url, mime=mime, size=declared, mediaId=media_id)
        remember_offers(client, (who or world.alice).id, [made])
        return made

    def send(gif_id: str, client_id: str = "g1", who=None):
        submit_message(store, inbox, lambda c: None, who or world.alice,
                       MessageSend(convId=world.conv.id, clientId=client_id, gif={"id": gif_id}), gifs=sending)
        drain_inbox(world.conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda c: None)
        return store.messages.find_message_by_client_id(world.conv.id, (who or world.alice).id, client_id)

    def copy(media_id: str):
        return job.process_media(media_id, world.io)

    world.offer, world.send, world.copy, world.queued, world.redis = offer, send, copy, queued, client
    return world


def _usage(store, user_id) -> int:
    return (store.db.upload_usage.find_one({"_id": user_id}) or {}).get("bytes", 0)


@pytest.mark.parametrize("rendition,mime,kind", [("original.gif", "image/gif", "image"),
                                                 ("original.webp", "image/webp", "image"),
                                                 ("original.mp4", "video/mp4", "video")])
def test_a_gif_webp_or_mp4_becomes_a_ready_file_copied_into_s3_with_a_still_thumbnail(
        store, emitter, gifs, rendition, mime, kind):
    gifs.offer("happycat", rendition)
    message = gifs.send("giphy:happycat")
    media_id = message.metadata.files[0]["mediaId"]
    assert message.type == "media" and gifs.queued == [media_id]
    assert message.metadata.files[0]["status"] == "processing"
    assert message.metadata.files[0]["gif"] == {"provider": "giphy", "title": "happy cat dancing"}

    result = gifs.copy(media_id)

    assert result.status == "ready", store.media.get_media(media_id).error
    media = store.media.get_media(media_id)
    provided, _ = media_file(BY_NAME["happycat"], rendition)
    assert gifs.blobs._objects[media.key][0] == provided                  # the provider's bytes, in S3
    assert media.mimeType == mime and media.fileType == kind and media.fileSize == len(provided)
    assert media.animated is True and media.metadata["dimensions"] == {"width": 96, "height": 72}
    assert media.filename == f"happy-cat-dancing.{rendition.rsplit('.', 1)[1]}"
    assert media.processingSteps["upload"].result == "copied from giphy"
    still = Image.open(io.BytesIO(gifs.blobs._objects[media.variants["small"].key][0]))
    assert still.format == "WEBP" and getattr(still, "n_frames", 1) == 1 and still.size == (96, 72)
    assert _usage(store, gifs.alice.id) == len(provided)                  # the quota counts the bytes held
    shown = store.messages.get_message(message.id).metadata.files[0]
    assert shown["status"] == "ready" and shown["animated"] is True and shown["gif"]["provider"] == "giphy"
    assert "source" not in media.public() and "url" not in str(shown)     # the provider's URL stays ours


@pytest.mark.parametrize("name,rendition,mime,code", [
    ("liar", "original.gif", None, "invalid_gif"),            # HTML declared as a GIF
    ("happycat", "original.gif", "image/webp", "invalid_gif"),  # a GIF declared as a WebP
    ("huge", "original.gif", None, "invalid_gif"),            # declared 4 KiB, over GIF_MAX_BYTES in fact
    ("elsewhere", "original.gif", None, "invalid_gif"),       # a redirect to another host
])
def test_a_copy_that_is_not_what_the_provider_said_is_refused_and_leaves_nothing(
        store, emitter, gifs, name, rendition, mime, code):
    gifs.offer(name, rendition, mime=mime)
    message = gifs.send(f"giphy:{name}")
    media_id = message.metadata.files[0]["mediaId"]

    assert gifs.copy(media_id).status == "failed"

    media = store.media.get_media(media_id)
    assert media.error["code"] == code and media.processingSteps["upload"].status in ("failed", "done")
    assert list(gifs.blobs.keys(f"media/{gifs.conv.id}/{media_id}/")) == []
    assert _usage(store, gifs.alice.id) == 0
    assert store.messages.get_message(message.id).metadata.files[0]["error"]["code"] == code
    assert [d["status"] for d, _ in emitter.of("media:updated")][-1] == "failed"


def test_a_provider_that_times_out_is_retried_then_refused(store, gifs, gif_provider):
    gif_provider.slow_seconds = 2.0
    gifs.offer("slow")
    media_id = gifs.send("giphy:slow").metadata.files[0]["mediaId"]

    with pytest.raises(RemoteUnavailable):   # the task retries (workers/reliability.py)
        gifs.copy(media_id)
    assert store.media.get_media(media_id).status == "processing"
    assert store.media.get_media(media_id).source.attempts == 1

    assert gifs.copy(media_id).status == "failed"   # its last attempt
    media = store.media.get_media(media_id)
    assert media.error["code"] == "gif_unavailable"
    assert list(gifs.blobs.keys(f"media/{gifs.conv.id}/")) == [] and _usage(store, gifs.alice.id) == 0


def test_a_gif_never_offered_or_offered_to_someone_else_is_refused_and_nothing_is_made(store, inbox, gifs):
    gifs.offer("happycat", who=gifs.bob)
    for gif_id in ("giphy:neverseen", "giphy:happycat"):
        with pytest.raises(ApiError) as refused:
            submit_message(store, inbox, lambda c: None, gifs.alice, MessageSend(
                convId=gifs.conv.id, clientId="x", gif={"id": gif_id}),
                gifs=GifSending(gifs.redis, GifLimits(MAX_BYTES, LIMITS.quota_bytes), gifs.queued.append))
        assert refused.value.code == "invalid_gif"
    assert store.db.media.count_documents({}) == 0 and inbox.pending(gifs.conv.id) == 0 and gifs.queued == []


def test_a_retried_send_carries_the_file_of_its_first_attempt(store, gifs):
    gifs.offer("happycat")
    first = gifs.send("giphy:happycat", client_id="again")
    second = gifs.send("giphy:happycat", client_id="again")
    assert first.id == second.id and store.db.media.count_documents({}) == 1 and len(gifs.queued) == 1


def test_an_animated_upload_is_marked_and_a_library_gif_is_copied_inside_s3(store, gifs):
    data = animated_gif(64, 48, (10, 200, 90), frames=4)
    created = gifs.upload(data, "image/gif", name="party.gif", who=gifs.bob)
    assert gifs.finish(created["id"], who=gifs.bob).status == "ready"
    stored = store.media.get_media(created["id"])
    assert stored.animated is True and stored.metadata["frames"] == 4
    assert "party" in store.db.media.find_one({"_id": stored.id})["gifWords"]   # in the group's library

    gifs.offer("party", provider="library", media_id=stored.id, mime="image/gif")
    message = gifs.send(f"library:{stored.id}")
    media_id = message.metadata.files[0]["mediaId"]
    assert gifs.copy(media_id).status == "ready"
    copy = store.media.get_media(media_id)
    assert copy.id != stored.id and copy.key != stored.key and copy.uploadedBy == gifs.alice.id
    assert gifs.blobs._objects[copy.key][0] == gifs.blobs._objects[stored.key][0]
    assert copy.processingSteps["upload"].result == "copied from library" and copy.animated is True


def test_a_library_gif_deleted_or_out_of_reach_is_refused(store, gifs):
    created = gifs.upload(animated_gif(32, 32, (1, 2, 3)), "image/gif", name="gone.gif", who=gifs.alice,
                          conv_id=gifs.other.id)   # a conversation bob is not in
    gifs.finish(created["id"])
    gifs.offer("gone", provider="library", media_id=created["id"], mime="image/gif", who=gifs.bob)
    with pytest.raises(ApiError) as refused:
        gifs.send(f"library:{created['id']}", who=gifs.bob)
    assert refused.value.code == "invalid_gif"
    store.media.mark_media_deleted(created["id"], gifs.alice.id, utcnow())
    gifs.offer("gone", provider="library", media_id=created["id"], mime="image/gif")
    with pytest.raises(ApiError) as refused:
        gifs.send(f"library:{created['id']}")
    assert refused.value.code == "invalid_gif" and store.db.media.count_documents({}) == 1


def test_a_copy_whose_task_is_lost_is_queued_again_once_then_failed_by_the_sweeper(store, gifs):
    """The copy is bounded like every media job (pipelines/upkeep/sweeper.py): its enqueue failed, or its
    retries ran out, and nothing moves it; the message shows the failure."""
    from datetime import timedelta

    from pipelines.upkeep.sweeper import sweep_media

    gifs.offer("happycat")
    message = gifs.send("giphy:happycat")
    media_id = message.metadata.files[0]["mediaId"]
    requeued: list[str] = []
    later = utcnow() + timedelta(hours=1)
    bounds = dict(processing_timeout=timedelta(minutes=30), upload_ttl=timedelta(hours=1))
    assert sweep_media(gifs.io, requeued.append, now=later, **bounds).done == {"requeued": 1}
    assert requeued == [media_id]
    assert sweep_media(gifs.io, requeued.append, now=later + timedelta(hours=1), **bounds).done == {"failed": 1}
    media = store.media.get_media(media_id)
    assert media.status == "failed" and media.error["code"] == "processing_timeout"
    assert _usage(store, gifs.alice.id) == 0
    assert store.messages.get_message(message.id).metadata.files[0]["status"] == "failed"


def test_a_gif_send_the_inbox_refuses_leaves_no_file_and_no_reservation(store, inbox, gifs):
    gifs.offer("happycat")
    with pytest.raises(ApiError) as refused:
        submit_message(store, inbox, lambda c: None, gifs.alice, MessageSend(
            convId=gifs.conv.id, clientId="full", gif={"id": "giphy:happycat"}), max_backlog=0,
            gifs=GifSending(gifs.redis, GifLimits(MAX_BYTES, LIMITS.quota_bytes), gifs.queued.append))
    assert refused.value.code == "rate_limited"
    assert store.db.media.count_documents({}) == 0 and _usage(store, gifs.alice.id) == 0 and gifs.queued == []
    assert gifs.send("giphy:happycat", client_id="full").metadata.files[0]["status"] == "processing"  # the retry
