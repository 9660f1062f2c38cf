"""What GIF searches showed each user, kept in Redis for a while: a send (``message:send {gif: {id}}``) may
only copy a GIF its sender was offered, so a client cannot make the server fetch a URL or an id of its own
choosing."""
from __future__ import annotations

from redis import Redis

from schemas.documents import GifOffer

DEFAULT_TTL_SECONDS = 3600


def _key(user_id: str) -> str:
    return f"gif:offers:{user_id}"


def remember_offers(redis: Redis, user_id: str, offers: list[GifOffer], ttl: int = DEFAULT_TTL_SECONDS) -> None:
    """Record the GIFs one answer showed this user (one hash per user, its fields the GIF ids)."""
    if not offers:
        return
    key = _key(user_id)
    pipe = redis.pipeline()
    pipe.hset(key, mapping={offer.id: offer.model_dump_json() for offer in offers})
    pipe.expire(key, ttl)
    pipe.execute()


def find_offer(redis: Redis, user_id: str, gif_id: str) -> GifOffer | None:
    """The GIF this user was shown under ``gif_id``, or None (never shown, or too long ago)."""
    raw = redis.hget(_key(user_id), gif_id)
    return GifOffer.model_validate_json(raw) if raw else None
