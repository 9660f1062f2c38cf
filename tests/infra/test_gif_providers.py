"""Which of a GIF's renditions is copied and which is the preview, from answers shaped like Giphy's and
Tenor's documentation, and the default provider from the settings."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.config import Settings
from infra.gifs import fetch_policy, make_provider
from infra.gifs.base import Rendition, choose_file
from infra.gifs.giphy import to_offer as giphy_offer
from infra.gifs.tenor import to_offer as tenor_offer

MB = 1 << 20


def image(url, width, height, size, webp=None, webp_size=None, mp4=None, mp4_size=None):
    out = {"url": url, "width": str(width), "height": str(height), "size": str(size)}
    if webp:
        out.update(webp=webp, webp_size=str(webp_size))
    if mp4:
        out.update(mp4=mp4, mp4_size=str(mp4_size))
    return out


GIPHY_ITEM = {"id": "abc", "title": "cat", "images": {
    "original": image("https://media1.giphy.com/o.gif", 480, 360, 9 * MB, "https://media1.giphy.com/o.webp", 3 * MB,
                      "https://media1.giphy.com/o.mp4", 1 * MB),
    "fixed_width": image("https://media1.giphy.com/w.gif", 200, 150, 900_000, "https://media1.giphy.com/w.webp", 300_000,
                         "https://media1.giphy.com/w.mp4", 100_000),
    "fixed_width_small": image("https://media1.giphy.com/s.gif", 100, 75, 90_000, "https://media1.giphy.com/s.webp",
                               30_000),
    "fixed_width_still": image("https://media1.giphy.com/still.gif", 200, 150, 20_000)}}


def test_giphy_the_smallest_good_webp_is_copied_and_the_small_one_previews():
    offer = giphy_offer(GIPHY_ITEM, 8 * MB)
    assert offer.id == "giphy:abc" and offer.provider == "giphy"
    assert (offer.mediaUrl, offer.mime, offer.width, offer.size) == ("https://media1.giphy.com/w.webp", "image/webp",
                                                                     200, 300_000)
    assert offer.previewUrl == "https://media1.giphy.com/s.webp"


def test_mp4_when_there_is_no_webp_and_gif_last():
    renditions = [Rendition("https://h/a.gif", "image/gif", 300, 200, 100),
                  Rendition("https://h/a.mp4", "video/mp4", 300, 200, 500)]
    assert choose_file(renditions, MB).mime == "video/mp4"
    assert choose_file(renditions[:1], MB).mime == "image/gif"


def test_renditions_over_the_size_limit_are_never_chosen():
    renditions = [Rendition("https://h/big.webp", "image/webp", 480, 360, 3 * MB),
                  Rendition("https://h/small.gif", "image/gif", 480, 360, 200_000)]
    assert choose_file(renditions, MB).url == "https://h/small.gif"
    assert choose_file(renditions[:1], MB) is None
    # A GIF with nothing under the limit is left out of the answer.
    assert giphy_offer(GIPHY_ITEM, 1000) is None


def test_a_small_rendition_only_when_nothing_good_is_there():
    renditions = [Rendition("https://h/tiny.webp", "image/webp", 100, 75, 10),
                  Rendition("https://h/less.gif", "image/gif", 150, 100, 10)]
    assert choose_file(renditions, MB).url == "https://h/less.gif"    # the widest there is


def test_tenor_formats():
    item = {"id": "t1", "title": "", "content_description": "a dog waving", "media_formats": {
        "gif": {"url": "https://media.tenor.com/a.gif", "dims": [498, 280], "size": 2 * MB},
        "mp4": {"url": "https://media.tenor.com/a.mp4", "dims": [498, 280], "size": 300_000},
        "tinygif": {"url": "https://media.tenor.com/t.gif", "dims": [220, 124], "size": 150_000},
        "tinymp4": {"url": "https://media.tenor.com/t.mp4", "dims": [220, 124], "size": 60_000},
        "gifpreview": {"url": "https://media.tenor.com/p.png", "dims": [498, 280], "size": 20_000}}}
    offer = tenor_offer(item, 8 * MB)
    assert offer.id == "tenor:t1" and offer.title == "a dog waving"
    assert (offer.mediaUrl, offer.mime, offer.width, offer.height) == ("https://media.tenor.com/t.mp4", "video/mp4",
                                                                       220, 124)
    assert offer.previewUrl == "https://media.tenor.com/t.gif"


def test_items_without_an_id_or_files_are_skipped():
    assert giphy_offer({"id": "", "images": GIPHY_ITEM["images"]}, MB) is None
    assert giphy_offer({"id": "x", "images": "nope"}, MB) is None
    assert tenor_offer({"id": "x", "media_formats": {"gif": {"url": "javascript:alert(1)", "dims": [1, 1]}}}, MB) is None


def test_the_default_provider_and_its_media_hosts():
    assert make_provider(Settings()) is None
    giphy = make_provider(Settings(giphy_api_key="k", tenor_api_key="t"))
    assert giphy.name == "giphy" and "media1.giphy.com" in giphy.media_hosts and "k" not in repr(giphy)
    assert make_provider(Settings(tenor_api_key="t")).name == "tenor"
    policy = fetch_policy(Settings(tenor_api_key="t", gif_media_hosts=" .cdn.example.org, Media.Example.net "),
                          make_provider(Settings(tenor_api_key="t")))
    assert policy.allowed_hosts[-2:] == (".cdn.example.org", "media.example.net")
    assert "media.tenor.com" in policy.allowed_hosts and not policy.allow_http and not policy.allow_private


def test_a_provider_named_without_its_key_stops_the_start_up():
    with pytest.raises(ValidationError, match="GIF_PROVIDER=giphy needs GIPHY_API_KEY"):
        Settings(gif_provider="giphy")
    with pytest.raises(ValidationError, match="GIF_PROVIDER=tenor needs TENOR_API_KEY"):
        Settings(gif_provider="tenor", giphy_api_key="k")
    assert make_provider(Settings(gif_provider="library", giphy_api_key="k")) is None
