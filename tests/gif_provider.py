"""A local GIF provider for the tests: one pytest-httpserver that answers like Giphy's documented API v1
(``/v1/gifs/search``, ``/v1/gifs/trending``) and Tenor's v2 (``/v2/search``, ``/v2/featured``), and serves
real small files (animated GIF and WebP made with Pillow, MP4 made with PyAV, still previews) from its own
URLs under ``/media/``. Nothing in the code under test is mocked: it talks HTTP to this server.

Fixtures (import them into a test module: ``from tests.gif_provider import gif_provider, gif_provider_server
# noqa: F401``):

- ``gif_provider_server`` (session): the started server, a ``GifProviderServer``; its state persists.
- ``gif_provider`` (function): the same server with its state reset (no scripted failure, empty request log).

The server (``GifProviderServer``):

- ``base_url`` ("http://localhost:PORT"): GIPHY_API_URL and TENOR_API_URL; media URLs are on host
  ``localhost`` too (``media_host``), so tests set GIF_MEDIA_HOSTS=localhost, GIF_ALLOW_HTTP and
  GIF_ALLOW_PRIVATE (``env(provider)`` gives these settings as environment variables).
- keys: ``GIPHY_KEY`` / ``TENOR_KEY``; another key is answered 401 (Giphy) or 403 (Tenor), like the real ones.
- the catalogue (``CATALOGUE``): GIFs with titles and ratings; a search matches words of the title, and
  ``rating`` (Giphy) / ``contentfilter`` (Tenor) filter out GIFs above it. Special GIFs, found only by their
  own query word and never in trending: ``huge`` (its file is HUGE_BYTES, declared small), ``liar`` (declared
  a GIF, the bytes are HTML), ``elsewhere`` (its file redirects to ``other_host``, 127.0.0.1: another host),
  ``slow`` (its file arrives after ``slow_seconds``).
- scripted failures of the API routes: ``fail(mode, times=None)`` with mode ``unauthorized`` (401),
  ``forbidden`` (403), ``rate_limited`` (429, ``Retry-After: 7``), ``error`` (500), ``slow`` (answers after
  ``slow_seconds``), ``garbage`` (200 with a body that is not JSON); ``times`` failures then normal again.
- ``api_requests``: each API request as ``(path, {arg: value})``; ``media_requests``: each media path asked.
- ``media_url(name, rendition)``: a URL of the catalogue (``/media/<name>/<rendition>``), for fetcher tests.
"""
from __future__ import annotations

import atexit
import io
import json
import threading
import time
from dataclasses import dataclass
from fractions import Fraction

import pytest
from PIL import Image
from pytest_httpserver import HTTPServer, URIPattern
from werkzeug import Request, Response

GIPHY_KEY = "giphy-test-key"
TENOR_KEY = "tenor-test-key"
HUGE_BYTES = 9 * 1024 * 1024       # over the default GIF_MAX_BYTES
RATINGS = ("g", "pg", "pg-13", "r")
_TENOR_FILTER = {"high": "g", "medium": "pg", "low": "pg-13", "off": "r"}


@dataclass(frozen=True)
class Gif:
    name: str           # the provider's id
    title: str
    rating: str = "g"
    color: tuple = (200, 40, 40)
    special: bool = False


CATALOGUE = (
    Gif("happycat", "happy cat dancing", "g", (230, 120, 20)),
    Gif("sadcat", "sad cat in the rain", "g", (40, 60, 200)),
    Gif("thumbsup", "thumbs up great job", "g", (40, 180, 60)),
    Gif("partydog", "party dog dancing", "pg", (180, 40, 180)),
    Gif("spicydance", "spicy dancing", "pg-13", (220, 20, 60)),
    Gif("wildparty", "wild party night", "r", (20, 20, 20)),
    Gif("huge", "huge file", special=True),
    Gif("liar", "liar file", special=True),
    Gif("elsewhere", "elsewhere redirect", special=True),
    Gif("slow", "slow file", special=True),
)
_BY_NAME = {gif.name: gif for gif in CATALOGUE}


