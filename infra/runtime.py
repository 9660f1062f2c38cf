"""Composition root: the one module that builds the process's parts from the settings, and the only one
that enters the embedded default (infra/embedded/).

``Runtime`` builds, once per process, the connections (store, Redis, inbox, presence, blobs, scanner, mailer,
socket emitter), the services the pipelines receive (rate limits, filter cache, notifier, media limits,
export settings, scheduling limits) and the executor through which they run CPU calls and long walks.
``start_embedded_servers`` and ``start_embedded_workers`` start what the embedded default runs inside
``python -m app`` (redis-server, moto S3, Celery workers and beat, the CPU children).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, Callable

from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pymongo.database import Database
from redis import Redis

from infra.blobs import S3Blobs
from infra.config import Settings, get_settings, use_settings
from infra.emitter import SocketIOEmitter
from infra.executor import DirectExecutor, Executor
from infra.gifs import fetch_policy, make_provider
from infra.inbox import Inbox
from infra.mailer import SmtpMailer
from infra.crypto import LocalMasterKeys, MasterKeys
from infra.kms import KmsMasterKeys, MasterKeyRing
from infra.mongo import get_store, server_database
from infra.presence import PresenceRegistry
from infra.redis_pool import blocking_client, blocking_pool
from infra.scanner import ClamdScanner
from infra.storage import Store
from pipelines.events import Notifier
from pipelines.exports.files import ExportSettings
from pipelines.gifs.search import GifConfig
from pipelines.media.uploads import Limits as MediaLimits
from pipelines.moderation.screening import FilterCache
from pipelines.policy.rate_limits import RateLimits
from pipelines.scheduling.scheduled import Limits as SchedulingLimits

log = logging.getLogger(__name__)


def master_keys(settings: Settings) -> MasterKeys | None:
    """What wraps the data keys of encryption at rest (docs/security.md): the KMS key when
    ENCRYPTION_KMS_KEY_ID is set (with ENCRYPTION_MASTER_KEYS too, those local keys still unwrap what they
    wrapped: the way from local keys to KMS), else the local master keys; on the embedded default with
    ENCRYPT_ALL and neither, a random key for this run; else none (encryption off)."""
    local = LocalMasterKeys(settings.encryption_master_keys) if settings.encryption_master_keys else None
    if settings.encryption_kms_key_id:
        kms = KmsMasterKeys(settings.encryption_kms_key_id, settings.kms_endpoint_url,
                            settings.kms_region or settings.s3_region,
                            {"aws_access_key_id": settings.aws_access_key_id,
                             "aws_secret_access_key": settings.aws_secret_access_key})
        return MasterKeyRing(kms, local) if local else kms
    if local:
        return local
    if settings.encrypt_all:
        if not settings.embedded_store:
            raise RuntimeError("ENCRYPT_ALL needs ENCRYPTION_MASTER_KEYS or ENCRYPTION_KMS_KEY_ID")
        log.warning("ENCRYPT_ALL without ENCRYPTION_MASTER_KEYS: a random master key for this run")
        return LocalMasterKeys(LocalMasterKeys.generate("embedded"))
    return None


class Runtime:
    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set (the embedded entry point starts one: python -m app)")
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        master, encrypt_all = master_keys(self.settings), self.settings.encrypt_all
        if self.settings.mongo_url:
            return get_store(self.settings.mongo_url, lambda: server_database(self.settings), master, encrypt_all)
        return get_store("embedded", self._embedded_database, master, encrypt_all)

    def _embedded_database(self) -> Database:
        from infra.embedded.mongo import embedded_client
        log.warning("MONGO_URL is not set: using the embedded in-memory store. "
                    "Data will NOT survive a restart; web and workers run in one process.")
        return embedded_client()[self.settings.mongo_db]

    @cached_property
    def executor(self) -> Executor:
        """How the pipelines run CPU calls and long walks here. The embedded one wherever it changes
        anything: in a process on an event loop (the web process, whose upload routes give way to chat) or
        on the in-memory store (its long walks read a fork of it); elsewhere (the worker roles) the direct one."""
        from infra.embedded.priority import green
        if not (green() or self.settings.embedded_store):
            return DirectExecutor()
        from infra.embedded.executor import EmbeddedExecutor
        return EmbeddedExecutor(snapshots=self.settings.embedded_store)

    @cached_property
    def redis(self) -> Redis:
        return blocking_client(self.settings.redis_url, self.settings)

    @cached_property
    def inbox(self) -> Inbox:
        return Inbox(self.redis, lock_seconds=self.settings.inbox_lock_seconds)

    @cached_property
    def presence(self) -> PresenceRegistry:
        return PresenceRegistry(self.redis, ttl_seconds=self.settings.presence_ttl_seconds)

    @cached_property
    def rate_limiter(self) -> MovingWindowRateLimiter:
        """Per-user limits kept in this process (typing): checked on the hot path without a Redis round
        trip. A user whose tabs sit on k web processes gets k times the limit, which is fine for a guard
        against floods."""
        return MovingWindowRateLimiter(storage_from_string("memory://"))

    @cached_property
    def rate_limits(self) -> RateLimits:
        """Per-user limits of every writing event, in Redis so that every web process counts the same."""
        storage = storage_from_string(self.settings.redis_url,
                                      connection_pool=blocking_pool(self.settings.redis_url, self.settings))
        return RateLimits(MovingWindowRateLimiter(storage), self.settings.rate_limits())

    @cached_property
    def media_limits(self) -> MediaLimits:
        s = self.settings
        return MediaLimits(max_upload_bytes=s.max_upload_bytes, quota_bytes=s.upload_quota_bytes,
                           upload_ttl=timedelta(minutes=s.upload_ttl_minutes), presign_seconds=s.s3_presign_seconds)

    @cached_property
    def export_settings(self) -> ExportSettings:
        s = self.settings
        return ExportSettings(ttl=timedelta(hours=s.export_ttl_hours), for_members=s.exports_for_members,
                              batch=s.export_batch, lease_seconds=s.export_lease_seconds,
                              presign_seconds=s.s3_presign_seconds, fork_min_messages=s.export_fork_min_messages)

    @cached_property
    def scheduling_limits(self) -> SchedulingLimits:
        s = self.settings
        return SchedulingLimits(max_days_ahead=s.scheduled_max_days_ahead, per_user=s.scheduled_per_user_limit,
                                lease_seconds=s.scheduled_lease_seconds,
                                max_lateness_seconds=s.scheduled_max_lateness_seconds, max_backlog=s.inbox_max_backlog)

    @cached_property
    def gifs(self) -> GifConfig:
        """The GIF picker's provider (None: the group library), its fetcher's rules and its limits."""
        s = self.settings
        provider = make_provider(s)
        rate = RateLimits(self.rate_limits.limiter, {"GIF searches": s.gif_rate_limit})
        return GifConfig(provider, fetch_policy(s, provider), rate, s.gif_cache_seconds, s.gif_offer_ttl_seconds,
                         s.gif_preview_max_bytes)

    @cached_property
    def filter_cache(self) -> FilterCache:
        """Compiled filter rules per group, for this process's drains (checked against rulesVersion per batch)."""
        return FilterCache(self.store)

    @cached_property
    def mailer(self) -> SmtpMailer | None:
        """None without SMTP_URL: notifications are then in-app only (said at start-up)."""
        if not self.settings.smtp_url:
            return None
        return SmtpMailer(self.settings.smtp_url, timeout=self.settings.smtp_timeout_seconds)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(SocketIOEmitter(self.settings.redis_url, self.settings))

    @cached_property
    def blobs(self) -> S3Blobs:
        s = self.settings
        if not s.s3_endpoint_url:
            raise RuntimeError("S3_ENDPOINT_URL is not set (the embedded entry point starts moto: python -m app)")
        return S3Blobs(endpoint_url=s.s3_endpoint_url, public_url=s.s3_public_url, bucket=s.s3_bucket,
                       region=s.s3_region, access_key_id=s.aws_access_key_id,
                       secret_access_key=s.aws_secret_access_key, presign_seconds=s.s3_presign_seconds)

    @cached_property
    def scanner(self) -> ClamdScanner | None:
        """None without CLAMD_URL: the scan step is then recorded as "skipped", never as "clean"."""
        if not self.settings.clamd_url:
            return None
        return ClamdScanner(self.settings.clamd_url, timeout=self.settings.clamd_timeout_seconds)


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None or _runtime.settings is not get_settings():
        _runtime = Runtime(get_settings())
    return _runtime


