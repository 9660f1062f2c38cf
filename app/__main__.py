"""Entry point of the web process: ``python -m app``.

With the embedded defaults (no REDIS_URL, no MONGO_URL, no S3_ENDPOINT_URL) it also starts a real
redis-server, a moto S3 server and a Celery worker pool inside this process (the in-memory store cannot
be shared between processes), so one command runs the whole system. Ctrl-C stops all of it.
"""
from infra.quiet import filter_upstream_warnings

filter_upstream_warnings()  # before eventlet and dnspython are imported, which warn as they load

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first, before anything imports socket, threading or ssl

import eventlet.hubs  # noqa: E402
import gc  # noqa: E402
import greenlet  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from app import websocket_mask  # noqa: E402
from infra.config import Settings, get_settings  # noqa: E402

log = logging.getLogger("app")


def _raise_fd_limit() -> int:
    # eventlet's 1,024-connection default is lifted below; the process's file limit must follow.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> int:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from infra.runtime import start_embedded_servers
    settings, embedded = start_embedded_servers(settings)
    try:
        app = _prepare(settings, embedded)
        _serve(app, settings)
    finally:
        log.info("stopping")
        _quiet_socketio()
        embedded.stop()
    return 0


def _prepare(settings: Settings, embedded):
    """The Flask app, its store and bucket ready, the embedded workers started: what start-up builds."""
    from app.web import create_app
    from infra.runtime import get_runtime, start_embedded_workers
    from workers.celery_app import CPU_QUEUES, QUEUES, celery, celery_config

    websocket_mask.install()  # eventlet unmasks client frames one byte object at a time
    app = create_app(settings)
    get_runtime().store.ping()  # connect, create indexes, announce an embedded store: now, not at the first request
    _ensure_bucket(settings)
    if not settings.clamd_url:
        log.info("no CLAMD_URL: uploads are not scanned for viruses (their scan step is recorded as skipped)")
    start_embedded_workers(embedded, settings, celery, celery_config, QUEUES, CPU_QUEUES)
    if not settings.smtp_url:
        log.warning("SMTP_URL is not set: notifications are delivered in-app only (no email digests)")
    else:
        log.info("email digests through %s, from %s", get_runtime().mailer, settings.mail_from)

    # What start-up built (modules, classes, the app, the worker) lives as long as the process. Keep it
    # out of every future full collection: a full collection stops the whole process (every socket of
    # it) for as long as it takes to walk every tracked object.
    gc.collect()
    gc.freeze()
    log.info("%d start-up objects left out of garbage collection", gc.get_freeze_count())
    if settings.loop_stall_ms:
        from app.loop_watch import LoopWatch
        LoopWatch(settings.loop_stall_ms).start()
    return app


def _serve(app, settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT."""
    from app.web import socketio
    main_greenlet = greenlet.getcurrent()

    def stop(*_):
        # A signal interrupts whichever green thread is running (a socket handler, say), which would
        # swallow the exception; throw it into the main green thread, the one serving, instead.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        eventlet.hubs.get_hub().schedule_call_global(0, main_greenlet.throw, KeyboardInterrupt)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    max_connections = _raise_fd_limit()
    log.info("serving on http://%s:%s  (get a token: curl -s -X POST http://%s:%s/api/dev/token "
             "-H 'Content-Type: application/json' -d '{\"username\": \"alice\"}')",
             settings.host, settings.port, settings.host, settings.port)
    try:
        socketio.run(app, host=settings.host, port=settings.port, log_output=False,
                     max_size=max(1024, max_connections - 64))
    except KeyboardInterrupt:
        pass  # eventlet's server usually catches it and returns


def _quiet_socketio() -> None:
    # Socket.IO's listener on Redis (running once a client has connected) would log an error, and
    # retry, for the Redis stopped next: an operator would read a failure in a clean stop.
    from app.web import socketio
    if socketio.server is not None:
        socketio.server.logger.setLevel(logging.CRITICAL)


def _ensure_bucket(settings) -> None:
    """Create the bucket and its CORS rule (idempotent, on MinIO and AWS too); S3 being away does not stop
    the chat: /healthz says so, and uploads fail until it is back."""
    from infra.runtime import get_runtime
    try:
        get_runtime().blobs.ensure_bucket(settings.cors_origins)
        log.info("S3 bucket %s ready at %s (CORS for %s)", settings.s3_bucket, settings.s3_endpoint_url,
                 ", ".join(settings.cors_origins))
    except Exception:  # noqa: BLE001 - log and go on
        log.exception("could not prepare the S3 bucket %s at %s", settings.s3_bucket, settings.s3_endpoint_url)


if __name__ == "__main__":
    sys.exit(main())
