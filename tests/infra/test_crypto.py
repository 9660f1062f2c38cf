"""Encryption at rest (infra.crypto): values sealed per conversation and bound to it, refused when tampered
with, moved, or when their master key is missing; file streams whose records cannot be reordered or cut
off; blind search tokens; the first data key of a conversation made once under concurrent writes; the
group setting honoured at once in the process that turned it on."""
from __future__ import annotations

import threading

import pytest
from bson.binary import Binary
from cryptography.exceptions import InvalidTag

from infra import crypto
from infra.crypto import CryptoError, LocalMasterKeys, SEALED_SUBTYPE, Vault
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from schemas.common import new_id
from tests.conftest import make_conversation, make_user

K1, K2 = LocalMasterKeys.generate("k1"), LocalMasterKeys.generate("k2")


def new_store(db=None, keys: str | None = K1, encrypt_all: bool = True) -> Store:
    store = Store(db if db is not None else embedded_client()[f"vault-{new_id()}"],
                  LocalMasterKeys(keys) if keys else None, encrypt_all)
    store.ensure_indexes()
    return store


@pytest.fixture
def world():
    store = new_store()
    ada, bob = make_user(store, "ada"), make_user(store, "bob")
    return store, make_conversation(store, [ada, bob]), make_conversation(store, [ada, bob], "other")


def test_a_value_is_sealed_and_opens_only_with_its_conversation(world):
    store, conv, other = world
    sealed = store.vault.seal(conv.id, "the launch code is 1234 ✓")
    assert isinstance(sealed, Binary) and sealed.subtype == SEALED_SUBTYPE
    assert b"1234" not in bytes(sealed) and b"launch" not in bytes(sealed)
    assert store.vault.open(conv.id, sealed) == "the launch code is 1234 ✓"
    assert store.vault.seal(conv.id, "same") != store.vault.seal(conv.id, "same")   # a fresh nonce each time
    with pytest.raises(CryptoError, match="moved"):
        store.vault.open(other.id, sealed)
    assert store.vault.open(conv.id, "stored before encryption") == "stored before encryption"
    assert store.conversations.get_conversation(conv.id).encrypted is True       # the key made it so
    assert store.conversations.get_conversation(other.id).encrypted is False     # nothing sealed there yet


def test_the_aead_binds_the_conversation_id_even_under_the_right_key(world):
    store, conv, _ = world
    vault = store.vault
    sealed = bytes(vault.seal(conv.id, "hello"))
    key = vault._key_for(conv.id, conv.id + ":1")
    n = sealed[1]
    nonce, body = sealed[2 + n:2 + n + 12], sealed[2 + n + 12:]
    assert key.aead.decrypt(nonce, body, conv.id.encode()) == b"hello"
    with pytest.raises(InvalidTag):
        key.aead.decrypt(nonce, body, b"another-conversation")


@pytest.mark.parametrize("damage", ["flip_body", "flip_nonce", "truncate", "key_id", "version", "subtype"])
def test_a_tampered_value_is_refused_with_a_clear_error(world, damage):
    store, conv, _ = world
    data = bytearray(store.vault.seal(conv.id, "a secret of some length"))
    if damage == "flip_body":
        data[-1] ^= 1
    elif damage == "flip_nonce":
        data[2 + data[1]] ^= 1
    elif damage == "truncate":
        data = data[:2 + data[1] + 5]
    elif damage == "key_id":
        data[2] = ord("x")
    elif damage == "version":
        data[0] = 9
    value = Binary(bytes(data), 0 if damage == "subtype" else SEALED_SUBTYPE)
    with pytest.raises(CryptoError) as caught:
        store.vault.open(conv.id, value)
    assert str(caught.value)


def test_a_value_whose_master_key_is_gone_names_the_missing_key_id(world):
    store, conv, _ = world
    sealed = store.vault.seal(conv.id, "hello")
    with pytest.raises(CryptoError, match="'k1'.*not configured"):
        new_store(store.db, K2).vault.open(conv.id, sealed)
    with pytest.raises(CryptoError, match="no master key is configured"):
        new_store(store.db, None).vault.open(conv.id, sealed)
    assert new_store(store.db, f"{K2},{K1}").vault.open(conv.id, sealed) == "hello"


def test_a_plain_conversation_passes_values_and_words_through():
    store = new_store(encrypt_all=False)
    ada = make_user(store, "ada")
    conv = make_conversation(store, [ada])
    assert store.vault.seal(conv.id, "hello") == "hello"
    assert store.vault.blind_words(conv.id, ["hello", "world"]) == ["hello", "world"]
    assert not store.vault.encrypted(conv.id)
    assert list(store.vault.seal_chunks(conv.id, [b"ab", b"cd"])) == [b"ab", b"cd"]
    assert store.keys.current_key(conv.id) is None


def test_blind_tokens_match_equal_words_within_one_conversation_only(world):
    store, conv, other = world
    a = store.vault.blind_words(conv.id, ["deploy", "deploy", "release"])
    b = store.vault.blind_words(other.id, ["deploy"])
    assert a[0] == a[1] != a[2] and a[0] != b[0]
    assert all(t.startswith("#") and "deploy" not in t for t in a + b)
    # A fresh process (another Store on the same database) computes the same tokens.
    assert new_store(store.db).vault.blind_words(conv.id, ["deploy"]) == [a[0]]


