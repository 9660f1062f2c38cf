"""Fixtures of the encryption-at-rest tests: a store where every conversation is encrypted, imported by the
test modules that want it (``from tests.sealed import encrypted, store``)."""
from __future__ import annotations

import pytest

from infra.crypto import LocalMasterKeys
from infra.embedded.mongo import embedded_client
from infra.storage import Store


@pytest.fixture
def encrypted() -> bool:
    return True


@pytest.fixture
def store(encrypted) -> Store:
    """Encryption on for every conversation (ENCRYPT_ALL), with a master key of this test's own; a test
    parametrized with ``encrypted=False`` gets the default instead (no master key: encryption off)."""
    master = LocalMasterKeys(LocalMasterKeys.generate("test-1")) if encrypted else None
    s = Store(embedded_client()["test"], master, encrypt_all=encrypted)
    s.ensure_indexes()
    return s
