"""Every setting of the system, read from environment variables in this one module."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Environment variables (names are the field names, upper-case). Defaults are the embedded set-up."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)

    # Redis: broker, Socket.IO message queue, inbox streams. Unset -> an embedded redis-server is started.
    redis_url: str | None = None
    embedded_redis_port: int = Field(0, ge=0, le=65535)  # 0: any free port
    # Each Redis client of a process (commands, rate limits, the Socket.IO message queue) holds at most this
    # many connections; a caller that finds them all busy waits up to REDIS_POOL_TIMEOUT_SECONDS for one
    # (redis-py's BlockingConnectionPool) instead of failing: a storm of events is served late, never dropped.
    redis_max_connections: int = Field(100, ge=2, le=10000)
    redis_pool_timeout_seconds: float = Field(20.0, gt=0, le=600)

    # MongoDB. Unset -> in-memory mongomock, web and workers in one process (not durable).
    mongo_url: str | None = None
    mongo_db: str = "chat"

    # S3 (file bytes: uploads, thumbnails, exports). Unset endpoint -> an embedded moto S3 server is started
    # (not persistent). For AWS set it too (https://s3.<region>.amazonaws.com).
    s3_endpoint_url: str | None = None
    # The endpoint browsers reach (presigned URLs are signed for it): default the endpoint itself.
    s3_public_url: str | None = None
    s3_bucket: str = "chat-media"
    s3_region: str = "us-east-1"
    # Unset -> boto3's own credential chain (an IAM role, say); the embedded moto gets test/test.
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    s3_presign_seconds: int = Field(300, ge=1, le=7 * 24 * 3600)
    embedded_s3_port: int = Field(0, ge=0, le=65535)  # 0: any free port
    # Origins allowed by the bucket's CORS rule (comma-separated): default this web process's own
    # origin, as http://127.0.0.1:PORT and http://localhost:PORT.
    app_origin: str | None = None

    # Virus scanner: clamd at tcp://host:port or unix:///path. Unset -> no scanner (the scan step is
    # recorded as "skipped", never as "clean").
    clamd_url: str | None = None
    clamd_timeout_seconds: float = Field(120.0, gt=0)

    # Encryption at rest of what users write (docs/security.md). ENCRYPTION_MASTER_KEYS: "id:base64 of 32
    # random bytes" pairs, comma-separated, the current key first (older ones stay until a rotation has
    # re-wrapped what they wrapped). ENCRYPTION_KMS_KEY_ID instead: an AWS KMS key wraps the data keys.
    # Without either, groups cannot turn encryption on; ENCRYPT_ALL on the embedded default then uses a
    # random key for the run (its store does not outlive the run either).
    encryption_master_keys: str | None = None
    encryption_kms_key_id: str | None = None
    kms_endpoint_url: str | None = None      # default: AWS's; a moto server in the tests
    kms_region: str | None = None            # default: S3_REGION (the AWS credentials are S3's: AWS_*)
    encrypt_all: bool = False                # every conversation encrypted, not only groups that ask

    # -- GIFs (infra/gifs, pipelines/gifs, docs/api.md "GIFs") -------------------------------------
    # Which provider the picker searches: giphy, tenor, or library (the group's own animated uploads,
    # offline). Unset: giphy when GIPHY_API_KEY is set, else tenor when TENOR_API_KEY is, else library.
    gif_provider: Literal["giphy", "tenor", "library"] | None = None
    giphy_api_key: str | None = None           # sent to Giphy only, never to clients nor into logs
    giphy_api_url: str = "https://api.giphy.com"
    tenor_api_key: str | None = None
    tenor_api_url: str = "https://tenor.googleapis.com"
    # Hosts (comma-separated; ".example.com" for any name under it) the server may fetch GIF files from,
    # besides the chosen provider's own media hosts.
    gif_media_hosts: str = ""
    # Tests only (a local provider server): fetch over plain http, and from private or loopback addresses.
    gif_allow_http: bool = False
    gif_allow_private: bool = False
    gif_max_bytes: int = Field(8 << 20, ge=1024)                   # the largest GIF file copied into S3
    gif_preview_max_bytes: int = Field(1 << 20, ge=1024)           # the largest preview the proxy serves
    gif_fetch_timeout_seconds: float = Field(5.0, gt=0, le=60)     # connect and each read, provider and files
    gif_cache_seconds: int = Field(300, ge=0, le=86400)            # search answers and previews in Redis
    gif_offer_ttl_seconds: int = Field(3600, ge=60, le=7 * 86400)  # how long a shown GIF may be sent
    gif_rate_limit: str = "60/minute"                              # searches per user (limits' notation)

    @property
    def gif_provider_name(self) -> str:
        """The provider the picker uses (GIF_PROVIDER or the default described above)."""
        if self.gif_provider:
            return self.gif_provider
        if self.giphy_api_key:
            return "giphy"
        return "tenor" if self.tenor_api_key else "library"

    @property
    def gif_extra_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.gif_media_hosts.split(",") if h.strip())

    # Identity. Unset secret is only allowed in the embedded default (a random one per run).
    jwt_secret: str | None = None
    # A socket is disconnected (after session:expired) once its token expires, within PRESENCE_TTL_SECONDS / 3.
    jwt_ttl_seconds: int = Field(12 * 3600, ge=1)
    dev_login: bool | None = None  # default: on when embedded, off with MONGO_URL
    admin_usernames: str = ""  # comma-separated usernames with the system ADMIN role

    # Celery.
    # Drains are I/O-bound (MongoDB, Redis) and linger: a threads pool of this size per worker process.
    worker_concurrency: int = Field(16, ge=1, le=256)
    # Seconds before a message taken by a worker that died unacknowledged is handed out again
    # (kombu's Redis visibility_timeout). Must exceed the longest task on the queue.
    broker_visibility_timeout: int = Field(300, ge=1)
    # Worker pool inside the embedded single process (threads are green under eventlet).
    embedded_workers: bool | None = None  # default: on when MONGO_URL is unset

    # The largest request body (REST JSON, Socket.IO packet) read at all: 413 before reading past it.
    max_request_bytes: int = Field(1 << 20, ge=16 * 1024)

    # Messages.
    max_message_chars: int = Field(10_000, ge=1)
    history_default_limit: int = Field(50, ge=1)
    history_max_limit: int = Field(200, ge=1)
    inbox_batch: int = Field(50, ge=1, le=1000)
    inbox_lock_seconds: int = Field(30, ge=1)
    # How long a drain that emptied its inbox waits for more before stopping (fewer tasks per message),
    # as long as no other task of its worker waits for the slot (pipelines.messages.drain_inbox).
    inbox_linger_ms: int = Field(300, ge=0, le=5000)
    # How long one drain task may run before handing over to a follow-up task (fairness).
    inbox_budget_ms: int = Field(2000, ge=10)
    # Sends waiting in one conversation's inbox beyond which new sends are refused (rate_limited).
    inbox_max_backlog: int = Field(5000, ge=1)
    # Backlog beyond which acks are paced (delayed) so that the front does not outrun the workers.
    inbox_soft_backlog: int = Field(50, ge=1)

    # Profile changes: the user's messages get the new senderInfo in batches of at most this many
    # (one update_many each), so one prolific user's change never holds a huge write.
    profile_sync_batch: int = Field(500, ge=1, le=10_000)

    # Uploads: the largest file, each user's total, how long an upload may take before it is abandoned.
    max_upload_bytes: int = Field(200 << 20, ge=1)
    upload_quota_bytes: int = Field(2 << 30, ge=1)
    upload_ttl_minutes: int = Field(60, ge=5, le=24 * 60)
    media_cleanup_every_seconds: float = Field(900, ge=10)
    # A deleted file (with its message, on its own, or by retention) answers 410 at once; its S3 objects are
    # deleted this long after, by beat's purge, run this often (pipelines/messages/lifecycle.py).
    media_delete_grace_minutes: float = Field(5, ge=0, le=7 * 24 * 60)
    media_purge_every_seconds: float = Field(60, gt=0, le=3600)

    # CPU-bound steps (Pillow, reportlab) in the embedded default run in this many child processes, so
    # that the web process's event loop is never blocked by them (infra/embedded/cpu.py).
    cpu_workers: int = Field(1, ge=1, le=64)

    # Exports: how long a finished file (and its download) is kept; whether conversation members (not
    # only group and system admins) may export; messages read per batch; the worker's lease on a job
    # (renewed every few seconds while it works: a redelivered task finding a live lease does nothing).
    export_ttl_hours: float = Field(48, gt=0, le=24 * 365)
    exports_for_members: bool = False
    export_batch: int = Field(500, ge=10, le=5000)
    export_lease_seconds: int = Field(60, ge=3, le=3600)
    # Embedded store only (no MONGO_URL): an export of at least this many messages walks the conversation
    # in a fork of the web process (its memory as it was at the fork), off the event loop; a smaller one
    # walks it on the loop, taking at most a tenth of it (a fork costs the loop a burst: docs/exports.md).
    export_fork_min_messages: int = Field(10_000, ge=0)

    # Per-user rate limits of each client event that writes, shared by every web process (limits'
    # notation, a moving window in Redis; pipelines/policy/rate_limits.py). An empty value turns one off.
    send_rate_limit: str = "30/10 seconds"
    edit_rate_limit: str = "20/10 seconds"
    delete_rate_limit: str = "30/10 seconds"
    reaction_rate_limit: str = "30/10 seconds"
    read_rate_limit: str = "60/10 seconds"
    delivered_rate_limit: str = "60/10 seconds"
    report_rate_limit: str = "10/minute"
    comment_rate_limit: str = "20/10 seconds"
    upload_rate_limit: str = "30/minute"
    export_rate_limit: str = "10/minute"
    reminder_rate_limit: str = "20/minute"
    scheduled_rate_limit: str = "20/minute"
    text_rate_limit: str = "20/minute"  # names, titles, captions, album names

    def rate_limits(self) -> dict[str, str]:
        """Each limited action's limit (pipelines.rate_limits.Action)."""
        return {action: getattr(self, f"{action}_rate_limit") for action in (
            "send", "edit", "delete", "reaction", "read", "delivered", "report", "comment", "upload", "export",
            "reminder", "scheduled", "text")}

    # Typing indicators: they end by themselves this long after the last typing:start.
    typing_ttl_seconds: float = Field(5.0, gt=0, le=60)
    # Per user and web process (limits' notation).
    typing_rate_limit: str = "20/10 seconds"

    # Log what held the event loop whenever it has not turned for this long (app/loop_watch.py); off if unset.
    loop_stall_ms: float | None = Field(None, ge=5)
    # Socket.IO handshakes a web process works on at once (app/handshakes.py): during a storm of connects
    # the others wait their turn, so each turn of the loop holds less and live traffic keeps moving. A
    # handshake waits at most HANDSHAKE_WAIT_SECONDS for a slot, then goes ahead anyway. 0: no bound.
    handshakes_in_progress: int = Field(16, ge=0)
    handshake_wait_seconds: float = Field(1.0, gt=0, le=30)

    # Presence: a socket counts as live this long after its web process last refreshed it (every third
    # of it), so the users of a web process that died go offline within this time.
    presence_ttl_seconds: float = Field(30.0, ge=3, le=600)

    # -- notifications and scheduling (docs/notifications.md) ------------------------------------
    # Stored notifications disappear this long after they were created (the TTL index on expiresAt).
    notification_ttl_days: int = Field(30, ge=1, le=3650)
    # Email: unset SMTP_URL -> notifications are in-app only (said at start-up). smtp://host:port,
    # smtps://user:password@host:port, or smtp+starttls://...
    smtp_url: str | None = None
    mail_from: str = "Chat <chat@localhost>"
    smtp_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # The page a digest links back to (a conversation: {app_url}/#conv={convId}).
    app_url: str = "http://127.0.0.1:5000"
    email_default_delay_minutes: int = Field(5, ge=0, le=1440)
    # The length of one of emailDelayMinutes' minutes, in seconds: 60, except in tests that cannot wait.
    email_minute_seconds: float = Field(60.0, gt=0, le=60)
    email_max_retries: int = Field(6, ge=0, le=50)     # then the digest is failed, with the reason
    email_retry_backoff_seconds: float = Field(5.0, gt=0, le=300)
    # Scheduled messages and reminders: claimed in the database with a lease that a crashed worker outlives.
    scheduled_lease_seconds: int = Field(60, ge=1, le=3600)
    scheduled_max_lateness_seconds: int = Field(300, ge=1)   # later than this: failed, never sent stale
    scheduled_max_days_ahead: int = Field(365, ge=1, le=3650)
    scheduled_per_user_limit: int = Field(500, ge=1)          # pending scheduled messages per sender
    # Beat's schedule (workers/beat.py): how often each periodic task runs.
    dispatch_every_seconds: float = Field(2.0, gt=0, le=300)
    email_sweep_every_seconds: float = Field(15.0, gt=0, le=3600)
    repair_every_seconds: float = Field(900.0, gt=0)
    retention_every_seconds: float = Field(3600.0, gt=0)
    # The sweeper (pipelines/upkeep/sweeper.py): how often it runs, and how long a file may sit processing without
    # a step done, or an export queued without being taken, before it is queued again once, then failed.
    sweep_every_seconds: float = Field(60.0, gt=0, le=3600)
    media_processing_timeout_seconds: int = Field(1800, ge=10)
    export_queued_timeout_seconds: int = Field(1800, ge=10)
    # Analytics (pipelines/analytics, docs/analytics.md): how often beat rolls up what changed, and how many
    # whole days before the last run's day each run computes again (late writes, answers that came later).
    analytics_rollup_every_seconds: float = Field(300.0, gt=0, le=86400)
    analytics_overlap_days: int = Field(1, ge=1, le=7)
    # Beat inside the embedded process (default: with the embedded workers).
    embedded_beat: bool | None = None

    # Flower, Celery's dashboard (the `flower` role: ops/flower/flowerconfig.py passes these to it). It may
    # listen on a non-loopback address only with basic auth: it shows task arguments and can revoke tasks.
    flower_address: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_basic_auth: str = ""  # user:password, comma-separated for several
    # -- metrics exposition (EXPOSITION: infra/metrics_server.py, docs/operations.md "Exposition") ----
    # Set: GET /metrics, on the web port and on every METRICS_PORT listener, answers only requests with
    # `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). Unset: it answers only on a listener bound to
    # a loopback address (the web's HOST, or METRICS_BIND), to requests no proxy forwarded; elsewhere 404,
    # and the process says so at start-up. Never open on a public interface by default.
    metrics_token: str | None = Field(None, min_length=16)
    # A listener of this process's own that serves GET /metrics: how a worker role (and beat) exposes its
    # metrics (unset: it exposes none, said at start-up). Optional for the web process, which also answers on PORT.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_bind: str = "127.0.0.1"
    # Prefork roles (media, exports) only: the directory where each pool child writes its values
    # (prometheus_client's multiprocess mode reads this same variable, so it must be in the role's
    # environment before the process starts). Emptied when the worker starts; the listener sums every file.
    prometheus_multiproc_dir: str | None = None
    # chat_inbox_backlog is read by SCAN: at most this many keys are walked per scrape (its cost's bound).
    metrics_inbox_scan_keys: int = Field(100_000, ge=100)

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value):
        # METRICS_TOKEN= (an empty ${METRICS_TOKEN:-} in compose) means no token, not a token of no characters.
        return value or None

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.history_default_limit > self.history_max_limit:
            raise ValueError("HISTORY_DEFAULT_LIMIT must not exceed HISTORY_MAX_LIMIT")
        if self.max_message_chars * 4 + 4096 > self.max_request_bytes:  # 4 bytes per character in UTF-8
            raise ValueError("MAX_REQUEST_BYTES must leave room for a message of MAX_MESSAGE_CHARS characters")
        if self.inbox_lock_seconds >= self.broker_visibility_timeout:
            raise ValueError("INBOX_LOCK_SECONDS must be shorter than BROKER_VISIBILITY_TIMEOUT")
        if self.redis_max_connections <= self.worker_concurrency:  # each drain may hold one in a blocking read
            raise ValueError("REDIS_MAX_CONNECTIONS must exceed WORKER_CONCURRENCY")
        if self.gif_provider == "giphy" and not self.giphy_api_key:
            raise ValueError("GIF_PROVIDER=giphy needs GIPHY_API_KEY")
        if self.gif_provider == "tenor" and not self.tenor_api_key:
            raise ValueError("GIF_PROVIDER=tenor needs TENOR_API_KEY")
        if self.clamd_url and not self.clamd_url.startswith(("tcp://", "unix://")):
            raise ValueError("CLAMD_URL must be tcp://host:port or unix:///path")
        return self

    @property
    def embedded_store(self) -> bool:
        return not self.mongo_url

    @property
    def dev_login_enabled(self) -> bool:
        return self.embedded_store if self.dev_login is None else self.dev_login

    @property
    def run_embedded_workers(self) -> bool:
        return self.embedded_store if self.embedded_workers is None else self.embedded_workers

    @property
    def run_embedded_beat(self) -> bool:
        return self.run_embedded_workers if self.embedded_beat is None else self.embedded_beat

    @property
    def embedded_s3(self) -> bool:
        return not self.s3_endpoint_url

    @property
    def cors_origins(self) -> list[str]:
        """The browser origins the bucket's CORS rule allows (the page that PUTs the parts)."""
        if self.app_origin:
            return [o.strip().rstrip("/") for o in self.app_origin.split(",") if o.strip()]
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return list(dict.fromkeys([f"http://{host}:{self.port}", f"http://localhost:{self.port}"]))

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(u.strip().lower() for u in self.admin_usernames.split(",") if u.strip())


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings()
    return _current


def use_settings(settings: Settings) -> Settings:
    """Install the process's settings (the embedded entry point fills in the Redis it started)."""
    global _current
    _current = settings
    return settings
