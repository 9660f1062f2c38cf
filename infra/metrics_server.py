"""Prometheus exposition of a process: who may scrape (``check_scrape``), what a scrape holds (``build_registry``:
the process's own metrics, or every pool child's in multiprocess mode, and the values read at scrape time),
and the small HTTP listener a worker role serves them on (``start_listener``).

The rule, the same on every listener: with METRICS_TOKEN set, only ``Authorization: Bearer <token>``
(compared in constant time), 401 otherwise. Without it, only over a listener bound to a loopback address and
for a request no proxy forwarded; anything else is answered 404, so that /metrics is never open by
default on a public interface.
"""
from __future__ import annotations

import glob
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator
from wsgiref.simple_server import make_server

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler, choose_encoder

from infra.metrics import COLLECTOR_ERRORS, INBOX_BACKLOG, INBOX_DEAD_LETTERS, INBOXES_WAITING, REVIEW_QUEUE_SIZE
from schemas.errors import Code

log = logging.getLogger(__name__)

PATH = "/metrics"
# Headers a reverse proxy adds: such a request came from elsewhere, whatever address it arrived from.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def body(self) -> bytes:
        return json.dumps({"error": {"code": self.code, "message": self.message}}).encode()

    def headers(self) -> list[tuple[str, str]]:
        extra = [("WWW-Authenticate", 'Bearer realm="metrics"')] if self.status == 401 else []
        return [("Content-Type", "application/json"), *extra]


def is_loopback(host: str) -> bool:
    """``host`` (a listener's bind address) accepts connections from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_scrape(token: str | None, authorization: str | None, *, local: bool, forwarded: bool) -> Refusal | None:
    """None when the scrape may be answered, else why not. ``local``: the listener that took the request is
    bound to a loopback address; ``forwarded``: the request carries a proxy's forwarding header."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return Refusal(401, Code.UNAUTHORIZED.value, "metrics need Authorization: Bearer <METRICS_TOKEN>")
    if local and not forwarded:
        return None
    return Refusal(404, Code.NOT_FOUND.value, "metrics are served without a token only on a loopback listener, "
                   "not through a proxy: set METRICS_TOKEN to scrape them from elsewhere")


def describe_rule(token: str | None, where: str, local: bool) -> str:
    """The start-up line that says how ``where`` answers /metrics."""
    if token:
        return f"metrics: {where}{PATH} answers scrapes with the bearer token (METRICS_TOKEN)"
    if local:
        return f"metrics: {where}{PATH} answers local scrapes only (loopback listener, no METRICS_TOKEN)"
    return (f"metrics: {where}{PATH} is OFF (404): no METRICS_TOKEN, and {where} is not a loopback listener; "
            f"set METRICS_TOKEN, or scrape a METRICS_PORT listener bound to 127.0.0.1")


