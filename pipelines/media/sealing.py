"""Captions, comments and album descriptions stored before their conversation had a key, sealed afterwards
(docs/security.md): the walk that seals a conversation's history once it is encrypted calls
``do_seal_stored_media`` until it returns 0. Until then those texts stay readable: the repository opens a plain value as it is."""
from __future__ import annotations

from infra.storage import Store


def do_seal_stored_media(store: Store, conv_id: str, limit: int) -> int:
    """Seal the plain captions and comments of up to ``limit`` files (and album descriptions) of the conversation (three indexed
    queries, one conditional update per value); how many plain values were found, 0 when none is left (or the
    conversation is not encrypted). A value changed or removed meanwhile is left as it now is."""
    if limit <= 0 or not store.vault.encrypted(conv_id):
        return 0
    found = 0
    for doc in store.media.plain_media_texts(conv_id, limit):
        if isinstance(doc.get("caption"), str) and doc["caption"]:
            found += 1
            store.media.seal_media_caption(doc["_id"], conv_id, doc["caption"])
        for comment in doc.get("comments") or ():
            if isinstance(comment.get("content"), str) and comment["content"]:
                found += 1
                store.media.seal_media_comment(doc["_id"], conv_id, comment["id"], comment["content"])
    for album in store.media.plain_album_descriptions(conv_id, limit):
        found += 1
        store.media.seal_album_description(album["_id"], conv_id, album["description"])
    return found
