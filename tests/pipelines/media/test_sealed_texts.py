"""Captions, comments and album descriptions at rest (infra/storage/media.py, pipelines/media/sealing.py): in an encrypted
conversation the stored BSON holds none of their words; every reader gets them back; those stored before
the conversation had a key are sealed by ``do_seal_stored_media``; a plain conversation is unchanged."""
from __future__ import annotations

import bson
import pytest

from bench.thumbnails import photo_jpeg
from infra.crypto import CryptoError
from pipelines.media import gallery
from pipelines.media.sealing import do_seal_stored_media
from schemas.payloads import AlbumCreate, IdPage
from tests.pipelines.media.world import world  # noqa: F401 - world: the fixture
from tests.sealed import encrypted, store  # noqa: F401 - the fixtures

CAPTION = "sunset over Quiberon harbour"
COMMENT = "gorgeous colours Marguerite"
WORDS = ("sunset", "Quiberon", "harbour", "gorgeous", "colours", "Marguerite")


def raw(store, media_id) -> bytes:
    return bson.encode(store.db.media.find_one({"_id": media_id}))


def leaked(data: bytes) -> list[str]:
    return [w for w in WORDS if w.encode() in data]


def a_file(world):
    created = world.upload(photo_jpeg((120, 80)), "image/jpeg")
    world.finish(created["id"])
    return created["id"]


def test_caption_and_comments_are_sealed_at_rest_and_read_back_everywhere(store, world):
    media_id = a_file(world)
    gallery.do_set_caption(store, world.alice, media_id, CAPTION)
    gallery.do_comment(store, world.bob, media_id, COMMENT)
    stored = store.db.media.find_one({"_id": media_id})
    assert isinstance(stored["caption"], bytes) and isinstance(stored["comments"][0]["content"], bytes)
    assert leaked(raw(store, media_id)) == []
    # Every way a member reads the file gives the text back.
    assert gallery.get_media(store, world.bob, media_id).caption == CAPTION
    page = gallery.gallery(store, world.bob, world.conv.id, None, IdPage(None, 10))
    [item] = page["media"]
    assert item["caption"] == CAPTION and item["comments"][0]["content"] == COMMENT
    assert store.media.media_by_ids([media_id])[media_id].comments[0].content == COMMENT
    liked = store.media.like_media(media_id, world.bob.id, store.media.get_media(media_id).updatedAt, True)
    assert liked.caption == CAPTION and liked.comments[0].content == COMMENT
    # Removing a caption stores nothing to seal.
    assert gallery.do_set_caption(store, world.alice, media_id, "").caption is None


def test_an_album_description_is_sealed_at_rest_and_read_back_and_older_ones_by_the_walk(store, world):
    album = gallery.do_create_album(store, world.alice, world.conv.id, AlbumCreate(name="Holidays", description=CAPTION))
    stored = store.db.albums.find_one({"_id": album.id})
    assert isinstance(stored["description"], bytes) and leaked(bson.encode(stored)) == []
    assert stored["name"] == "Holidays"                      # a title: metadata, in clear
    assert store.media.get_album(album.id).description == CAPTION
    [listed] = gallery.list_albums(store, world.bob, world.conv.id, IdPage(None, 10))["albums"]
    assert listed["description"] == CAPTION
    moved = store.media.add_to_album(store.media.get_album(album.id), store.media.get_media(a_file(world)),
                                     store.media.get_media(a_file(world)).updatedAt)
    assert moved.description == CAPTION
    store.db.albums.update_one({"_id": album.id}, {"$set": {"description": COMMENT}})   # stored before the key
    assert do_seal_stored_media(store, world.conv.id, 10) == 1
    assert leaked(bson.encode(store.db.albums.find_one({"_id": album.id}))) == []
    assert store.media.get_album(album.id).description == COMMENT
    assert do_seal_stored_media(store, world.conv.id, 10) == 0


def test_a_sealed_caption_does_not_open_in_another_conversation(store, world):
    media_id = a_file(world)
    gallery.do_set_caption(store, world.alice, media_id, CAPTION)
    sealed = store.db.media.find_one({"_id": media_id})["caption"]
    with pytest.raises(CryptoError):
        store.vault.open(world.other.id, sealed)


def test_texts_stored_before_the_key_are_sealed_by_the_walk_and_stay_readable_meanwhile(store, world):
    media_id = a_file(world)
    # As stored before the conversation was encrypted: plain values.
    store.db.media.update_one({"_id": media_id}, {"$set": {"caption": CAPTION, "comments": [
        {"id": "c1", "userId": world.bob.id, "userInfo": {"username": "bob"}, "content": COMMENT,
         "at": store.media.get_media(media_id).updatedAt},
        {"id": "c2", "userId": world.bob.id, "userInfo": {"username": "bob"}, "content": "Marguerite again",
         "at": store.media.get_media(media_id).updatedAt}]}})
    assert store.media.get_media(media_id).caption == CAPTION          # plain values still open
    assert do_seal_stored_media(store, world.conv.id, 10) == 3         # the caption and two comments
    assert do_seal_stored_media(store, world.conv.id, 10) == 0         # done
    assert leaked(raw(store, media_id)) == []
    media = store.media.get_media(media_id)
    assert media.caption == CAPTION and [c.content for c in media.comments] == [COMMENT, "Marguerite again"]


def test_the_walk_is_bounded_by_its_limit(store, world):
    ids = [a_file(world) for _ in range(3)]
    for media_id in ids:
        store.db.media.update_one({"_id": media_id}, {"$set": {"caption": CAPTION}})
    assert do_seal_stored_media(store, world.conv.id, 2) == 2
    assert do_seal_stored_media(store, world.conv.id, 2) == 1
    assert do_seal_stored_media(store, world.conv.id, 2) == 0
    assert all(leaked(raw(store, i)) == [] for i in ids)


@pytest.mark.parametrize("encrypted", [False])
def test_a_plain_conversation_is_unchanged(world):
    """No master key (the default): captions and comments are stored as written, the walk seals nothing."""
    plain = world.io.store
    media_id = a_file(world)
    gallery.do_set_caption(plain, world.alice, media_id, CAPTION)
    gallery.do_comment(plain, world.bob, media_id, COMMENT)
    doc = plain.db.media.find_one({"_id": media_id})
    assert doc["caption"] == CAPTION and doc["comments"][0]["content"] == COMMENT
    assert do_seal_stored_media(plain, world.conv.id, 10) == 0


def test_the_repair_walk_with_these_sealers_seals_media_texts_and_notification_bodies(store, world):
    """pipelines.upkeep.sealing's walk calls this capability's sealers (STORED_SEALERS)."""
    from pipelines.upkeep.sealing import seal_stored
    from schemas.common import utcnow
    media_id = a_file(world)
    store.db.media.update_one({"_id": media_id}, {"$set": {"caption": CAPTION}})
    store.db.notifications.insert_one({"_id": "n1", "key": "n1", "userId": world.bob.id, "type": "mention",
                                       "title": "t", "body": COMMENT, "data": {"convId": world.conv.id},
                                       "createdAt": utcnow(), "updatedAt": utcnow(), "expiresAt": utcnow()})
    assert store.vault.encrypted(world.conv.id)
    result = seal_stored(store, now=utcnow())
    assert result.sealed.get("do_seal_stored_media") == 1 and result.sealed.get("do_seal_stored_notifications") == 1
    assert world.conv.id in result.finished
    assert leaked(raw(store, media_id)) == [] and not any(
        w.encode() in bson.encode(store.db.notifications.find_one({"_id": "n1"})) for w in WORDS)
