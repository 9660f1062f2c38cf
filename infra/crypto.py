"""Encryption at rest (docs/security.md): envelope encryption with AES-GCM.

Each conversation has its own data key, made on its first protected write, stored wrapped by a master key
(``MasterKeys``: keys from a setting, or a KMS) in the ``data_keys`` collection. Every protected value
(what users write: message text, its edits and quotes, notification bodies, captions, comments) is stored
as BSON binary that carries the id of the data key that sealed it, so the master key can be rotated by
re-wrapping the data keys alone (``Vault.rewrap_all``). Plain strings are values never sealed (an
unencrypted conversation, or stored before its conversation was): ``open`` returns them as they are.

A value is bound to its conversation (the conversation id is the AEAD's associated data): a sealed value
copied into another conversation's document does not open.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from bson.binary import Binary
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_SUBTYPE = 0x80        # BSON binary subtype of a sealed value (user-defined range)
VERSION = 1
NONCE_BYTES = 12
NEGATIVE_TTL_SECONDS = 5.0   # how long "this conversation has no data key" is believed without asking
CACHE_SIZE = 50_000          # unwrapped data keys (and key lookups) a process keeps
TOKEN_CACHE_SIZE = 100_000   # blind tokens a process remembers, by (data key, word)


class CryptoError(Exception):
    """A sealed value that cannot be opened: no master key, an unknown key id, or tampered bytes."""


class MasterKeys(Protocol):
    """What wraps data keys: local keys from a setting (``LocalMasterKeys``) or a KMS."""
    current_id: str

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        """(the master key id used, the wrapped data key)."""

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes:
        """The data key; CryptoError when ``master_id`` is not configured or the bytes do not unwrap."""

    def knows(self, master_id: str) -> bool:
        """Whether ``master_id`` is one of these keys (a ring of several asks each)."""


class LocalMasterKeys:
    """Master keys given as ``id:base64(32 bytes)`` pairs, comma-separated (ENCRYPTION_MASTER_KEYS); the
    first is the current one, the others are kept to unwrap what they wrapped until a rotation re-wraps it."""

    def __init__(self, spec: str) -> None:
        self.keys: dict[str, AESGCM] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, _, b64 = part.partition(":")
            raw = base64.b64decode(b64, validate=True) if b64 else b""
            if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", key_id) or len(raw) != 32:
                raise ValueError("each master key is 'id:base64 of 32 random bytes' (id: letters, digits, . _ -)")
            if key_id in self.keys:
                raise ValueError(f"master key {key_id!r} is given twice")
            self.keys[key_id] = AESGCM(raw)
        if not self.keys:
            raise ValueError("no master key given")
        self.current_id = next(iter(self.keys))

    @staticmethod
    def generate(key_id: str = "local-1") -> str:
        return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"

    def knows(self, master_id: str) -> bool:
        return master_id in self.keys

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self.current_id, nonce + self.keys[self.current_id].encrypt(nonce, data_key, context.encode())

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes:
        key = self.keys.get(master_id)
        if key is None:
            raise CryptoError(f"it is wrapped by master key {master_id!r}, which is not configured "
                              f"(ENCRYPTION_MASTER_KEYS holds {', '.join(self.keys)})")
        try:
            return key.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise CryptoError(f"the data key wrapped by {master_id!r} does not unwrap") from None


class DataKeyStore(Protocol):
    """Where wrapped data keys live (infra.storage.keys.KeysRepo)."""

    def find_key(self, key_id: str) -> dict[str, Any] | None: ...
    def current_key(self, scope: str) -> dict[str, Any] | None: ...
    def insert_key(self, doc: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class _DataKey:
    id: str
    scope: str
    aead: AESGCM
    index_key: bytes          # the blind index's HMAC key, derived from the data key


def _derive(raw: bytes, label: bytes) -> bytes:
    return hmac.new(raw, label, hashlib.sha256).digest()


class _Lru:
    """A bounded map, least recently used out first, safe across threads (the messages worker's thread
    pool) and green threads (the web process). A server with a million conversations must not keep a
    million unwrapped keys: the ones in use stay, the others are unwrapped again when next needed."""

    def __init__(self, size: int) -> None:
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class Vault:
    """Seals and opens protected values per conversation. Without master keys it is off: ``seal`` returns
    the text as is, and ``open`` refuses a sealed value with a clear error.

    ``wants_encryption(conv_id)`` says whether a conversation without a data key should get one on its
    next protected write; ``on_key_made(conv_id)`` is told when this process made one (the Store marks the
    conversation ``encrypted``). "No key" is believed for NEGATIVE_TTL_SECONDS per conversation, so a plain
    conversation costs no lookup per write; ``ensure_key`` (the group setting) makes the key at once and
    clears that belief in this process; other processes see the key once theirs expires."""

    def __init__(self, keys: DataKeyStore, master: MasterKeys | None = None,
                 wants_encryption: Callable[[str], bool] | None = None,
                 on_key_made: Callable[[str], None] | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.keys, self.master = keys, master
        self.wants_encryption = wants_encryption or (lambda conv_id: False)
        self.on_key_made = on_key_made or (lambda conv_id: None)
        self._by_id = _Lru(cache_size)               # data key id -> _DataKey (unwrapped)
        self._current = _Lru(cache_size)             # scope -> current data key id
        self._absent = _Lru(cache_size)              # scope -> monotonic time "no key" was last seen
        # (data key id, word) -> its blind token: chat words repeat, and an HMAC per word was most of what
        # sealing added to storing a message. A data key never changes (a rotation re-wraps it), nor its tokens.
        # A plain dict, cleared when full: its reads and writes are atomic, and an LRU's lock and reordering
        # cost more than the HMAC they save.
        self._tokens: dict[tuple[str, str], str] = {}

    @property
    def enabled(self) -> bool:
        return self.master is not None

    # --- per conversation ---
    def encrypted(self, conv_id: str) -> bool:
        """Whether the conversation's protected writes are sealed (it has a data key, or asks for one)."""
        return self._current_key(conv_id, create=True) is not None

    def ensure_key(self, conv_id: str) -> bool:
        """Make the conversation's data key now if it has none (a group turning encryption on), whatever
        ``wants_encryption`` says; True when this call made it. Raises CryptoError without master keys."""
        if self.master is None:
            raise CryptoError("encryption at rest needs a master key (ENCRYPTION_MASTER_KEYS or ENCRYPTION_KMS_KEY_ID)")
        self._absent.pop(conv_id)
        doc = self.keys.current_key(conv_id)
        made = doc is None
        if made:
            doc = self._create(conv_id)
        self._remember(conv_id, self._load(doc))
        return made

    def forget_absent(self, conv_id: str) -> None:
        """Drop this process's belief that the conversation has no key (its next write asks again)."""
        self._absent.pop(conv_id)

    def seal(self, conv_id: str, text: str) -> str | Binary:
        key = self._current_key(conv_id, create=True)
        if key is None:
            return text
        nonce = os.urandom(NONCE_BYTES)
        body = key.aead.encrypt(nonce, text.encode(), conv_id.encode())
        kid = key.id.encode()
        return Binary(bytes([VERSION, len(kid)]) + kid + nonce + body, SEALED_SUBTYPE)

    def open(self, conv_id: str, value: Any) -> Any:
        """The text of a stored value: a sealed one decrypted, anything else as it is."""
        if not isinstance(value, bytes):
            return value
        if isinstance(value, Binary) and value.subtype != SEALED_SUBTYPE:
            raise CryptoError(f"a binary value of subtype {value.subtype} is not a sealed value")
        key_id, nonce, body = _parse_sealed(bytes(value))
        key = self._key_for(conv_id, key_id)
        try:
            return key.aead.decrypt(nonce, body, conv_id.encode()).decode()
        except InvalidTag:
            raise CryptoError(f"a value of conversation {conv_id} does not open (tampered or moved)") from None

    def blind_words(self, conv_id: str, words: Iterable[str]) -> list[str]:
        """Search keys for ``words``: the words themselves in a plain conversation; in an encrypted one a
        keyed hash of each (HMAC-SHA256 under a key derived from the conversation's data key, 96 bits in
        base64), so equal words give equal keys within that conversation only."""
        key = self._current_key(conv_id, create=True)
        if key is None:
            return list(words)
        tokens, out = self._tokens, []
        for word in words:
            token = tokens.get((key.id, word))
            if token is None:
                if len(tokens) >= TOKEN_CACHE_SIZE:
                    tokens.clear()
                token = tokens[(key.id, word)] = (
                    "#" + base64.b64encode(hmac.digest(key.index_key, word.encode(), "sha256")[:12]).decode())
            out.append(token)
        return out

    # --- files (export files at rest) ---
    def seal_chunks(self, conv_id: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """A file sealed as it streams: a header naming the key, then each chunk as one AES-GCM record
        (length, ciphertext) whose nonce holds its number and whether it is the last, so records can be
        neither reordered nor cut off. A plain conversation's chunks pass through unchanged."""
        key = self._current_key(conv_id, create=True)
        if key is None:
            yield from chunks
            return
        prefix = os.urandom(7)
        kid = key.id.encode()
        yield FILE_MAGIC + bytes([len(kid)]) + kid + prefix
        number, pending = 0, None
        for chunk in chunks:
            if pending is not None:
                yield _record(key, prefix, number, pending, False, conv_id)
                number += 1
            pending = chunk
        yield _record(key, prefix, number, pending or b"", True, conv_id)

    def open_chunks(self, conv_id: str, read: Callable[[int], bytes]) -> Iterator[bytes]:
        """The plain bytes of a file ``seal_chunks`` wrote, read through ``read(n)``; a file without the
        header is returned as it is."""
        head = read(len(FILE_MAGIC))
        if head != FILE_MAGIC:
            yield head
            while chunk := read(1 << 16):
                yield chunk
            return
        n = read(1)
        key_id = read(n[0]) if n else b""
        if not n or len(key_id) != n[0]:
            raise CryptoError("the file is cut short")
        key = self._key_for(conv_id, _text(key_id))
        prefix, number = read(7), 0
        while True:
            header = read(5)
            if len(header) < 5:
                raise CryptoError("the file is cut short")
            last, length = header[0] == 1, int.from_bytes(header[1:], "big")
            body = read(length)
            nonce = prefix + bytes([1 if last else 0]) + number.to_bytes(4, "big")
            try:
                yield key.aead.decrypt(nonce, body, conv_id.encode())
            except InvalidTag:
                raise CryptoError("a file record does not open (tampered, moved or reordered)") from None
            if last:
                return
            number += 1

    # --- master key rotation ---
    def rewrap(self, doc: dict[str, Any]) -> tuple[str, bytes] | None:
        """A stored data key wrapped again by the current master key: (its id, the wrapped key), or None
        when it already is."""
        if self.master is None:
            raise CryptoError("no master key is configured")
        if doc["masterKeyId"] == self.master.current_id:
            return None
        raw = self._unwrap(doc)
        return self.master.wrap(raw, doc["scope"])

    def rewrap_all(self, all_keys: Iterable[dict[str, Any]], save: Callable[[str, str, bytes], None]) -> int:
        """Re-wrap every data key not wrapped by the current master key; returns how many were."""
        if self.master is None:
            raise CryptoError("no master key is configured")
        count = 0
        for doc in all_keys:
            wrapped = self.rewrap(doc)
            if wrapped is not None:
                save(doc["_id"], *wrapped)
                count += 1
        return count

    # --- keys ---
    def _current_key(self, scope: str, *, create: bool) -> _DataKey | None:
        key_id = self._current.get(scope)
        if key_id is not None:
            key = self._by_id.get(key_id)
            if key is not None:
                return key
        seen = self._absent.get(scope)
        if seen is not None and time.monotonic() - seen < NEGATIVE_TTL_SECONDS:
            return None
        doc = self.keys.current_key(scope)
        if doc is None and create and self.enabled and self.wants_encryption(scope):
            doc = self._create(scope)
        if doc is None:
            self._absent.put(scope, time.monotonic())
            return None
        key = self._load(doc)
        self._remember(scope, key)
        return key

    def _remember(self, scope: str, key: _DataKey) -> None:
        self._current.put(scope, key.id)
        self._absent.pop(scope)

    def _create(self, scope: str) -> dict[str, Any]:
        raw = AESGCM.generate_key(bit_length=256)
        master_id, wrapped = self.master.wrap(raw, scope)
        doc = {"_id": f"{scope}:1", "scope": scope, "version": 1, "masterKeyId": master_id,
               "wrapped": Binary(wrapped), "createdAt": time.time()}
        if self.keys.insert_key(doc):
            self.on_key_made(scope)
        # A concurrent first write may have won (the unique (scope, version)): use what is stored.
        stored = self.keys.current_key(scope)
        if stored is None:
            raise CryptoError(f"the data key of {scope} was not stored")
        return stored

    def _key_for(self, conv_id: str, key_id: str) -> _DataKey:
        """The data key that sealed a value of ``conv_id``; a value carrying another conversation's key was
        moved, and is refused before any decryption."""
        key = self._by_id.get(key_id)
        if key is None:
            doc = self.keys.find_key(key_id)
            if doc is None:
                raise CryptoError(f"data key {key_id!r} is not stored")
            key = self._load(doc)
        if key.scope != conv_id:
            raise CryptoError(f"a value sealed for {key.scope} was found in {conv_id} (moved)")
        return key

    def _load(self, doc: dict[str, Any]) -> _DataKey:
        key = self._by_id.get(doc["_id"])
        if key is not None:
            return key
        raw = self._unwrap(doc)
        key = _DataKey(doc["_id"], doc["scope"], AESGCM(raw), _derive(raw, b"blind-index"))
        self._by_id.put(key.id, key)
        return key

    def _unwrap(self, doc: dict[str, Any]) -> bytes:
        if self.master is None:
            raise CryptoError("a sealed value was found but no master key is configured "
                              "(ENCRYPTION_MASTER_KEYS or ENCRYPTION_KMS_KEY_ID)")
        try:
            return self.master.unwrap(doc["masterKeyId"], bytes(doc["wrapped"]), doc["scope"])
        except CryptoError as exc:
            raise CryptoError(f"data key {doc['_id']!r}: {exc}") from None


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise CryptoError("a sealed value names no readable key id") from None


def _parse_sealed(data: bytes) -> tuple[str, bytes, bytes]:
    """(data key id, nonce, ciphertext) of a sealed value: version, key id length, key id, nonce, body."""
    if len(data) < 2 or data[0] != VERSION:
        raise CryptoError("not a sealed value of a known version")
    n = data[1]
    if len(data) < 2 + n + NONCE_BYTES + 16:
        raise CryptoError("a sealed value is cut short")
    return _text(data[2:2 + n]), data[2 + n:2 + n + NONCE_BYTES], data[2 + n + NONCE_BYTES:]


FILE_MAGIC = b"CHATENC1"


def _record(key: _DataKey, prefix: bytes, number: int, chunk: bytes, last: bool, conv_id: str) -> bytes:
    nonce = prefix + bytes([1 if last else 0]) + number.to_bytes(4, "big")
    body = key.aead.encrypt(nonce, chunk, conv_id.encode())
    return bytes([1 if last else 0]) + len(body).to_bytes(4, "big") + body
