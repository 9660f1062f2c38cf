"""Master key rotation (pipelines.security.keys, and ``python -m app.keys``): values sealed under k1, rotated
to "k2,k1", open with k2 alone; a second rotation changes nothing; a run stopped half way is finished by the
next; a tampered data key or value is refused; a master key id that is not configured is reported, and its
values fail with an error naming it."""
from __future__ import annotations

import io
import json

import pytest

from app.keys import main
from infra.crypto import CryptoError, LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store
from pipelines.security.keys import do_rotate, key_status
from schemas.common import new_id
from tests.conftest import make_conversation, make_user

K1, K2, K3 = (LocalMasterKeys.generate(k) for k in ("k1", "k2", "k3"))


def store_with(db, keys: str | None) -> Store:
    store = Store(db, LocalMasterKeys(keys) if keys else None, True)
    store.ensure_indexes()
    return store


@pytest.fixture
def sealed():
    """Seven conversations with a value each, sealed under k1."""
    db = embedded_client()[f"rotation-{new_id()}"]
    store = store_with(db, K1)
    ada = make_user(store, "ada")
    values = {}
    for i in range(7):
        conv = make_conversation(store, [ada], f"c{i}")
        values[conv.id] = (f"text {i}", store.vault.seal(conv.id, f"text {i}"))
    return db, values


def opened(store: Store, values) -> dict[str, str]:
    return {c: store.vault.open(c, v) for c, (_, v) in values.items()}


def test_rotation_rewraps_every_data_key_and_the_old_master_key_can_go(sealed):
    db, values = sealed
    rotating = store_with(db, f"{K2},{K1}")
    assert key_status(rotating).public() == {"current": "k2", "keys": {"k1": 7}, "missing": []}
    result = do_rotate(rotating, batch=3)
    assert result.public() == {"current": "k2", "rewrapped": 7, "skipped": {}, "failed": []}
    assert key_status(rotating).keys == {"k2": 7}
    assert do_rotate(rotating).rewrapped == 0                     # idempotent
    assert opened(store_with(db, K2), values) == {c: t for c, (t, _) in values.items()}
    with pytest.raises(CryptoError, match="'k2'.*not configured"):
        opened(store_with(db, K1), values)


def test_a_rotation_stopped_half_way_is_finished_by_the_next_run(sealed):
    db, values = sealed
    rotating = store_with(db, f"{K2},{K1}")
    first = list(db.data_keys.find({}).sort("_id", 1).limit(3))
    for doc in first:                                             # what a run that died after 3 keys did
        rotating.keys.rewrap(doc["_id"], *rotating.vault.rewrap(doc), was="k1")
    assert key_status(rotating).keys == {"k1": 4, "k2": 3}
    assert do_rotate(rotating, batch=2).rewrapped == 4
    assert opened(store_with(db, K2), values) == {c: t for c, (t, _) in values.items()}


def test_a_tampered_data_key_is_listed_and_a_tampered_value_refused(sealed):
    db, values = sealed
    victim, (text, value) = next(iter(values.items()))
    doc = db.data_keys.find_one({"scope": victim})
    wrapped = bytearray(doc["wrapped"])
    wrapped[-1] ^= 1
    db.data_keys.update_one({"_id": doc["_id"]}, {"$set": {"wrapped": bytes(wrapped)}})
    result = do_rotate(store_with(db, f"{K2},{K1}"))
    assert result.failed == [doc["_id"]] and result.rewrapped == 6
    with pytest.raises(CryptoError, match="wrapped by 'k1' does not unwrap"):
        store_with(db, f"{K2},{K1}").vault.open(victim, value)
    fresh = store_with(db, K2)
    other, (other_text, other_value) = list(values.items())[1]
    damaged = bytearray(other_value)
    damaged[-3] ^= 0x40
    with pytest.raises(CryptoError, match="tampered"):
        fresh.vault.open(other, bytes(damaged))
    assert fresh.vault.open(other, other_value) == other_text


def test_a_master_key_that_is_not_configured_is_reported_and_named(sealed):
    db, values = sealed
    partial = store_with(db, K2)                                   # k1 removed before the rotation ran
    status = key_status(partial)
    assert status.missing == ["k1"] and status.keys == {"k1": 7}
    result = do_rotate(partial)
    assert result.skipped == {"k1": 7} and result.rewrapped == 0
    conv, (_, value) = next(iter(values.items()))
    with pytest.raises(CryptoError, match="master key 'k1'"):
        partial.vault.open(conv, value)
    with pytest.raises(CryptoError, match="no master key"):
        do_rotate(store_with(db, None))


def test_the_command_prints_the_status_and_the_rotation(sealed):
    db, values = sealed
    out = io.StringIO()
    assert main(["status"], store=store_with(db, K3), out=out) == 1          # k1 is not configured here
    assert json.loads(out.getvalue()) == {"current": "k3", "keys": {"k1": 7}, "missing": ["k1"]}
    out = io.StringIO()
    assert main(["rotate", "--batch", "4"], store=store_with(db, f"{K3},{K1}"), out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["re-wrapped 4 (from k1)", "re-wrapped 7 (from k1)"]
    assert json.loads("\n".join(lines[2:]))["rewrapped"] == 7
    out = io.StringIO()
    assert main(["status"], store=store_with(db, K3), out=out) == 0
    assert json.loads(out.getvalue())["keys"] == {"k3": 7}
    assert opened(store_with(db, K3), values) == {c: t for c, (t, _) in values.items()}
    out = io.StringIO()
    assert main(["rotate"], store=store_with(db, None), out=out) == 2
    assert out.getvalue().startswith("error: no master key")
