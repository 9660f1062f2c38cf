"""The one way this server fetches a GIF provider's file (a preview, or the file a send copies into S3): an
SSRF-safe HTTP GET. A URL comes from a provider's answer, so it is treated as hostile: https only, its host
one of the provider's media hosts, its address a public one (checked once, then connected to, so a DNS
answer cannot change between the check and the connection), redirects followed by hand and each checked the
same way, the body streamed and refused past ``max_bytes``, and every step bounded in time."""
from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error, TimeoutError as Urllib3Timeout

FetchCode = Literal["invalid_gif", "gif_unavailable"]

MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"https": 443, "http": 80}
_CHUNK = 64 * 1024


class FetchRefused(Exception):
    """The fetch did not give a file. ``code`` is a contract error code: ``invalid_gif`` when the URL or what
    it answered is not acceptable (outside the media hosts, a private address, too big, a bad scheme),
    ``gif_unavailable`` when the provider did not answer well (timeout, an HTTP error, a connection error)."""

    def __init__(self, code: FetchCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str   # the answer's media type, lower-case, without parameters ("" when absent)


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    """``host`` is one of ``allowed_hosts``: an entry matches itself exactly, and an entry starting with a dot
    (".giphy.com") matches any name under it ("media0.giphy.com", not "giphy.com" nor "evilgiphy.com")."""
    host = host.lower().rstrip(".")
    for entry in allowed_hosts:
        entry = entry.lower().strip()
        if not entry:
            continue
        if entry.startswith("."):
            if host.endswith(entry) and len(host) > len(entry):
                return True
        elif host == entry:
            return True
    return False


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local
                                 or ip.is_loopback or ip.is_private)


def _resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: every address the name has must be public (a name with one private
    address among public ones is refused: which one a client would use is not ours to guess)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused("gif_unavailable", f"the GIF host {host} does not resolve") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchRefused("gif_unavailable", f"the GIF host {host} does not resolve")
    if not allow_private and not all(_public(address) for address in addresses):
        raise FetchRefused("invalid_gif", f"the GIF host {host} is not a public address")
    # IPv4 first: a host where IPv6 resolves but does not route would otherwise fail where IPv4 works.
    return sorted(addresses, key=lambda address: ":" in address)[0]


def _check_url(url: str, allowed_hosts: Iterable[str], allow_http: bool, allow_private: bool):
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise FetchRefused("invalid_gif", "a GIF URL must be https")
    if parts.username or parts.password:
        raise FetchRefused("invalid_gif", "a GIF URL may not carry credentials")
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise FetchRefused("invalid_gif", "the GIF URL has a bad port") from exc
    if not host or not host_allowed(host, allowed_hosts):
        raise FetchRefused("invalid_gif", f"the GIF host {host or '(none)'} is not one of the provider's media hosts")
    address = _resolve(host, port, allow_private)
    if port != _DEFAULT_PORTS[scheme] and not allow_private:
        raise FetchRefused("invalid_gif", "a GIF URL must use the default port")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port, address, target


def _pool(scheme: str, host: str, port: int, address: str, timeout: urllib3.Timeout):
    # Connect to the checked address; TLS still checks the certificate against the name (SNI and hostname).
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=host, assert_hostname=host)
    return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def _read_body(response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused("invalid_gif", f"the GIF file is larger than {max_bytes} bytes")
    body = bytearray()
    for chunk in response.stream(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise FetchRefused("invalid_gif", f"the GIF file is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchRefused("gif_unavailable", "the GIF provider took too long to send the file")
    return bytes(body)


def _get_once(url, allowed_hosts, max_bytes, timeout, deadline, allow_http, allow_private):
    """One request: ``(None, location)`` for a redirect, else ``(Fetched, None)``."""
    scheme, host, port, address, target = _check_url(url, allowed_hosts, allow_http, allow_private)
    host_header = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    pool = _pool(scheme, host, port, address, urllib3.Timeout(connect=timeout, read=timeout))
    try:
        response = pool.urlopen("GET", target, headers={"Host": host_header, "Accept": "image/*,video/mp4",
                                                        "User-Agent": "chat-gif-fetch"},
                                redirect=False, preload_content=False, retries=False)
        try:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchRefused("gif_unavailable", "the GIF provider redirected nowhere")
                return None, urljoin(url, location)
            if response.status != 200:
                raise FetchRefused("gif_unavailable", f"the GIF provider answered {response.status}")
            content_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            return Fetched(_read_body(response, max_bytes, deadline), content_type), None
        finally:
            response.release_conn()
            response.close()
    except FetchRefused:
        raise
    except (Urllib3Error, OSError) as exc:
        timed_out = isinstance(exc, (Urllib3Timeout, TimeoutError)) or "timed out" in str(exc).lower()
        raise FetchRefused("gif_unavailable", "the GIF provider did not answer in time" if timed_out
                           else "the GIF provider could not be reached") from exc
    finally:
        pool.close()


def fetch(url: str, *, allowed_hosts: Iterable[str], max_bytes: int, timeout: float,
          allow_private: bool = False, allow_http: bool = False) -> Fetched:
    """GET ``url`` under the rules of this module's docstring. ``timeout`` bounds the connection and each
    read; the whole fetch, redirects included, gets at most three times it. ``allow_private`` (private and
    loopback addresses, any port) and ``allow_http`` are GIF_ALLOW_PRIVATE and GIF_ALLOW_HTTP: for a local
    provider server in the tests (``infra.gifs.fetch_policy(settings, provider)`` passes them)."""
    allowed_hosts = tuple(allowed_hosts)
    deadline = time.monotonic() + 3 * timeout
    for _ in range(MAX_REDIRECTS + 1):
        fetched, location = _get_once(url, allowed_hosts, max_bytes, timeout, deadline, allow_http, allow_private)
        if fetched is not None:
            return fetched
        url = location
    raise FetchRefused("invalid_gif", f"the GIF URL redirected more than {MAX_REDIRECTS} times")
