"""What the providers share: one JSON GET with the key as a query parameter (never logged: errors name the
provider and the status only), its failures as ``gif_unavailable``, and the choice of the file to copy
among a GIF's renditions."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import requests

from schemas.documents import GifOffer
from schemas.errors import ApiError, Code

log = logging.getLogger(__name__)


class _RedactKeys(logging.Filter):
    """urllib3 logs each request line at DEBUG, query string included: the providers' keys are cut out."""
    _KEY = re.compile(r"\b((?:api_key|key)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "key=" in message:
            record.msg, record.args = self._KEY.sub(r"\1[redacted]", message), None
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactKeys())

# A rendition at least this wide is "still good" in a chat bubble; smaller ones are taken only when a GIF
# has nothing wider under the size limit.
GOOD_WIDTH = 200
# Among good renditions: WebP (an image, animated, small), then MP4 (smaller still, but a video), then GIF.
MIME_PREFERENCE = {"image/webp": 0, "video/mp4": 1, "image/gif": 2}


def unavailable(provider: str, message: str, retry_after: int | None = None) -> ApiError:
    details = {"provider": provider}
    if retry_after is not None:
        details["retryAfter"] = retry_after
    return ApiError(Code.GIF_UNAVAILABLE, message, details)


def _retry_after(response: requests.Response) -> int | None:
    value = (response.headers.get("Retry-After") or "").strip()
    return int(value) if value.isdigit() else None


def get_json(session: requests.Session, provider: str, url: str, params: dict[str, Any],
             timeout: float) -> dict[str, Any]:
    """GET ``url`` and its JSON object; any failure is ``502 gif_unavailable`` saying what happened. The
    exceptions of requests name the URL, key included: they are neither logged nor passed on."""
    try:
        response = session.get(url, params=params, timeout=(timeout, timeout), allow_redirects=False)
    except requests.Timeout:
        log.warning("GIF provider %s: no answer within %.1f s", provider, timeout)
        raise unavailable(provider, f"the GIF provider ({provider}) did not answer in time") from None
    except requests.RequestException as exc:
        log.warning("GIF provider %s: cannot be reached (%s)", provider, type(exc).__name__)
        raise unavailable(provider, f"the GIF provider ({provider}) cannot be reached") from None
    status = response.status_code
    if status != 200:
        log.warning("GIF provider %s answered %s", provider, status)
    if status in (401, 403):
        raise unavailable(provider, f"the GIF provider ({provider}) refused this server's API key ({status})")
    if status == 429:
        retry = _retry_after(response)
        raise unavailable(provider, f"the GIF provider ({provider}) is rate limiting this server"
                                    + (f"; retry in {retry} s" if retry else ""), retry)
    if status != 200:
        raise unavailable(provider, f"the GIF provider ({provider}) failed ({status})")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("GIF provider %s answered something that is not its API", provider)
        raise unavailable(provider, f"the GIF provider ({provider}) answered something that is not its API")
    return body


def number(value: Any) -> int | None:
    """Giphy writes its numbers as strings, Tenor as numbers; absent or malformed: None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, float):
        return int(value)
    return None


@dataclass(frozen=True)
class Rendition:
    url: str
    mime: str
    width: int
    height: int
    size: int | None   # as declared (the fetcher enforces the real one)


def choose_file(renditions: list[Rendition], max_bytes: int) -> Rendition | None:
    """The file to copy: the smallest good one under ``max_bytes``, WebP or MP4 before GIF (see above)."""
    usable = [r for r in renditions if r.url.startswith(("https://", "http://")) and r.mime in MIME_PREFERENCE
              and r.width > 0 and r.height > 0 and (r.size is None or r.size <= max_bytes)]
    if not usable:
        return None
    good = [r for r in usable if r.width >= GOOD_WIDTH] or [r for r in usable if r.width == max(u.width for u in usable)]
    return min(good, key=lambda r: (MIME_PREFERENCE[r.mime], r.size if r.size is not None else max_bytes, r.width))


def first(renditions: list[Rendition | None]) -> Rendition | None:
    return next((r for r in renditions if r is not None and r.url.startswith(("https://", "http://"))), None)


def offer(provider: str, gif_id: Any, title: str, chosen: Rendition | None, preview: Rendition | None) -> GifOffer | None:
    """A provider's GIF as an offer (its id prefixed by the provider's name), or None without an id, a file
    to copy or a preview."""
    if chosen is None or preview is None or not isinstance(gif_id, str) or not gif_id:
        return None
    return GifOffer(id=f"{provider}:{gif_id}", provider=provider, title=title[:200], width=chosen.width,
                    height=chosen.height, previewUrl=preview.url, mediaUrl=chosen.url, mime=chosen.mime,
                    size=chosen.size)


class ApiProvider:
    """A provider reached by one JSON GET per answer, its key a query parameter (``key_param``) and its
    GIFs a list under ``list_key``, each turned into an offer by ``to_offer`` (None: skipped)."""
    name: str
    key_param: str
    list_key: str

    def __init__(self, api_key: str, api_url: str, timeout: float, max_bytes: int) -> None:
        self._key = api_key
        self._url = api_url.rstrip("/")
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._session = requests.Session()

    def __repr__(self) -> str:   # never the key
        return f"{type(self).__name__}({self._url})"

    def to_offer(self, item: dict[str, Any], max_bytes: int):
        raise NotImplementedError

    def _gifs(self, path: str, params: dict[str, Any]) -> list:
        body = get_json(self._session, self.name, f"{self._url}{path}", {self.key_param: self._key, **params},
                        self._timeout)
        items = body.get(self.list_key)
        if not isinstance(items, list):
            raise unavailable(self.name, f"the GIF provider ({self.name}) answered something that is not its API")
        offers = [self.to_offer(item, self._max_bytes) for item in items if isinstance(item, dict)]
        return [offer for offer in offers if offer is not None]
