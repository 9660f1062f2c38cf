"""Master keys in KMS (infra.kms), against a real moto server over HTTP (the session's S3 server answers
KMS on the same port): data keys wrapped and unwrapped under an encryption context naming the conversation,
the KMS key's ARN recorded, a rotation from one KMS key to another and from local keys to KMS, and the
errors: a wrong context or key refused (CryptoError), an unreachable service transient."""
from __future__ import annotations

import boto3
import pytest

from infra.config import Settings
from infra.crypto import CryptoError, LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.embedded.redis_server import free_port
from infra.kms import KeyServiceUnavailable, KmsMasterKeys, MasterKeyRing
from infra.runtime import master_keys
from infra.storage import Store
from pipelines.security.keys import do_rotate, key_status
from schemas.common import new_id
from tests.conftest import make_conversation, make_user

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def kms(s3_server):
    client = boto3.client("kms", endpoint_url=s3_server.url, region_name="us-east-1", **CREDENTIALS)

    def make_key() -> tuple[str, str]:
        meta = client.create_key(Description="chat master key")["KeyMetadata"]
        return meta["KeyId"], meta["Arn"]
    return s3_server.url, make_key


def kms_keys(url: str, key_id: str) -> KmsMasterKeys:
    return KmsMasterKeys(key_id, url, "us-east-1", CREDENTIALS)


def test_a_data_key_is_wrapped_by_the_kms_key_and_bound_to_its_scope(kms):
    url, make_key = kms
    key_id, arn = make_key()
    master = kms_keys(url, key_id)
    assert master.current_id == arn                       # a bare id is resolved to the ARN it records
    used, wrapped = master.wrap(b"k" * 32, "conv-1")
    assert used == arn and b"k" * 32 not in wrapped
    assert master.unwrap(arn, wrapped, "conv-1") == b"k" * 32
    with pytest.raises(CryptoError, match="InvalidCiphertext"):
        master.unwrap(arn, wrapped, "conv-2")             # the encryption context names the conversation
    other_id, other_arn = make_key()
    with pytest.raises(CryptoError, match="refused"):
        master.unwrap(other_arn, wrapped, "conv-1")       # the recorded key must be the one that wrapped it


def test_an_alias_names_the_key(kms):
    url, make_key = kms
    key_id, arn = make_key()
    alias = f"alias/chat-{new_id()}"
    boto3.client("kms", endpoint_url=url, region_name="us-east-1", **CREDENTIALS).create_alias(
        AliasName=alias, TargetKeyId=key_id)
    assert kms_keys(url, alias).current_id == arn


def test_an_unreachable_key_service_is_transient_not_a_crypto_error():
    master = KmsMasterKeys("some-key", f"http://127.0.0.1:{free_port()}", "us-east-1", CREDENTIALS, timeout=0.5)
    with pytest.raises(KeyServiceUnavailable):
        master.wrap(b"k" * 32, "conv-1")


def _sealed_world(store: Store, count: int) -> dict[str, tuple[str, object]]:
    ada = make_user(store, f"ada-{new_id()[-5:]}")
    convs = [make_conversation(store, [ada], f"c{i}") for i in range(count)]
    return {c.id: (f"secret {i}", store.vault.seal(c.id, f"secret {i}")) for i, c in enumerate(convs)}


def _store(db, master) -> Store:
    store = Store(db, master, True)
    store.ensure_indexes()
    return store


def test_rotation_from_one_kms_key_to_another(kms):
    url, make_key = kms
    (a_id, a_arn), (b_id, b_arn) = make_key(), make_key()
    db = embedded_client()[f"kms-{new_id()}"]
    values = _sealed_world(_store(db, kms_keys(url, a_id)), 5)
    rotating = _store(db, kms_keys(url, b_id))            # the setting now names B; A's keys unwrap through KMS
    assert key_status(rotating).keys == {a_arn: 5}
    assert do_rotate(rotating, batch=2).rewrapped == 5
    assert key_status(rotating).keys == {b_arn: 5}
    assert do_rotate(rotating).rewrapped == 0
    fresh = _store(db, kms_keys(url, b_id))
    assert {c: fresh.vault.open(c, v) for c, (_, v) in values.items()} == {c: t for c, (t, _) in values.items()}


def test_from_local_master_keys_to_kms_through_a_key_ring(kms):
    url, make_key = kms
    key_id, arn = make_key()
    local = LocalMasterKeys.generate("local-1")
    db = embedded_client()[f"kms-{new_id()}"]
    values = _sealed_world(_store(db, LocalMasterKeys(local)), 3)
    ring = _store(db, MasterKeyRing(kms_keys(url, key_id), LocalMasterKeys(local)))
    assert ring.vault.open(*next((c, v) for c, (_, v) in values.items())) == "secret 0"
    assert do_rotate(ring).rewrapped == 3
    alone = _store(db, kms_keys(url, key_id))
    assert key_status(alone).keys == {arn: 3} and key_status(alone).missing == []
    assert sorted(alone.vault.open(c, v) for c, (_, v) in values.items()) == ["secret 0", "secret 1", "secret 2"]


def test_the_settings_choose_kms_and_keep_local_keys_to_unwrap(kms):
    url, make_key = kms
    key_id, arn = make_key()
    local = LocalMasterKeys.generate("old")
    only_kms = master_keys(Settings(encryption_kms_key_id=key_id, kms_endpoint_url=url, **CREDENTIALS))
    assert isinstance(only_kms, KmsMasterKeys) and only_kms.current_id == arn
    both = master_keys(Settings(encryption_kms_key_id=key_id, kms_endpoint_url=url, encryption_master_keys=local,
                                **CREDENTIALS))
    assert isinstance(both, MasterKeyRing) and both.current_id == arn and both.knows("old")
    assert master_keys(Settings()) is None
