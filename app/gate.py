"""The write gate of this process (pipelines.gate), built for the routes and socket handlers that write; and
what a GIF send needs besides it."""
from __future__ import annotations

from infra.runtime import get_runtime
from pipelines.media.remote import GifLimits
from pipelines.messages.submit import GifSending
from pipelines.policy.gate import Gate
from workers.enqueue import enqueue_process, enqueue_reviews


def write_gate() -> Gate:
    """The store, the rate limits shared by every web process, this process's compiled filter rules, and
    the moderation queue for what a rule flags."""
    rt = get_runtime()
    return Gate(rt.store, rt.rate_limits, rt.filter_cache, enqueue_reviews)


def gif_sending() -> GifSending:
    """The offers (Redis), the bounds of a copied GIF, and the media queue its copy goes to."""
    rt = get_runtime()
    return GifSending(rt.redis, GifLimits(rt.settings.gif_max_bytes, rt.settings.upload_quota_bytes), enqueue_process)