@dataclass
class Embedded:
    """What the embedded default started in this process; ``stop()`` stops it, the last started first."""
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self.stops:
            self.stops.pop()()


def start_embedded_servers(settings: Settings) -> tuple[Settings, Embedded]:
    """A redis-server without REDIS_URL, a moto S3 without S3_ENDPOINT_URL; the settings that point at them,
    now in use, and what to stop at exit."""
    embedded = Embedded()
    if not settings.redis_url:
        from infra.embedded.redis_server import RedisServer
        redis_server = RedisServer(port=settings.embedded_redis_port).start()
        embedded.stops.append(redis_server.stop)
        settings = use_settings(settings.model_copy(update={"redis_url": redis_server.url}))
        log.info("started redis-server on %s (embedded, not persistent)", redis_server.url)
    if settings.embedded_s3:
        from infra.embedded.s3_server import MotoS3Server
        s3_server = MotoS3Server(port=settings.embedded_s3_port).start()
        embedded.stops.append(s3_server.stop)
        settings = use_settings(settings.model_copy(update={
            "s3_endpoint_url": s3_server.url,
            "aws_access_key_id": settings.aws_access_key_id or "test",
            "aws_secret_access_key": settings.aws_secret_access_key or "test"}))
        log.info("started moto S3 on %s (embedded, not persistent)", s3_server.url)
    return settings, embedded


def start_embedded_workers(embedded: Embedded, settings: Settings, celery_app: Any,
                           celery_config: Callable[[], dict[str, Any]], queues: tuple[str, ...],
                           cpu_queues: tuple[str, ...]) -> None:
    """The Celery workers (the in-memory store cannot be shared between processes) and beat that the
    settings ask for, in this process; the CPU children started and loaded in the background."""
    from infra.embedded.worker import EmbeddedBeat, EmbeddedWorker, worker_app
    if settings.run_embedded_workers:
        from infra.embedded.cpu import warm_children_in_background
        for worker in (EmbeddedWorker(celery_app, settings.worker_concurrency,
                                      tuple(q for q in queues if q not in cpu_queues)).start(),
                       # Two slots per CPU child: one may download or upload while the other computes.
                       EmbeddedWorker(worker_app(celery_app, celery_config), 2 * settings.cpu_workers,
                                      cpu_queues, name="embedded-cpu").start()):
            embedded.stops.append(worker.stop)
        # Pillow, reportlab and boto3's S3 model loaded now, not at the first photo or PDF.
        warm_children_in_background(("pipelines.media.step_calls", "pipelines.exports.pdf"), get_runtime().blobs)
    if settings.run_embedded_beat:
        embedded.stops.append(EmbeddedBeat(celery_app).start().stop)
