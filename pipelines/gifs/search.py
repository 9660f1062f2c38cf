"""GIF search and trending for the picker (contract v3): a member of the conversation asks, the group's
``gifRating`` is passed to the provider (or, without one, the group's own library answers), the answer is
cached in Redis for GIF_CACHE_SECONDS, every GIF shown is remembered as an offer of this user (so a send
can copy only those), and each preview URL is replaced by this server's ``/api/gifs/preview/<token>``:
clients never see a provider's URL nor contact it."""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from redis import Redis

from infra.gifs import FetchPolicy, GifProvider
from infra.storage import Store
from pipelines.gifs.library import search_library, trending_library
from pipelines.gifs.offers import remember_offers
from pipelines.policy.access import check_conversation_member
from pipelines.policy.rate_limits import RateLimits
from schemas.documents import GifOffer, User
from schemas.payloads import GifQuery

RATE_ACTION = "GIF searches"   # the rate limit's name, in its refusal ("too many GIF searches ...")
PREVIEW_PATH = "/api/gifs/preview/"


@dataclass(frozen=True)
class GifConfig:
    """The GIF settings the pipelines receive (infra.runtime builds it from the settings)."""
    provider: GifProvider | None     # None: the group's library
    fetch: FetchPolicy               # the provider's media hosts and the fetcher's bounds
    rate: RateLimits                 # per user: RATE_ACTION
    cache_seconds: int
    offer_ttl: int
    preview_max_bytes: int

    @property
    def provider_name(self) -> str:
        return self.provider.name if self.provider else "library"


@dataclass(frozen=True)
class GifAnswer:
    provider: str
    gifs: list[GifOffer]       # previewUrl already this server's

    def public(self) -> dict[str, Any]:
        return {"provider": self.provider,
                "gifs": [{"id": g.id, "title": g.title, "width": g.width, "height": g.height,
                          "previewUrl": g.previewUrl} for g in self.gifs]}


def preview_token(url: str) -> str:
    """The token a provider's preview URL is served under: a hash of it, the same for every search that
    shows it (so browsers and the byte cache reuse it). Only URLs a search registered are served."""
    return base64.urlsafe_b64encode(hashlib.sha256(url.encode()).digest()[:24]).decode()


def _preview_key(token: str) -> str:
    return f"gif:preview:{token}"


def _answer_key(config: GifConfig, rating: str, lang: str, query: GifQuery) -> str:
    q = " ".join(query.q.lower().split()) if query.q is not None else ""
    kind = "search" if query.q is not None else "trending"
    raw = json.dumps([config.provider_name, kind, rating, lang, query.limit, q])
    return "gif:answer:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _provider_offers(redis: Redis, config: GifConfig, rating: str, lang: str, query: GifQuery) -> list[GifOffer]:
    """The provider's answer, from the cache when a search with the same words, rating, language and
    limit was answered within GIF_CACHE_SECONDS."""
    key = _answer_key(config, rating, lang, query)
    cached = redis.get(key) if config.cache_seconds else None
    if cached is not None:
        return [GifOffer.model_validate(item) for item in json.loads(cached)]
    if query.q is not None:
        offers = config.provider.search(query.q, query.limit, rating, lang)
    else:
        offers = config.provider.trending(query.limit, rating)
    if config.cache_seconds:
        redis.set(key, json.dumps([offer.model_dump() for offer in offers]), ex=config.cache_seconds)
    return offers


def _proxied(redis: Redis, config: GifConfig, offers: list[GifOffer]) -> list[GifOffer]:
    """Register each provider preview under its token and show the proxy's URL instead."""
    if not offers:
        return []
    ttl = max(config.offer_ttl, config.cache_seconds)
    pipe = redis.pipeline()
    shown = []
    for offer in offers:
        token = preview_token(offer.previewUrl)
        pipe.set(_preview_key(token), offer.previewUrl, ex=ttl)
        shown.append(offer.model_copy(update={"previewUrl": PREVIEW_PATH + token}))
    pipe.execute()
    return shown


def search_gifs(store: Store, redis: Redis, config: GifConfig, user: User, query: GifQuery) -> GifAnswer:
    """Search (``query.q``) or trending (``q`` None) for a member of ``query.conv_id``; see the docstring."""
    conversation, _ = check_conversation_member(store, user, query.conv_id, {"what": "gif search"})
    config.rate.check(user.id, RATE_ACTION)
    if config.provider is None:
        if query.q is not None:
            offers = search_library(store, user, conversation, query.q, query.limit)
        else:
            offers = trending_library(store, user, conversation, query.limit)
        remember_offers(redis, user.id, offers, ttl=config.offer_ttl)
        return GifAnswer("library", offers)
    group = store.groups.get_group(conversation.groupId)
    rating = group.settings.gifRating if group else "g"
    offers = _provider_offers(redis, config, rating, user.language, query)
    remember_offers(redis, user.id, offers, ttl=config.offer_ttl)
    return GifAnswer(config.provider_name, _proxied(redis, config, offers))


def preview_url(redis: Redis, token: str) -> str | None:
    """The provider URL a search registered under ``token``, or None (never shown, or expired)."""
    raw = redis.get(_preview_key(token))
    return raw.decode() if isinstance(raw, bytes) else raw