# -- what a scrape holds ------------------------------------------------------------------------------
class _Forward:
    """The process's own metrics (the default registry), inside the registry a listener serves."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _DeadChildren:
    """Multiprocess mode: the live-gauge files of pool children that died without their shutdown signal (a
    child killed) are removed before the files are read, as ``mark_process_dead`` does for one that exits."""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        for pid in {_pid_of(f) for f in glob.glob(os.path.join(self.path, "gauge_live*_*.db"))} - {None}:
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, self.path)
        return iter(())


def _pid_of(path: str) -> int | None:
    tail = os.path.basename(path).rsplit("_", 1)[-1].removesuffix(".db")
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the pid exists (PermissionError: it does, not ours)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class ScrapeGauges:
    """Gauges whose values are read when a scrape comes (a state of the system, not a count kept by hand).
    ``read`` returns one value per gauge; when it fails the scrape goes on without them: logged once until it
    works again, and counted in chat_metrics_collector_errors."""

    def __init__(self, name: str, gauges: tuple[tuple[str, str], ...], read: Callable[[], tuple[float, ...]]) -> None:
        self.name, self.gauges, self.read = name, gauges, read
        self.failing = False
        self._errors = COLLECTOR_ERRORS.labels(name)

    def collect(self) -> Iterator[Metric]:
        try:
            values = self.read()
        except Exception:  # noqa: BLE001 - a scrape without these values beats no scrape
            self._errors.inc()
            if not self.failing:
                log.warning("metrics: could not read %s; the scrapes go on without it", self.name, exc_info=True)
            self.failing = True
            return
        if self.failing:
            log.info("metrics: %s can be read again", self.name)
        self.failing = False
        for (name, documentation), value in zip(self.gauges, values):
            yield GaugeMetricFamily(name, documentation, value=value)


def inbox_gauges(inbox: Callable[[], object], scan_keys: int) -> ScrapeGauges:
    """chat_inbox_backlog, chat_inboxes_waiting and chat_inbox_dead_letters, from ``inbox().backlog``
    (infra.inbox.Inbox)."""
    return ScrapeGauges("inbox", (INBOX_BACKLOG, INBOXES_WAITING, INBOX_DEAD_LETTERS),
                        lambda: inbox().backlog(scan_keys))


def review_gauges(store: Callable[[], object]) -> ScrapeGauges:
    """chat_review_queue_size, from ``store().moderation.count_pending_reviews`` (an indexed count)."""
    return ScrapeGauges("review_queue", (REVIEW_QUEUE_SIZE,),
                        lambda: (store().moderation.count_pending_reviews(),))


def build_registry(multiproc_dir: str | None = None, collectors: Iterable[object] = ()) -> CollectorRegistry:
    """What this process's scrapes hold: its own metrics, or with ``multiproc_dir`` every pool child's (the
    files of prometheus_client's multiprocess mode), then ``collectors``."""
    registry = CollectorRegistry()
    if multiproc_dir:
        registry.register(_DeadChildren(multiproc_dir))
        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
    else:
        registry.register(_Forward())
    for collector in collectors:
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """(the body, its content type) in the text format the scraper asked for."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def clean_multiproc_dir(path: str) -> int:
    """Empty the multiprocess directory as a prefork role starts: files left by an earlier run (a pid reused
    would carry on its counts) go. Returns how many were removed."""
    os.makedirs(path, exist_ok=True)
    removed = 0
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)
        removed += 1
    return removed


def child_exited(pid: int, path: str) -> None:
    """A pool child is exiting: its live gauges leave the sums (its counters stay, as counters must)."""
    multiprocess.mark_process_dead(pid, path)


# -- the listener of a worker role --------------------------------------------------------------------
def metrics_app(registry: CollectorRegistry, token: str | None, local: bool):
    """The WSGI app of a metrics listener: GET /metrics under the rule, 404 for any other path."""

    def app(environ, start_response):
        if environ.get("PATH_INFO", "") not in (PATH, PATH + "/"):
            refusal = Refusal(404, Code.NOT_FOUND.value, f"only {PATH} is served here")
        else:
            forwarded = any(environ.get("HTTP_" + h.upper().replace("-", "_")) for h in FORWARDED)
            refusal = check_scrape(token, environ.get("HTTP_AUTHORIZATION"), local=local, forwarded=forwarded)
        if refusal is not None:
            start_response(f"{refusal.status} {'Unauthorized' if refusal.status == 401 else 'Not Found'}",
                           refusal.headers())
            return [refusal.body()]
        body, content_type = exposition(registry, environ.get("HTTP_ACCEPT"))
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _Server6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class Listener:
    """A threaded HTTP server on ``bind:port`` serving ``app`` from a daemon thread."""

    def __init__(self, bind: str, port: int, app) -> None:
        server_class = _Server6 if ":" in bind else ThreadingWSGIServer
        self.server = make_server(bind.strip("[]"), port, app, server_class, handler_class=_SilentHandler)
        self.bind, self.port = bind, self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics-listener", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_listener: Listener | None = None
_listener_lock = threading.Lock()


def start_listener(token: str | None, bind: str, port: int, registry: CollectorRegistry) -> Listener:
    """This process's metrics listener, started once: a second call (a worker and beat in one process, the
    embedded workers inside the web process) returns the one already serving."""
    global _listener
    with _listener_lock:
        if _listener is None:
            local = is_loopback(bind)
            _listener = Listener(bind, port, metrics_app(registry, token, local))
            log.info(describe_rule(token, f"http://{bind}:{_listener.port}", local))
        return _listener


def stop_listener() -> None:
    global _listener
    with _listener_lock:
        if _listener is not None:
            _listener.stop()
            _listener = None
