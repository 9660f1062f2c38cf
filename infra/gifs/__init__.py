"""GIF providers (Giphy, Tenor) behind one interface, and the SSRF-safe fetcher of their files (fetch.py).

A provider answers a search or trending with ``GifOffer``s whose ``previewUrl`` and ``mediaUrl`` are still
the provider's own URLs: pipelines.gifs rewrites the preview to this server's proxy before a client sees it,
and only the fetcher, limited to ``media_hosts``, ever reads them. ``make_provider(settings)`` builds the
configured one (None: the group's own library, no provider at all)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from infra.config import Settings
from infra.gifs.fetch import Fetched, FetchRefused, fetch
from schemas.documents import GifOffer

__all__ = ["FetchPolicy", "FetchRefused", "Fetched", "GifProvider", "make_provider"]


class GifProvider(Protocol):
    name: str
    media_hosts: tuple[str, ...]   # where its files are (exact names, or ".example.com" for any name under it)

    def search(self, q: str, limit: int, rating: str, lang: str) -> list[GifOffer]: ...

    def trending(self, limit: int, rating: str) -> list[GifOffer]: ...


@dataclass(frozen=True)
class FetchPolicy:
    """How this deployment may fetch a provider's files (the fetcher's arguments, from the settings)."""
    allowed_hosts: tuple[str, ...]
    max_bytes: int
    timeout: float
    allow_http: bool = False
    allow_private: bool = False

    def fetch(self, url: str, max_bytes: int | None = None) -> Fetched:
        return fetch(url, allowed_hosts=self.allowed_hosts, max_bytes=max_bytes or self.max_bytes,
                     timeout=self.timeout, allow_http=self.allow_http, allow_private=self.allow_private)


def make_provider(settings: Settings) -> GifProvider | None:
    """The provider GIF_PROVIDER names (or its default); None in library mode."""
    name = settings.gif_provider_name
    timeout = settings.gif_fetch_timeout_seconds
    if name == "giphy":
        from infra.gifs.giphy import Giphy
        return Giphy(settings.giphy_api_key or "", settings.giphy_api_url, timeout, settings.gif_max_bytes)
    if name == "tenor":
        from infra.gifs.tenor import Tenor
        return Tenor(settings.tenor_api_key or "", settings.tenor_api_url, timeout, settings.gif_max_bytes)
    return None


def fetch_policy(settings: Settings, provider: GifProvider | None) -> FetchPolicy:
    """The fetcher's rules for the configured provider: its media hosts plus GIF_MEDIA_HOSTS."""
    hosts = tuple(provider.media_hosts if provider else ()) + settings.gif_extra_hosts
    return FetchPolicy(hosts, settings.gif_max_bytes, settings.gif_fetch_timeout_seconds,
                       settings.gif_allow_http, settings.gif_allow_private)
