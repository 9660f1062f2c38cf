"""The group's own GIF library (no provider key, offline): animated files found by file name, caption and
tags, only the caller's group's and only where the caller is a member; in an encrypted conversation the
stored words are blind tokens and a search still finds whole words."""
from __future__ import annotations

import pytest

from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.gifs.library import do_index_library, do_seal_stored_library, library_words
from pipelines.gifs.offers import find_offer
from pipelines.gifs.search import search_gifs
from pipelines.media.gallery import do_set_caption
from schemas.payloads import parse_gif_search, parse_gif_trending
from tests.conftest import make_conversation, make_user
from tests.pipelines.gifs.world import add_media, config


def search(w, q, who=None, conv=None, store=None):
    return search_gifs(store or w.store, w.redis, config(w, "library"), who or w.alice,
                       parse_gif_search({"q": q, "convId": (conv or w.conv).id}))


def ids(answer):
    return [g.id for g in answer.gifs]


def indexed(store, media):
    do_index_library(store, media)
    return media


def test_words_come_from_the_file_name_and_the_caption_its_tags_included(w):
    media = add_media(w.store, w.conv, w.alice, "Happy_Dance-2024.gif", caption="Friday mood #Célébration")
    words = library_words(media)
    assert words[:3] == ["happy", "dance", "2024"]
    assert {"friday", "mood", "celebration"} <= set(words)


def test_gif_uploads_are_found_by_name_caption_and_tag(w):
    by_name = indexed(w.store, add_media(w.store, w.conv, w.alice, "party-parrot.gif"))
    by_caption = indexed(w.store, add_media(w.store, w.conv, w.bob, "IMG_0042.webp", mime="image/webp",
                                            caption="the cat jumps"))
    by_tag = indexed(w.store, add_media(w.store, w.conv, w.bob, "clip.gif", caption="so true #mood"))
    answer = search(w, "parrot")
    assert answer.provider == "library" and ids(answer) == [f"library:{by_name.id}"]
    assert ids(search(w, "cat jumps")) == [f"library:{by_caption.id}"]
    assert ids(search(w, "#mood")) == [f"library:{by_tag.id}"] == ids(search(w, "mood"))
    # As you type: a prefix finds it; words that are not all there find nothing.
    assert ids(search(w, "parr")) == [f"library:{by_name.id}"]
    assert ids(search(w, "parrot cat")) == []
    gif = search(w, "parrot").gifs[0]
    assert (gif.title, gif.width, gif.height) == ("party-parrot.gif", 320, 240)
    assert gif.previewUrl == f"/api/media/{by_name.id}/content?variant=small"


def test_only_live_animated_files_of_the_callers_group_are_in_it(w):
    for kwargs in ({"animated": False, "mime": "image/png"}, {"status": "processing"}, {"deleted": True}):
        indexed(w.store, add_media(w.store, w.conv, w.alice, "parrot.gif", **kwargs))
    indexed(w.store, add_media(w.store, w.other, w.carol, "parrot.gif"))         # another group's
    assert ids(search(w, "parrot")) == []


def test_the_groups_other_conversations_count_where_the_caller_is_a_member(w):
    group_id = w.conv.groupId
    mine = make_conversation(w.store, [w.alice])
    w.store.db.conversations.update_one({"_id": mine.id}, {"$set": {"groupId": group_id}})
    w.store.db.conversation_members.update_many({"convId": mine.id}, {"$set": {"groupId": group_id}})
    closed = make_conversation(w.store, [w.carol])                                   # same group, alice not in it
    w.store.db.conversations.update_one({"_id": closed.id}, {"$set": {"groupId": group_id}})
    there = indexed(w.store, add_media(w.store, w.store.conversations.get_conversation(mine.id), w.alice, "wave.gif"))
    indexed(w.store, add_media(w.store, w.store.conversations.get_conversation(closed.id), w.carol, "wave.gif"))
    assert ids(search(w, "wave")) == [f"library:{there.id}"]
    assert ids(search(w, "wave", who=w.bob)) == []          # bob is not in alice's other conversation


def test_a_caption_set_by_its_uploader_makes_it_findable(w):
    media = add_media(w.store, w.conv, w.alice, "IMG_1.gif")
    do_set_caption(w.store, w.alice, media.id, "when the build passes #win")
    assert ids(search(w, "build")) == [f"library:{media.id}"] == ids(search(w, "win"))
    do_set_caption(w.store, w.alice, media.id, "")
    assert ids(search(w, "build")) == []


