"""GET /metrics: the web process's Prometheus exposition (its sockets, events and acks; with the embedded
workers, everything the workers count too), with the values read at scrape time (the inbox backlog, the
review queue). Transport only: who may scrape and what a scrape holds are infra.metrics_server's.

On PORT the rule is: with METRICS_TOKEN, the bearer token; without it, only when HOST is a loopback address,
for a request from this machine that no proxy forwarded (404 otherwise). With METRICS_PORT the same
exposition is also served by a listener of its own on METRICS_BIND, under the same rule."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from prometheus_client import CollectorRegistry

from infra.config import get_settings
from infra.metrics_server import (FORWARDED, build_registry, check_scrape, describe_rule, exposition, inbox_gauges,
                                  is_loopback, review_gauges, start_listener)
from infra.runtime import get_runtime

log = logging.getLogger(__name__)

metrics_api = Blueprint("metrics", __name__)
_registry: CollectorRegistry | None = None


def web_registry() -> CollectorRegistry:
    """The process's metrics and the scrape-time gauges, built at the first scrape (the runtime is ready)."""
    global _registry
    if _registry is None:
        scan_keys = get_settings().metrics_inbox_scan_keys
        _registry = build_registry(None, [inbox_gauges(lambda: get_runtime().inbox, scan_keys),
                                          review_gauges(lambda: get_runtime().store)])
    return _registry


@metrics_api.get("/metrics")
def metrics():
    settings = get_settings()
    local = is_loopback(settings.host) and is_loopback(request.remote_addr or "")
    refusal = check_scrape(settings.metrics_token, request.headers.get("Authorization"), local=local,
                           forwarded=any(h in request.headers for h in FORWARDED))
    if refusal is not None:
        return Response(refusal.body(), refusal.status, headers=refusal.headers())
    body, content_type = exposition(web_registry(), request.headers.get("Accept"))
    return Response(body, 200, content_type=content_type)


@metrics_api.record_once
def _announce(_state) -> None:
    """Say at start-up how /metrics answers here; start the METRICS_PORT listener when there is one."""
    settings = get_settings()
    log.info(describe_rule(settings.metrics_token, f"http://{settings.host}:{settings.port}",
                           is_loopback(settings.host)))
    if settings.metrics_port:
        start_listener(settings.metrics_token, settings.metrics_bind, settings.metrics_port, web_registry())
