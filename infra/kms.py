"""Master keys in a key management service (AWS KMS, or anything that speaks its API: moto's server in the
tests): the data keys of encryption at rest (infra.crypto) are wrapped by KMS's Encrypt and unwrapped by its
Decrypt, so the master key never leaves the service and every unwrap is authorized and logged there.

Each call carries an encryption context naming the scope (the conversation), the KMS counterpart of the
AEAD's associated data: a wrapped data key copied onto another conversation's record does not unwrap. The
master key id recorded with each data key is the KMS key's ARN, as Encrypt answers it, so a rotation to
another KMS key (ENCRYPTION_KMS_KEY_ID changed, then ``python -m app.keys rotate``) can tell what is left.
"""
from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.crypto import CryptoError, MasterKeys

# What KMS answers when the request itself is wrong for this key (its answer will not change on a retry).
_REFUSALS = {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException", "DisabledException",
             "AccessDeniedException", "KMSInvalidStateException", "InvalidKeyUsageException"}


class KeyServiceUnavailable(Exception):
    """The key service did not answer (network, throttling, 5xx): worth a retry, unlike CryptoError."""


class KmsMasterKeys:
    """``MasterKeys`` backed by one KMS key (``key_id``: its id, ARN or alias): it wraps every new data key
    and re-wraps in rotations; any KMS key that wrapped an older data key unwraps it, provided this
    process's credentials may use it (KMS finds the key from the ciphertext; its ARN is checked)."""

    def __init__(self, key_id: str, endpoint_url: str | None = None, region: str = "us-east-1",
                 credentials: dict[str, str | None] | None = None, timeout: float = 5.0) -> None:
        self.key_id = key_id
        creds = {k: v for k, v in (credentials or {}).items() if v}
        self.client = boto3.client("kms", endpoint_url=endpoint_url, region_name=region,
                                   config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                 retries={"max_attempts": 3, "mode": "standard"}), **creds)
        self._arn: str | None = None
        self._lock = threading.Lock()

    @property
    def current_id(self) -> str:
        """The configured key's ARN (DescribeKey once: an alias or a bare id is resolved to it)."""
        with self._lock:
            if self._arn is None:
                self._arn = self._call("DescribeKey", self.client.describe_key, KeyId=self.key_id)["KeyMetadata"]["Arn"]
            return self._arn

    def knows(self, master_id: str) -> bool:
        return master_id.startswith("arn:") and ":kms:" in master_id

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        answer = self._call("Encrypt", self.client.encrypt, KeyId=self.current_id, Plaintext=data_key,
                            EncryptionContext={"scope": context})
        return answer["KeyId"], answer["CiphertextBlob"]

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes:
        answer = self._call("Decrypt", self.client.decrypt, KeyId=master_id, CiphertextBlob=wrapped,
                            EncryptionContext={"scope": context})
        return answer["Plaintext"]

    def _call(self, name: str, method, **kwargs: Any) -> dict[str, Any]:
        try:
            return method(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REFUSALS:
                raise CryptoError(f"KMS refused {name} with key {kwargs.get('KeyId')!r}: {code}") from None
            raise KeyServiceUnavailable(f"KMS {name} failed: {code or exc}") from exc
        except BotoCoreError as exc:
            raise KeyServiceUnavailable(f"KMS {name} failed: {exc}") from exc


class MasterKeyRing:
    """The current master keys (they wrap) and older ones kept to unwrap what they wrapped until a
    rotation has re-wrapped it: how a deployment moves from local keys to KMS, or between key services."""

    def __init__(self, current: MasterKeys, *older: Any) -> None:
        self.current, self.older = current, older

    @property
    def current_id(self) -> str:
        return self.current.current_id

    def knows(self, master_id: str) -> bool:
        return any(k.knows(master_id) for k in (self.current, *self.older))

    def wrap(self, data_key: bytes, context: str) -> tuple[str, bytes]:
        return self.current.wrap(data_key, context)

    def unwrap(self, master_id: str, wrapped: bytes, context: str) -> bytes:
        for keys in (self.current, *self.older):
            if keys.knows(master_id):
                return keys.unwrap(master_id, wrapped, context)
        raise CryptoError(f"it is wrapped by master key {master_id!r}, which is not configured")