def _file(store: Store, conv_id: str, chunks: list[bytes]) -> bytes:
    return b"".join(store.vault.seal_chunks(conv_id, chunks))


def _reader(data: bytes):
    view = memoryview(data)
    at = [0]

    def read(n: int) -> bytes:
        out = bytes(view[at[0]:at[0] + n])
        at[0] += len(out)
        return out
    return read


def _records(data: bytes) -> tuple[bytes, list[bytes]]:
    """The header and each record of a sealed file."""
    n = data[len(crypto.FILE_MAGIC)]
    at = len(crypto.FILE_MAGIC) + 1 + n + 7
    head, records = data[:at], []
    while at < len(data):
        length = int.from_bytes(data[at + 1:at + 5], "big")
        records.append(data[at:at + 5 + length])
        at += 5 + length
    return head, records


def test_a_file_streams_sealed_and_opens_back(world):
    store, conv, other = world
    chunks = [b"first chunk ", b"second chunk ", b"", b"last"]
    data = _file(store, conv.id, chunks)
    assert data.startswith(crypto.FILE_MAGIC) and b"chunk" not in data
    assert b"".join(store.vault.open_chunks(conv.id, _reader(data))) == b"".join(chunks)
    assert b"".join(store.vault.open_chunks(conv.id, _reader(b"plain, as before"))) == b"plain, as before"
    with pytest.raises(CryptoError):
        b"".join(store.vault.open_chunks(other.id, _reader(data)))


def test_a_files_records_can_be_neither_reordered_nor_cut_off(world):
    store, conv, _ = world
    head, records = _records(_file(store, conv.id, [b"one", b"two", b"three"]))
    assert len(records) == 3
    with pytest.raises(CryptoError, match="reordered"):
        b"".join(store.vault.open_chunks(conv.id, _reader(head + records[1] + records[0] + records[2])))
    with pytest.raises(CryptoError, match="cut short"):
        b"".join(store.vault.open_chunks(conv.id, _reader(head + records[0] + records[1])))
    with pytest.raises(CryptoError):        # the last record dropped, an earlier one made to look last
        forged = bytes([1]) + records[1][1:]
        b"".join(store.vault.open_chunks(conv.id, _reader(head + records[0] + forged)))


def test_concurrent_first_writes_make_one_data_key(world):
    store, conv, _ = world
    fresh = new_store(store.db)              # no cache: every thread asks the database
    ready, values, errors = threading.Barrier(16), [], []

    def write(i: int) -> None:
        try:
            ready.wait()
            values.append((i, fresh.vault.seal(conv.id, f"message {i}")))
        except Exception as exc:              # collected: the assertion below names it
            errors.append(exc)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.db.data_keys.count_documents({"scope": conv.id}) == 1
    reader = new_store(store.db)
    assert sorted(reader.vault.open(conv.id, v) for _, v in values) == sorted(f"message {i}" for i in range(16))


def test_ensure_key_is_honoured_at_once_in_the_process_that_turned_encryption_on():
    store = new_store(encrypt_all=False)
    conv = make_conversation(store, [make_user(store, "ada")])
    assert store.vault.seal(conv.id, "before") == "before"        # "no key" is now believed for a while
    store.groups.set_group_settings(conv.groupId, {"encryption": True})
    assert store.vault.seal(conv.id, "still believed plain") == "still believed plain"
    assert store.vault.ensure_key(conv.id) is True
    assert store.vault.ensure_key(conv.id) is False                 # made once
    assert isinstance(store.vault.seal(conv.id, "after"), Binary)
    assert store.conversations.get_conversation(conv.id).encrypted is True
    with pytest.raises(CryptoError, match="master key"):
        new_store(store.db, None).vault.ensure_key(conv.id)


def test_another_process_sees_the_key_once_its_negative_cache_expires(monkeypatch):
    store = new_store(encrypt_all=False)
    conv = make_conversation(store, [make_user(store, "ada")])
    other = new_store(store.db, encrypt_all=False)
    assert other.vault.seal(conv.id, "plain") == "plain"
    store.vault.ensure_key(conv.id)
    assert other.vault.seal(conv.id, "within the ttl") == "within the ttl"
    monkeypatch.setattr(crypto, "NEGATIVE_TTL_SECONDS", 0.0)
    assert store.vault.open(conv.id, other.vault.seal(conv.id, "after")) == "after"


def test_a_small_cache_still_opens_everything():
    db = embedded_client()[f"vault-{new_id()}"]
    store = Store(db, LocalMasterKeys(K1), True)
    store.ensure_indexes()
    store.vault = Vault(store.keys, LocalMasterKeys(K1), lambda conv_id: True, cache_size=2)
    sealed = {f"conv{i}": store.vault.seal(f"conv{i}", f"text {i}") for i in range(6)}
    assert all(store.vault.open(c, v) == f"text {c[4:]}" for c, v in sealed.items())
    assert len(store.vault._by_id._items) <= 2


@pytest.mark.parametrize("spec", ["", "k1", "k1:" + "A" * 8, "bad id:" + K1.split(":")[1], f"{K1},{K1}", "k1:%%%"])
def test_master_keys_are_checked_when_read(spec):
    with pytest.raises(ValueError):
        LocalMasterKeys(spec)
