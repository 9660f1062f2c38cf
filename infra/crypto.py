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
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Protocol

from bson.binary import Binary
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_SUBTYPE = 0x80        # BSON binary subtype of a sealed value (user-defined range)
VERSION = 1
NONCE_BYTES = 12
NEGATIVE_TTL_SECONDS = 5.0   # how long "this conversation has no data key" is believed without asking


class CryptoError(Exception):
    """A sealed value that cannot be opened: no master key, an unknown key id, or tampered bytes."""


class MasterKeys(Protocol):
    """What wraps data keys: local keys from a setting (``LocalMasterKeys``) or a KMS."""
    current_id: str

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        """(the master key id used, the wrapped data key)."""

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes: ...


class LocalMasterKeys:
    """Master keys given as ``id:base64(32 bytes)`` pairs, comma-separated (ENCRYPTION_MASTER_KEYS); the
    first is the current one, the others are kept to unwrap what they wrapped until a rotation re-wraps it."""

    def __init__(self, spec: str) -> None:
        self.keys: dict[str, AESGCM] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, _, b64 = part.partition(":")
            raw = base64.b64decode(b64, validate=True) if b64 else b""
            if not key_id or len(raw) != 32:
                raise ValueError("each master key is 'id:base64 of 32 random bytes'")
            self.keys[key_id] = AESGCM(raw)
        if not self.keys:
            raise ValueError("no master key given")
        self.current_id = next(iter(self.keys))

    @staticmethod
    def generate(key_id: str = "local-1") -> str:
        return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self.current_id, nonce + self.keys[self.current_id].encrypt(nonce, data_key, context.encode())

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes:
        key = self.keys.get(master_id)
        if key is None:
            raise CryptoError(f"master key {master_id!r} is not configured")
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


class Vault:
    """Seals and opens protected values per conversation. Without master keys it is off: ``seal`` returns
    the text as is, and ``open`` refuses a sealed value with a clear error."""

    def __init__(self, keys: DataKeyStore, master: MasterKeys | None = None,
                 wants_encryption: Callable[[str], bool] | None = None) -> None:
        self.keys, self.master = keys, master
        self.wants_encryption = wants_encryption or (lambda conv_id: False)
        self._by_id: dict[str, _DataKey] = {}
        self._current: dict[str, str] = {}           # scope -> current data key id
        self._absent: dict[str, float] = {}          # scope -> monotonic time "no key" was last seen
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.master is not None

    # --- per conversation ---
    def encrypted(self, conv_id: str) -> bool:
        """Whether the conversation's protected writes are sealed (it has a data key, or asks for one)."""
        return self._current_key(conv_id, create=True) is not None

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
        data = bytes(value)
        if not data or data[0] != VERSION:
            raise CryptoError("not a sealed value of a known version")
        n = data[1]
        key = self._key_by_id(data[2:2 + n].decode())
        nonce, body = data[2 + n:2 + n + NONCE_BYTES], data[2 + n + NONCE_BYTES:]
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
        return ["#" + base64.b64encode(hmac.new(key.index_key, w.encode(), hashlib.sha256).digest()[:12]).decode()
                for w in words]

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
        n = read(1)[0]
        key = self._key_by_id(read(n).decode())
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
    def rewrap_all(self, all_keys: Iterable[dict[str, Any]], save: Callable[[str, str, bytes], None]) -> int:
        """Re-wrap every data key not wrapped by the current master key; returns how many were."""
        if self.master is None:
            raise CryptoError("no master key is configured")
        count = 0
        for doc in all_keys:
            if doc["masterKeyId"] == self.master.current_id:
                continue
            raw = self.master.unwrap(doc["masterKeyId"], bytes(doc["wrapped"]), doc["scope"])
            master_id, wrapped = self.master.wrap(raw, doc["scope"])
            save(doc["_id"], master_id, wrapped)
            count += 1
        return count

    # --- keys ---
    def _current_key(self, scope: str, *, create: bool) -> _DataKey | None:
        key_id = self._current.get(scope)
        if key_id is not None:
            return self._by_id[key_id]
        seen = self._absent.get(scope)
        if seen is not None and time.monotonic() - seen < NEGATIVE_TTL_SECONDS:
            return None
        doc = self.keys.current_key(scope)
        if doc is None and create and self.enabled and self.wants_encryption(scope):
            doc = self._create(scope)
        if doc is None:
            self._absent[scope] = time.monotonic()
            return None
        key = self._load(doc)
        with self._lock:
            self._current[scope] = key.id
            self._absent.pop(scope, None)
        return key

    def _create(self, scope: str) -> dict[str, Any]:
        raw = AESGCM.generate_key(bit_length=256)
        master_id, wrapped = self.master.wrap(raw, scope)
        doc = {"_id": f"{scope}:1", "scope": scope, "version": 1, "masterKeyId": master_id,
               "wrapped": Binary(wrapped), "createdAt": time.time()}
        self.keys.insert_key(doc)          # a concurrent first write may have won: read what is stored
        return self.keys.current_key(scope)

    def _key_by_id(self, key_id: str) -> _DataKey:
        key = self._by_id.get(key_id)
        if key is None:
            doc = self.keys.find_key(key_id)
            if doc is None:
                raise CryptoError(f"data key {key_id!r} is not stored")
            key = self._load(doc)
        return key

    def _load(self, doc: dict[str, Any]) -> _DataKey:
        key = self._by_id.get(doc["_id"])
        if key is not None:
            return key
        if self.master is None:
            raise CryptoError("a sealed value was found but no master key is configured (ENCRYPTION_MASTER_KEYS)")
        raw = self.master.unwrap(doc["masterKeyId"], bytes(doc["wrapped"]), doc["scope"])
        key = _DataKey(doc["_id"], doc["scope"], AESGCM(raw), _derive(raw, b"blind-index"))
        with self._lock:
            self._by_id[key.id] = key
        return key


FILE_MAGIC = b"CHATENC1"


def _record(key: _DataKey, prefix: bytes, number: int, chunk: bytes, last: bool, conv_id: str) -> bytes:
    nonce = prefix + bytes([1 if last else 0]) + number.to_bytes(4, "big")
    body = key.aead.encrypt(nonce, chunk, conv_id.encode())
    return bytes([1 if last else 0]) + len(body).to_bytes(4, "big") + body