def test_a_library_gif_shown_is_an_offer_of_that_user(w):
    media = indexed(w.store, add_media(w.store, w.conv, w.alice, "parrot.gif"))
    search(w, "parrot", who=w.bob)
    offer = find_offer(w.redis, w.bob.id, f"library:{media.id}")
    assert offer is not None and offer.mediaId == media.id and offer.mediaUrl is None and offer.mime == "image/gif"
    assert find_offer(w.redis, w.alice.id, f"library:{media.id}") is None


def test_trending_is_the_groups_newest_animated_files(w):
    old = add_media(w.store, w.conv, w.alice, "old.gif")
    add_media(w.store, w.conv, w.alice, "still.png", animated=False, mime="image/png")
    new = add_media(w.store, w.conv, w.bob, "new.webp", mime="image/webp")
    add_media(w.store, w.other, w.carol, "theirs.gif")
    answer = search_gifs(w.store, w.redis, config(w, "library"), w.alice, parse_gif_trending({"convId": w.conv.id}))
    assert answer.provider == "library" and ids(answer) == [f"library:{new.id}", f"library:{old.id}"]


@pytest.fixture
def sealed(w):
    """A store where every conversation is encrypted (ENCRYPT_ALL with a master key)."""
    store = Store(embedded_client()["test"], LocalMasterKeys(LocalMasterKeys.generate("k1")), encrypt_all=True)
    alice, bob = make_user(store, f"sa-{w.alice.id[-6:]}"), make_user(store, f"sb-{w.alice.id[-6:]}")
    return store, alice, bob, make_conversation(store, [alice, bob])


def test_in_an_encrypted_conversation_the_words_are_blind_and_still_found(w, sealed):
    store, alice, bob, conv = sealed
    media = add_media(store, conv, alice, "party-parrot.gif", caption="dance floor")
    stored = do_index_library(store, media)
    doc = store.db.media.find_one({"_id": media.id})
    assert doc["gifWords"] == stored and len(stored) == 4
    assert all(word.startswith("#") for word in stored)
    assert not {"party", "parrot", "dance", "floor", "pa", "par"} & set(stored)
    found = search_gifs(store, w.redis, config(w, "library"), bob, parse_gif_search({"q": "Parrot", "convId": conv.id}))
    assert ids(found) == [f"library:{media.id}"]
    found = search_gifs(store, w.redis, config(w, "library"), bob, parse_gif_search({"q": "floor", "convId": conv.id}))
    assert ids(found) == [f"library:{media.id}"]
    # Whole words only: a prefix has no token of its own.
    found = search_gifs(store, w.redis, config(w, "library"), bob, parse_gif_search({"q": "parr", "convId": conv.id}))
    assert ids(found) == []


def test_files_indexed_before_their_conversation_was_encrypted_are_indexed_again_blind(w):
    """A group turning encryption on: the sealing walk (pipelines.upkeep.sealing) replaces the plain words
    and prefixes its files were indexed by with blind tokens, and the library still finds them."""
    store = Store(embedded_client()["test"], LocalMasterKeys(LocalMasterKeys.generate("k1")))
    alice, bob = make_user(store, f"la-{w.alice.id[-6:]}"), make_user(store, f"lb-{w.alice.id[-6:]}")
    conv = make_conversation(store, [alice, bob])
    media = add_media(store, conv, alice, "party-parrot.gif", caption="dance floor")
    assert "parrot" in do_index_library(store, media)            # plain: words and prefixes
    assert do_seal_stored_library(store, conv.id, 10) == 0       # not encrypted: nothing to do
    store.vault.ensure_key(conv.id)
    assert do_seal_stored_library(store, conv.id, 10) == 1
    assert all(word.startswith("#") for word in store.db.media.find_one({"_id": media.id})["gifWords"])
    assert do_seal_stored_library(store, conv.id, 10) == 0       # a second run finds nothing
    found = search_gifs(store, w.redis, config(w, "library"), bob, parse_gif_search({"q": "parrot", "convId": conv.id}))
    assert ids(found) == [f"library:{media.id}"]


def test_a_file_that_is_not_animated_gets_no_words(w):
    media = add_media(w.store, w.conv, w.alice, "photo.png", animated=False, mime="image/png")
    assert do_index_library(w.store, media) is None
    assert "gifWords" not in w.store.db.media.find_one({"_id": media.id})
