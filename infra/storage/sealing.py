"""The repositories' side of encryption at rest (infra.crypto, docs/security.md "What is sealed, field by
field"): sealing a protected text on its way into a document and opening it on the way out, so that the
pipelines above keep seeing plain text and the models keep ``str``.

An empty text is left as it is (it says nothing, and a deleted message's emptied fields stay comparable),
and so is a text without a conversation (a review item about a display name has none: no key to seal with).
"""
from __future__ import annotations

from typing import Any

from infra.crypto import Vault

# Blind search keys begin with this (infra.crypto.Vault.blind_words); "#" is a delimiter of the words a
# message stores (infra.text), so no plain word does.
TOKEN_MARK = "#"


def seal_text(vault: Vault | None, conv_id: str | None, text: Any) -> Any:
    """``text`` sealed for the conversation when it is encrypted; as it is otherwise (a value already
    sealed, an empty text, no conversation)."""
    if vault is None or not conv_id or not isinstance(text, str) or not text:
        return text
    return vault.seal(conv_id, text)


def open_text(vault: Vault | None, conv_id: str | None, value: Any) -> Any:
    """The text of a stored value (a plain one as it is)."""
    if vault is None or not isinstance(value, bytes):
        return value
    return vault.open(conv_id or "", value)


def is_plain(value: Any) -> bool:
    """A stored protected value still in clear (what the sealing walk looks for)."""
    return isinstance(value, str) and value != ""


def plain_words(words: list[str] | None) -> bool:
    """Search words stored in clear (not yet blind tokens)."""
    return any(not w.startswith(TOKEN_MARK) for w in words or ())


# -- messages (infra.storage.messages: the live collection and the archive share the shape) --------------
def seal_message(vault: Vault | None, doc: dict[str, Any]) -> dict[str, Any]:
    """A message document about to be stored, its protected fields sealed and its search words blind
    (in place): one seal for the text, one for a reply's quote."""
    if vault is None:
        return doc
    conv_id = doc["convId"]
    doc["content"] = seal_text(vault, conv_id, doc.get("content"))
    for edit in doc.get("editHistory") or ():
        edit["content"] = seal_text(vault, conv_id, edit.get("content"))
    quote = (doc.get("metadata") or {}).get("quote")
    if quote:
        quote["excerpt"] = seal_text(vault, conv_id, quote.get("excerpt"))
    if doc.get("words"):
        doc["words"] = blind(vault, conv_id, doc["words"])
    return doc


def open_message(vault: Vault | None, doc: dict[str, Any]) -> dict[str, Any]:
    """A stored message document with its protected fields in clear (in place; the search words stay as
    stored: they are never shown)."""
    if vault is None:
        return doc
    conv_id = doc.get("convId")
    if isinstance(doc.get("content"), bytes):
        doc["content"] = vault.open(conv_id, doc["content"])
    for edit in doc.get("editHistory") or ():
        if isinstance(edit.get("content"), bytes):
            edit["content"] = vault.open(conv_id, edit["content"])
    quote = (doc.get("metadata") or {}).get("quote")
    if quote and isinstance(quote.get("excerpt"), bytes):
        quote["excerpt"] = vault.open(conv_id, quote["excerpt"])
    return doc


def blind(vault: Vault, conv_id: str, words: list[str]) -> list[str]:
    """The search words as stored in the conversation: plain words turned into its blind tokens (those
    already tokens kept), or as they are in a plain conversation."""
    plain = [w for w in words if not w.startswith(TOKEN_MARK)]
    if not plain:
        return words
    return list(dict.fromkeys([*(w for w in words if w.startswith(TOKEN_MARK)), *vault.blind_words(conv_id, plain)]))


def message_in_clear(vault: Vault, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``$set`` that seals what a stored message still holds in clear (stored before its conversation
    was encrypted): its text, its edits, its quote, its search words; empty when there is nothing."""
    conv_id, changes = doc["convId"], {}
    if is_plain(doc.get("content")):
        changes["content"] = vault.seal(conv_id, doc["content"])
    history = doc.get("editHistory") or []
    if any(is_plain(e.get("content")) for e in history):
        changes["editHistory"] = [{**e, "content": seal_text(vault, conv_id, e.get("content"))} for e in history]
    quote = (doc.get("metadata") or {}).get("quote")
    if quote and is_plain(quote.get("excerpt")):
        changes["metadata.quote.excerpt"] = vault.seal(conv_id, quote["excerpt"])
    if plain_words(doc.get("words")):
        changes["words"] = blind(vault, conv_id, doc["words"])
    return changes


class Opened:
    """A model read through ``open_doc`` first: what ``newest_first`` and the like take as the model, for a
    repository whose documents hold sealed fields."""

    def __init__(self, model: Any, open_doc) -> None:
        self.model, self.open_doc = model, open_doc

    def from_mongo(self, doc: dict[str, Any]) -> Any:
        return self.model.from_mongo(self.open_doc(doc))


def seal_in_clear(collection, query: dict[str, Any], seal_doc, limit: int) -> int:
    """The sealing walk's step for a collection of few documents per conversation (scheduled messages,
    review items, log entries): up to ``limit`` of those ``query`` finds (the ones holding a text in clear)
    sealed by ``seal_doc`` (the document -> its ``$set``), each conditional on its updatedAt or, without
    one, on the values read. Returns how many were found: fewer than ``limit`` means none is left."""
    docs = list(collection.find(query).limit(limit))
    for doc in docs:
        changes = seal_doc(doc)
        if changes:
            guard = {"updatedAt": doc["updatedAt"]} if "updatedAt" in doc else \
                {field: doc.get(field) for field in changes if "." not in field}
            collection.update_one({"_id": doc["_id"], **guard}, {"$set": changes})
    return len(docs)
