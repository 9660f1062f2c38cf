"""Entry point of the web process: ``python -m app``.

With the embedded defaults (no REDIS_URL, no MONGO_URL, no S3_ENDPOINT_URL) it also starts a real
redis-server, a moto S3 server and a Celery worker pool inside this process (the in-memory store cannot
be shared between processes), so one command runs the whole system. Ctrl-C stops all of it.
"""
import eventlet

eventlet.monkey_patch()  # first, before anything imports socket, threading or ssl

import eventlet.hubs  # noqa: E402
import gc  # noqa: E402
import greenlet  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from app import websocket_mask  # noqa: E402
from infra.config import get_settings, use_settings  # noqa: E402

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
    redis_server = None
    if not settings.redis_url:
        from infra.embedded.redis_server import RedisServer
        redis_server = RedisServer(port=settings.embedded_redis_port).start()
        settings = use_settings(settings.model_copy(update={"redis_url": redis_server.url}))
        log.info("started redis-server on %s (embedded, not persistent)", redis_server.url)
    s3_server = None
    if settings.embedded_s3:
        from infra.embedded.s3_server import MotoS3Server
        s3_server = MotoS3Server(port=settings.embedded_s3_port).start()
        settings = use_settings(settings.model_copy(update={
            "s3_endpoint_url": s3_server.url,
            "aws_access_key_id": settings.aws_access_key_id or "test",
            "aws_secret_access_key": settings.aws_secret_access_key or "test"}))
        log.info("started moto S3 on %s (embedded, not persistent)", s3_server.url)

    from app.web import create_app, socketio
    from infra.runtime import get_runtime

    websocket_mask.install()  # eventlet unmasks client frames one byte object at a time

    app = create_app(settings)
    get_runtime().store.ping()  # connect, create indexes, announce an embedded store: now, not at the first request
    _ensure_bucket(settings)
    if not settings.clamd_url:
        log.info("no CLAMD_URL: uploads are not scanned for viruses (their scan step is recorded as skipped)")

    workers = []
    if settings.run_embedded_workers:
        from app.embedded_worker import EmbeddedWorker, worker_app
        from workers.celery_app import CPU_QUEUES, QUEUES
        workers = [EmbeddedWorker(settings.worker_concurrency, tuple(q for q in QUEUES if q not in CPU_QUEUES)).start(),
                   # Two slots per CPU child: one may download or upload while the other computes.
                   EmbeddedWorker(2 * settings.cpu_workers, CPU_QUEUES, name="embedded-cpu", app=worker_app()).start()]
        eventlet.spawn_n(_warm_cpu_children)
    beat = None
    if settings.run_embedded_beat:
        from app.embedded_worker import EmbeddedBeat
        beat = EmbeddedBeat().start()
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
    finally:
        log.info("stopping")
        if beat:
            beat.stop()
        for worker in workers:
            worker.stop()
        # Socket.IO's listener on Redis (running once a client has connected) would log an error, and
        # retry, for the Redis stopped below: an operator would read a failure in a clean stop.
        if socketio.server is not None:
            socketio.server.logger.setLevel(logging.CRITICAL)
        if redis_server:
            redis_server.stop()
        if s3_server:
            s3_server.stop()
    return 0


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


def _warm_cpu_children() -> None:
    """The embedded CPU children start now, with what media and export calls load (infra.embedded.cpu.warm_children),
    not at the first photo; a failure only means the first call starts its own child."""
    from infra.embedded.cpu import warm_children
    from infra.runtime import get_runtime
    try:
        warm_children(("pipelines.media.step_calls", "pipelines.exports.pdf"), get_runtime().blobs)
        log.info("CPU child processes started and loaded")
    except Exception:  # noqa: BLE001 - log and go on
        log.exception("could not start the CPU child processes ahead of use")


if __name__ == "__main__":
    sys.exit(main())
