"""pipelines/media/gallery.py: what members (and nobody else) do with a conversation's files."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from bench.thumbnails import photo_jpeg
from pipelines.media import gallery
from schemas.errors import ApiError, Code
from schemas.payloads import AlbumCreate, IdPage
from tests.pipelines.media.world import LIMITS, world  # noqa: F401 - world: the fixture


def test_non_members_get_nothing_of_a_file(store, world):
    created = world.upload(photo_jpeg((300, 200)), "image/jpeg")
    world.finish(created["id"])
    for call in (lambda: gallery.get_media(store, world.eve, created["id"]),
                 lambda: gallery.content_url(store, world.blobs, LIMITS, world.eve, created["id"], "small"),
                 lambda: gallery.gallery(store, world.eve, world.conv.id, None, IdPage(None, 10)),
                 lambda: gallery.do_like(store, world.eve, created["id"], True)):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.code == Code.FORBIDDEN
    url = gallery.content_url(store, world.blobs, LIMITS, world.bob, created["id"], "small")
    assert url.startswith("memory://")


def test_a_file_is_saved_without_its_path_control_characters_or_a_header_of_its_own(store, world):
    name = 'C:\\fakepath\\a"b\r\nX-Evil: 1\u202egpj.exe.jpg'   # the override shows "...exe.jpg" as "...gpj.exe"
    created = world.upload(photo_jpeg((300, 200)), "image/jpeg", name=name)
    world.finish(created["id"])
    stored = store.media.get_media(created["id"])
    assert stored.filename == "a_b X-Evil_ 1gpj.exe.jpg" and stored.originalFilename == name
    for variant, saved in [("original", "a_b X-Evil_ 1gpj.exe.jpg"), ("small", "a_b X-Evil_ 1gpj.exe-small.webp")]:
        url = gallery.content_url(store, world.blobs, LIMITS, world.bob, created["id"], variant)
        disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
        assert disposition == f"inline; filename=\"{saved}\"; filename*=UTF-8''{quote(saved, safe='')}"


def test_gallery_albums_likes_comments(store, world):
    ids = [world.upload(photo_jpeg((200, 150)), "image/jpeg")["id"] for _ in range(2)]
    doc_id = world.upload(b"%PDF-1.4\n", "application/pdf", name="doc.pdf")["id"]
    for i in ids + [doc_id]:
        world.finish(i)
    page = gallery.gallery(store, world.bob, world.conv.id, None, IdPage(None, 10))
    assert [m["id"] for m in page["media"]] == [doc_id, *reversed(ids)]
    images = gallery.gallery(store, world.bob, world.conv.id, "image", IdPage(None, 1))
    assert [m["id"] for m in images["media"]] == [ids[1]] and images["hasMore"]
    album = gallery.do_create_album(store, world.bob, world.conv.id, AlbumCreate(name="Vacances"))
    for i in ids:
        album = gallery.do_add_to_album(store, world.bob, album.id, i)
    assert (album.mediaCount, album.coverMediaId, album.mediaTypes) == (2, ids[0], ["image"])
    assert album.totalSize == sum(store.media.get_media(i).fileSize for i in ids)
    with pytest.raises(ApiError) as err:
        gallery.do_add_to_album(store, world.bob, album.id, ids[0])
    assert err.value.code == Code.CONFLICT
    liked = gallery.do_like(store, world.bob, ids[0], True)
    assert gallery.do_like(store, world.bob, ids[0], True)["likeCount"] == liked["likeCount"] == 1
    assert gallery.do_like(store, world.bob, ids[0], False)["likeCount"] == 0
    gallery.do_comment(store, world.bob, ids[0], "Belle photo !")
    assert [c.content for c in store.media.get_media(ids[0]).comments] == ["Belle photo !"]
