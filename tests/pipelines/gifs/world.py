"""What the GIF tests share: a group with a conversation, the GIF settings pointed at the local provider
server (tests/gif_provider.py), a real Redis, and animated files for the library."""
from __future__ import annotations

from dataclasses import dataclass

from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from infra.config import Settings
from infra.gifs import fetch_policy, make_provider
from infra.storage import Store
from pipelines.gifs.search import RATE_ACTION, GifConfig
from pipelines.policy.rate_limits import RateLimits
from schemas.common import new_id, utcnow
from schemas.documents import Conversation, Media, SenderInfo, User
from tests.gif_provider import GIPHY_KEY, TENOR_KEY, GifProviderServer


def gif_settings(server: GifProviderServer | None, provider: str = "giphy", **overrides) -> Settings:
    """Settings that point at the local provider server (plain http on loopback, allowed for it alone)."""
    fields = dict(gif_provider=provider, gif_media_hosts="localhost", gif_allow_http=True, gif_allow_private=True,
                  gif_fetch_timeout_seconds=2.0)
    if server is not None:
        fields.update(giphy_api_key=GIPHY_KEY, giphy_api_url=server.base_url, tenor_api_key=TENOR_KEY,
                      tenor_api_url=server.base_url)
    fields.update(overrides)
    return Settings(**fields)


def gif_config(settings: Settings, redis_url: str, rate: str = "1000/minute") -> GifConfig:
    provider = make_provider(settings)
    limits = RateLimits(MovingWindowRateLimiter(storage_from_string(redis_url)), {RATE_ACTION: rate})
    return GifConfig(provider, fetch_policy(settings, provider), limits, settings.gif_cache_seconds,
                     settings.gif_offer_ttl_seconds, settings.gif_preview_max_bytes)


def clear_gif_keys(redis: Redis) -> None:
    keys = list(redis.scan_iter("gif:*", count=1000))
    if keys:
        redis.delete(*keys)


def add_media(store: Store, conv: Conversation, who: User, filename: str, *, caption: str | None = None,
              animated: bool = True, mime: str = "image/gif", status: str = "ready", deleted: bool = False) -> Media:
    """An uploaded file as the media job leaves it (``animated`` is the job's metadata step's mark)."""
    now = utcnow()
    media = Media(id=new_id(), convId=conv.id, groupId=conv.groupId, uploadedBy=who.id,
                  uploaderInfo=SenderInfo(username=who.username), filename=filename, originalFilename=filename,
                  mimeType=mime, fileType="image", fileSize=1234, status=status, caption=caption,
                  metadata={"dimensions": {"width": 320, "height": 240}}, key=f"media/{new_id()}",
                  isDeleted=deleted, createdAt=now, updatedAt=now)
    doc = media.to_mongo()
    if animated:
        doc["animated"] = True
    store.db.media.insert_one(doc)
    return media


@dataclass
class World:
    store: Store
    redis: Redis
    redis_url: str
    server: GifProviderServer
    alice: User
    bob: User
    carol: User              # in another group
    conv: Conversation       # alice (the group's admin) and bob
    other: Conversation      # carol's


def config(w: World, provider: str = "giphy", rate: str = "1000/minute", **overrides) -> GifConfig:
    """The GIF config of a test: the local provider server, ``w``'s Redis, any setting overridden."""
    return gif_config(gif_settings(w.server, provider, **overrides), w.redis_url, rate)