def animated_gif(width: int, height: int, color: tuple, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (width, height), tuple((c + 60 * i) % 256 for c in color)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def animated_webp(width: int, height: int, color: tuple, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (width, height), tuple((c + 60 * i) % 256 for c in color)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="WEBP", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def still(width: int, height: int, color: tuple, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def mp4(width: int, height: int, color: tuple, frames: int = 6) -> bytes:
    import av  # PyAV: FFmpeg in its wheel

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for i in range(frames):
            image = Image.new("RGB", (width, height), tuple((c + 40 * i) % 256 for c in color))
            frame = av.VideoFrame.from_image(image)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


# rendition -> (width, height, maker, content type)
_RENDITIONS = {
    "original.gif": (96, 72, animated_gif, "image/gif"),
    "original.webp": (96, 72, animated_webp, "image/webp"),
    "original.mp4": (96, 72, mp4, "video/mp4"),
    "small.gif": (48, 36, animated_gif, "image/gif"),
    "small.webp": (48, 36, animated_webp, "image/webp"),
    "small.mp4": (48, 36, mp4, "video/mp4"),
    "still.gif": (48, 36, lambda w, h, c: still(w, h, c, "GIF"), "image/gif"),
    "still.png": (48, 36, lambda w, h, c: still(w, h, c, "PNG"), "image/png"),
}
_files: dict[tuple[str, str], bytes] = {}
_files_lock = threading.Lock()


def media_file(gif: Gif, rendition: str) -> tuple[bytes, str]:
    """The bytes and the content type of one rendition (made once per session)."""
    width, height, make, content_type = _RENDITIONS[rendition]
    with _files_lock:
        key = (gif.color, rendition)
        if key not in _files:
            _files[key] = make(width, height, gif.color)
        return _files[key], content_type


class GifProviderServer:
    """See the module docstring."""

    def __init__(self):
        self.http = HTTPServer(host="localhost", port=0, threaded=True)
        self.slow_seconds = 3.0
        self._lock = threading.Lock()
        self.reset()

    # -- life --------------------------------------------------------------------------------------
    def start(self) -> GifProviderServer:
        self.http.start()
        for path, handler in (("/v1/gifs/search", self._giphy), ("/v1/gifs/trending", self._giphy),
                              ("/v2/search", self._tenor), ("/v2/featured", self._tenor)):
            self.http.expect_request(path, method="GET").respond_with_handler(handler)
        self.http.expect_request(_MediaPath(), method="GET").respond_with_handler(self._media)
        return self

    def stop(self) -> None:
        if self.http.is_running():
            self.http.stop()

    def reset(self) -> None:
        with self._lock:
            self._failure: str | None = None
            self._failures_left: int | None = None
            self.api_requests: list[tuple[str, dict]] = []
            self.media_requests: list[str] = []

    def fail(self, mode: str, times: int | None = None) -> None:
        assert mode in ("unauthorized", "forbidden", "rate_limited", "error", "slow", "garbage"), mode
        with self._lock:
            self._failure, self._failures_left = mode, times

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.http.port

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    media_host = "localhost"
    other_host = "127.0.0.1"

    def media_url(self, name: str, rendition: str = "original.gif", host: str | None = None) -> str:
        return f"http://{host or self.media_host}:{self.port}/media/{name}/{rendition}"

    def env(self, provider: str = "giphy") -> dict[str, str]:
        """The settings that point the system at this server, as environment variables."""
        env = {"GIF_PROVIDER": provider, "GIF_MEDIA_HOSTS": self.media_host, "GIF_ALLOW_HTTP": "1",
               "GIF_ALLOW_PRIVATE": "1"}
        if provider == "giphy":
            env.update(GIPHY_API_KEY=GIPHY_KEY, GIPHY_API_URL=self.base_url)
        elif provider == "tenor":
            env.update(TENOR_API_KEY=TENOR_KEY, TENOR_API_URL=self.base_url)
        return env

    def api_count(self, path_suffix: str = "") -> int:
        return sum(1 for path, _ in self.api_requests if path.endswith(path_suffix))

    # -- answers -----------------------------------------------------------------------------------
    def _scripted(self) -> str | None:
        with self._lock:
            mode = self._failure
            if mode and self._failures_left is not None:
                self._failures_left -= 1
                if self._failures_left <= 0:
                    self._failure = None
            return mode

    def _matches(self, args, max_rating: str, trending: bool) -> list[Gif]:
        allowed = RATINGS[: RATINGS.index(max_rating) + 1] if max_rating in RATINGS else RATINGS[:1]
        words = set(args.get("q", "").lower().split())
        limit = min(int(args.get("limit") or 25), 50)
        offset = int(args.get("offset") or 0)
        if trending:
            found = [gif for gif in CATALOGUE if not gif.special]
        else:
            found = [gif for gif in CATALOGUE if words & set(gif.title.split())]
        found = [gif for gif in found if gif.special or gif.rating in allowed]
        return found[offset: offset + limit]

    def _failure_response(self, mode: str, provider: str) -> Response:
        if mode == "slow":
            time.sleep(self.slow_seconds)
            return None
        if mode == "garbage":
            return Response("<html>gateway</html>", status=200, content_type="text/html")
        status = {"unauthorized": 401, "forbidden": 403, "rate_limited": 429, "error": 500}[mode]
        headers = {"Retry-After": "7"} if status == 429 else {}
        return _error(provider, status, headers)

    def _giphy(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.api_requests.append((request.path, args))
        mode = self._scripted()
        if mode:
            failed = self._failure_response(mode, "giphy")
            if failed is not None:
                return failed
        if args.get("api_key") != GIPHY_KEY:
            return _error("giphy", 401)
        trending = request.path.endswith("/trending")
        if not trending and not args.get("q"):
            return _error("giphy", 400)
        gifs = self._matches(args, args.get("rating", "g"), trending)
        body = {"data": [self._giphy_gif(gif) for gif in gifs],
                "pagination": {"total_count": len(gifs), "count": len(gifs), "offset": int(args.get("offset") or 0)},
                "meta": {"status": 200, "msg": "OK", "response_id": "test"}}
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _tenor(self, request: Request) -> Response:
        args = request.args.to_dict()
        self.api_requests.append((request.path, args))
        mode = self._scripted()
        if mode:
            failed = self._failure_response(mode, "tenor")
            if failed is not None:
                return failed
        if args.get("key") != TENOR_KEY:
            return _error("tenor", 403)
        trending = request.path.endswith("/featured")
        if not trending and not args.get("q"):
            return _error("tenor", 400)
        gifs = self._matches(args, _TENOR_FILTER.get(args.get("contentfilter", "off"), "r"), trending)
        body = {"results": [self._tenor_gif(gif) for gif in gifs], "next": ""}
        return Response(json.dumps(body), status=200, content_type="application/json")

    def _declared(self, gif: Gif, rendition: str) -> dict:
        data, _ = media_file(gif, rendition)
        width, height = _RENDITIONS[rendition][:2]
        size = 4096 if gif.name == "huge" else len(data)
        return {"url": self.media_url(gif.name, rendition), "width": width, "height": height, "size": size}

    def _giphy_image(self, gif: Gif, prefix: str, animated: bool = True) -> dict:
        # Giphy writes its numbers as strings.
        base = self._declared(gif, f"{prefix}.gif")
        image = {"url": base["url"], "width": str(base["width"]), "height": str(base["height"]),
                 "size": str(base["size"])}
        if animated:
            webp, mp4_ = self._declared(gif, f"{prefix}.webp"), self._declared(gif, f"{prefix}.mp4")
            image.update(webp=webp["url"], webp_size=str(webp["size"]), mp4=mp4_["url"], mp4_size=str(mp4_["size"]))
        return image

    def _giphy_gif(self, gif: Gif) -> dict:
        original = self._giphy_image(gif, "original")
        if gif.special:   # one rendition only, so that a copy takes the special file
            small = {key: original[key] for key in ("url", "width", "height", "size")}
            original = dict(small)
        else:
            small = self._giphy_image(gif, "small")
        return {"type": "gif", "id": gif.name, "title": gif.title, "rating": gif.rating,
                "url": f"https://giphy.com/gifs/{gif.name}", "slug": gif.name,
                "images": {"original": original, "downsized": {k: original[k] for k in ("url", "width", "height", "size")},
                           "fixed_width": small, "fixed_width_small": small,
                           "fixed_width_still": self._giphy_image(gif, "still", animated=False),
                           "preview_gif": {k: small[k] for k in ("url", "width", "height", "size")}}}

    def _tenor_format(self, gif: Gif, rendition: str) -> dict:
        declared = self._declared(gif, rendition)
        return {"url": declared["url"], "dims": [declared["width"], declared["height"]], "duration": 0.3,
                "preview": "", "size": declared["size"]}

    def _tenor_gif(self, gif: Gif) -> dict:
        if gif.special:
            formats = {"gif": self._tenor_format(gif, "original.gif"), "gifpreview": self._tenor_format(gif, "still.png")}
        else:
            formats = {"gif": self._tenor_format(gif, "original.gif"), "mediumgif": self._tenor_format(gif, "original.gif"),
                       "tinygif": self._tenor_format(gif, "small.gif"), "nanogif": self._tenor_format(gif, "small.gif"),
                       "mp4": self._tenor_format(gif, "original.mp4"), "tinymp4": self._tenor_format(gif, "small.mp4"),
                       "webp": self._tenor_format(gif, "original.webp"), "tinywebp": self._tenor_format(gif, "small.webp"),
                       "gifpreview": self._tenor_format(gif, "still.png")}
        return {"id": gif.name, "title": gif.title, "content_description": f"{gif.title} GIF", "created": 1700000000.0,
                "itemurl": f"https://tenor.com/view/{gif.name}", "url": f"https://tenor.com/{gif.name}",
                "tags": gif.title.split(), "flags": [], "hasaudio": False, "media_formats": formats}

    def _media(self, request: Request) -> Response:
        self.media_requests.append(request.path)
        parts = request.path.split("/")      # "", "media", name, rendition
        gif, rendition = _BY_NAME.get(parts[2]), parts[3]
        if gif is None or rendition not in _RENDITIONS:
            return Response("not found", status=404)
        data, content_type = media_file(gif, rendition)
        if gif.name == "huge":
            data = data + b"\0" * (HUGE_BYTES - len(data))
        elif gif.name == "liar":
            data = b"<html><body>not a gif</body></html>"
        elif gif.name == "elsewhere":
            return Response("", status=302, headers={"Location": self.media_url("happycat", rendition, self.other_host)})
        elif gif.name == "slow":
            time.sleep(self.slow_seconds)
        return Response(data, status=200, content_type=content_type)


class _MediaPath(URIPattern):
    """A URI matcher for every ``/media/<name>/<rendition>`` path (pytest-httpserver's URIPattern)."""

    def match(self, uri: str) -> bool:
        parts = uri.split("/")
        return len(parts) == 4 and parts[1] == "media"


def _error(provider: str, status: int, headers: dict | None = None) -> Response:
    message = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 429: "API rate limit exceeded",
               500: "Internal server error"}[status]
    if provider == "giphy":
        body = {"data": [], "meta": {"status": status, "msg": message, "response_id": "test"}}
    else:
        body = {"error": {"code": status, "message": message, "status": "ERROR"}}
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers or {})


_session_server: GifProviderServer | None = None


@pytest.fixture(scope="session")
def gif_provider_server():
    global _session_server
    if _session_server is None:
        _session_server = GifProviderServer().start()
        atexit.register(_session_server.stop)
    yield _session_server


@pytest.fixture
def gif_provider(gif_provider_server):
    gif_provider_server.reset()
    yield gif_provider_server
    gif_provider_server.reset()
