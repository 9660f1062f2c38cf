"""The GIF library over sealed captions (infra/storage/gifs.py reads the media collection): in an encrypted
conversation a captioned GIF is stored with its caption sealed, and the library's search and trending
still answer, with the file's plain caption behind them."""
from __future__ import annotations

import bson

from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.gifs.search import search_gifs
from pipelines.media.gallery import do_set_caption
from schemas.payloads import parse_gif_search, parse_gif_trending
from tests.conftest import make_conversation, make_user
from tests.pipelines.gifs.world import add_media, config


def test_a_sealed_caption_is_found_and_read_back_by_the_library(w):
    store = Store(embedded_client()["test"], LocalMasterKeys(LocalMasterKeys.generate("k1")), encrypt_all=True)
    alice, bob = make_user(store, f"ca-{w.alice.id[-6:]}"), make_user(store, f"cb-{w.alice.id[-6:]}")
    conv = make_conversation(store, [alice, bob])
    media = add_media(store, conv, alice, "clip.gif")
    do_set_caption(store, alice, media.id, "albatross ballet #seabirds")
    raw = bson.encode(store.db.media.find_one({"_id": media.id}))
    assert b"albatross" not in raw and b"seabirds" not in raw
    for query in (parse_gif_search({"q": "albatross", "convId": conv.id}), parse_gif_trending({"convId": conv.id})):
        found = search_gifs(store, w.redis, config(w, "library"), bob, query)
        assert [g.id for g in found.gifs] == [f"library:{media.id}"]
    assert [m.caption for m in store.gifs.newest([conv.id], 5)] == ["albatross ballet #seabirds"]
