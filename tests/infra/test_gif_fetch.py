"""The SSRF-safe fetcher against the local provider server (tests/gif_provider.py): what it accepts, and each
way a URL or its answer is refused."""
from __future__ import annotations

import pytest

from infra.gifs.fetch import FetchRefused, fetch, host_allowed
from tests.gif_provider import HUGE_BYTES, gif_provider, gif_provider_server  # noqa: F401

LOCAL = dict(allowed_hosts=("localhost",), max_bytes=1_000_000, timeout=2.0, allow_http=True, allow_private=True)


def refused(url: str, **overrides) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        fetch(url, **{**LOCAL, **overrides})
    return caught.value


def test_fetches_a_real_gif_and_its_type(gif_provider):
    fetched = fetch(gif_provider.media_url("happycat", "original.gif"), **LOCAL)
    assert fetched.data.startswith(b"GIF89a")
    assert fetched.content_type == "image/gif"
    mp4 = fetch(gif_provider.media_url("happycat", "small.mp4"), **LOCAL)
    assert mp4.content_type == "video/mp4" and mp4.data[4:8] == b"ftyp"


def test_host_matching_is_exact_or_a_dot_suffix():
    hosts = ("media.giphy.com", ".tenor.com")
    assert host_allowed("media.giphy.com", hosts)
    assert host_allowed("MEDIA.GIPHY.COM.", hosts)
    assert host_allowed("media1.tenor.com", hosts)
    assert not host_allowed("tenor.com", hosts)
    assert not host_allowed("eviltenor.com", hosts)
    assert not host_allowed("media.giphy.com.evil.net", hosts)
    assert not host_allowed("giphy.com", hosts)


def test_a_host_outside_the_media_hosts_is_refused(gif_provider):
    error = refused(gif_provider.media_url("happycat", host="127.0.0.1"))
    assert error.code == "invalid_gif" and "media hosts" in error.message
    assert gif_provider.media_requests == []


def test_a_redirect_to_another_host_is_refused(gif_provider):
    error = refused(gif_provider.media_url("elsewhere"))
    assert error.code == "invalid_gif" and "127.0.0.1" in error.message
    # The first hop was asked, the other host never.
    assert gif_provider.media_requests == ["/media/elsewhere/original.gif"]


def test_a_redirect_within_the_media_hosts_is_followed(gif_provider):
    both = ("localhost", "127.0.0.1")
    fetched = fetch(gif_provider.media_url("elsewhere"), **{**LOCAL, "allowed_hosts": both})
    assert fetched.data.startswith(b"GIF89a")
    assert gif_provider.media_requests == ["/media/elsewhere/original.gif", "/media/happycat/original.gif"]


def test_a_name_that_resolves_to_loopback_is_refused_unless_allowed(gif_provider):
    error = refused(gif_provider.media_url("happycat"), allow_private=False)
    assert error.code == "invalid_gif" and "public address" in error.message
    assert gif_provider.media_requests == []


@pytest.mark.parametrize("address", ["10.0.0.8", "169.254.169.254", "0.0.0.0", "224.0.0.1", "[::1]",
                                     "[::ffff:127.0.0.1]", "100.64.0.1"])
def test_private_and_special_addresses_are_refused(address):
    with pytest.raises(FetchRefused) as caught:
        fetch(f"https://{address}/x.gif", allowed_hosts=(address.strip("[]"),), max_bytes=10, timeout=1)
    assert caught.value.code == "invalid_gif"


def test_http_is_refused_unless_allowed(gif_provider):
    error = refused(gif_provider.media_url("happycat"), allow_http=False)
    assert error.code == "invalid_gif" and "https" in error.message
    assert refused("file:///etc/passwd").code == "invalid_gif"
    assert refused("http://user:pw@localhost/x").code == "invalid_gif"


def test_an_oversized_file_is_refused_not_truncated(gif_provider):
    error = refused(gif_provider.media_url("huge"), max_bytes=HUGE_BYTES - 1)
    assert error.code == "invalid_gif" and "larger" in error.message


def test_a_slow_file_times_out(gif_provider):
    gif_provider.slow_seconds = 2.0
    try:
        error = refused(gif_provider.media_url("slow"), timeout=0.5)
    finally:
        gif_provider.slow_seconds = 3.0
    assert error.code == "gif_unavailable" and "in time" in error.message


def test_an_http_error_is_unavailable(gif_provider):
    error = refused(gif_provider.media_url("nosuchgif"))
    assert error.code == "gif_unavailable" and "404" in error.message


def test_a_closed_port_is_unavailable():
    error = refused("http://localhost:9/x.gif")
    assert error.code == "gif_unavailable"
