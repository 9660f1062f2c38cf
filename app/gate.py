"""The write gate of this process (pipelines.gate), built for the routes and socket handlers that write."""
from __future__ import annotations

from infra.runtime import get_runtime
from pipelines.policy.gate import Gate
from workers.enqueue import enqueue_reviews


def write_gate() -> Gate:
    """The store, the rate limits shared by every web process, this process's compiled filter rules, and
    the moderation queue for what a rule flags."""
    rt = get_runtime()
    return Gate(rt.store, rt.rate_limits, rt.filter_cache, enqueue_reviews)
