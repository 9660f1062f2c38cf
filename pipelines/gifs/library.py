"""The group's own GIF library, the picker's source without a provider key (offline): the animated GIF and
WebP files members uploaded or sent, ready and not deleted, in the conversations of the group the caller
is a member of, found by the words of their file name and caption (its #tags included).

Each file stores the words it is found by (``gifWords``, through ``do_index_library``: at a caption's change
and when an animated file becomes ready). In a plain conversation: the folded words and their prefixes
(search as you type). In an encrypted one: blind tokens of the whole words only (``vault.blind_words``,
per conversation), so a copy of the database learns neither the words nor their prefixes; a search there
matches whole words."""
from __future__ import annotations

import re
from typing import Any

from infra.storage import Store
from infra.text import fold, split_words
from schemas.documents import Conversation, GifOffer, Media, User

MAX_WORDS = 40              # distinct words per file (file name and caption together)
MAX_WORD_CHARS = 40
MIN_PREFIX_CHARS = 2
MAX_QUERY_WORDS = 8
MAX_CONVERSATIONS = 100     # of the group's conversations the caller is in, the most recently active ones
LIBRARY_MIMES = ("image/gif", "image/webp", "video/mp4")
_NAME_SEPARATORS = re.compile(r"[._+~]+")


def _words(text: str) -> list[str]:
    return [fold(word)[:MAX_WORD_CHARS] for word in split_words(text, "french") if fold(word)]


def library_words(media: Media) -> list[str]:
    """What a file is found by: the words of its file name (without its extension), of its caption, and its
    #tags (a tag's word is a caption word like any other), folded like the
    messages' search words, each once, at most MAX_WORDS."""
    stem = media.filename.rsplit(".", 1)[0] if "." in media.filename else media.filename
    caption = media.caption or ""
    found: dict[str, None] = {}
    for text in (_NAME_SEPARATORS.sub(" ", stem), caption):
        for word in _words(str(text)):
            found.setdefault(word, None)
    return list(found)[:MAX_WORDS]


def _with_prefixes(words: list[str]) -> list[str]:
    out: dict[str, None] = {}
    for word in words:
        for end in range(MIN_PREFIX_CHARS, len(word) + 1):
            out.setdefault(word[:end], None)
    return list(out)


def do_index_library(store: Store, media: Media) -> list[str] | None:
    """Store the words ``media`` is found by in the library (a file that is not animated is not in it:
    nothing stored, None). Blind tokens in an encrypted conversation."""
    words = library_words(media)
    if store.vault.encrypted(media.convId):
        stored = store.vault.blind_words(media.convId, words)
    else:
        stored = _with_prefixes(words)
    return stored if store.gifs.set_words(media.id, stored) else None


def do_seal_stored_library(store: Store, conv_id: str, limit: int) -> int:
    """Index again, as blind tokens, up to ``limit`` animated files of a conversation that became encrypted
    after they were indexed in plain words (the sealing walk's, pipelines.upkeep.sealing); how many were
    found, 0 when none is left."""
    if limit <= 0 or not store.vault.encrypted(conv_id):
        return 0
    found = store.gifs.with_plain_words(conv_id, limit)
    for media in found:
        do_index_library(store, media)
    return len(found)


def query_words(q: str) -> list[str]:
    return list(dict.fromkeys(_words(q.replace("#", " "))))[:MAX_QUERY_WORDS]


def _conversations(store: Store, user: User, group_id: str) -> list[str]:
    return [conv.id for conv, _ in store.conversations.conversations_of_user(user.id)
            if conv.groupId == group_id][:MAX_CONVERSATIONS]


def to_offer(media: Media) -> GifOffer | None:
    if media.mimeType not in LIBRARY_MIMES:
        return None
    dims: dict[str, Any] = media.metadata.get("dimensions") or {}
    title = media.caption or media.filename
    return GifOffer(id=f"library:{media.id}", provider="library", title=title[:200],
                    width=int(dims.get("width") or 0), height=int(dims.get("height") or 0),
                    previewUrl=f"/api/media/{media.id}/content?variant=small", mediaUrl=None,
                    mime=media.mimeType, size=media.fileSize, mediaId=media.id)


def search_library(store: Store, user: User, conversation: Conversation, q: str, limit: int) -> list[GifOffer]:
    """The group's animated files matching every word of ``q``, newest first, from the conversations of the
    group the caller is a member of (the conversation asked about among them)."""
    words = query_words(q)
    conv_ids = _conversations(store, user, conversation.groupId)
    if not words or not conv_ids:
        return []
    plain = [conv_id for conv_id in conv_ids if not store.vault.encrypted(conv_id)]
    clauses = [(plain, words)] + [([conv_id], store.vault.blind_words(conv_id, words))
                                  for conv_id in conv_ids if conv_id not in plain]
    offers = [to_offer(media) for media in store.gifs.search(clauses, limit)]
    return [offer for offer in offers if offer is not None]


def trending_library(store: Store, user: User, conversation: Conversation, limit: int) -> list[GifOffer]:
    """The group's newest animated files, in the conversations of the group the caller is a member of."""
    offers = [to_offer(media) for media in store.gifs.newest(_conversations(store, user, conversation.groupId), limit)]
    return [offer for offer in offers if offer is not None]
