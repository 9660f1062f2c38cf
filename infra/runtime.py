"""The process's connections, built once from the settings: the store, Redis, the inbox, the notifier,
the rate limits, the compiled filter rules, the S3 bucket (blobs) and the virus scanner."""
from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from infra.blobs import S3Blobs
from infra.config import Settings, get_settings
from infra.emitter import SocketIOEmitter
from infra.executor import DirectExecutor, Executor
from infra.inbox import Inbox
from infra.mailer import SmtpMailer
from infra.mongo import get_store
from infra.presence import PresenceRegistry
from infra.redis_pool import blocking_client, blocking_pool
from infra.scanner import ClamdScanner
from infra.store import Store
from pipelines.moderation.screening import FilterCache
from pipelines.policy.rate_limits import RateLimits
from pipelines.events import Notifier


class Runtime:
    def __init__(self, settings: Settings) -> None:
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is not set (the embedded entry point starts one: python -m app)")
        self.settings = settings

    @cached_property
    def store(self) -> Store:
        return get_store(self.settings)

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
    def media_limits(self):
        from pipelines.media.uploads import Limits
        s = self.settings
        return Limits(max_upload_bytes=s.max_upload_bytes, quota_bytes=s.upload_quota_bytes,
                      upload_ttl=timedelta(minutes=s.upload_ttl_minutes), presign_seconds=s.s3_presign_seconds)

    @cached_property
    def executor(self) -> Executor:
        """How pipelines run CPU calls and long walks here: directly in a worker role; in a process that
        runs the workers on the web process's loop (the embedded default), through its child processes, and
        with the walks on a snapshot where the store is this process's memory."""
        if self.settings.mongo_url and not self.settings.run_embedded_workers:
            return DirectExecutor()
        from infra.embedded.executor import EmbeddedExecutor
        return EmbeddedExecutor(snapshots=not self.settings.mongo_url)

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
