"""Master key rotation: every data key re-wrapped under the current master key, in batches. Nothing is kept
between runs: what a run re-wrapped is no longer wrapped by the old key, so a run stopped half way is
resumed by running it again, and a run with nothing left to do changes nothing. The values themselves are
never touched (they name their data key, which keeps its id and its bytes), so a rotation costs one KMS or
AES call per conversation, not per message."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from infra.crypto import CryptoError
from infra.storage import Store

BATCH = 200


@dataclass
class KeyStatus:
    """How many data keys each master key id wraps, which of those ids this process cannot use (their
    values do not open here: a partial rotation, or a key removed too early), and the current one."""
    current: str | None
    keys: dict[str, int]
    missing: list[str]

    def public(self) -> dict:
        return {"current": self.current, "keys": self.keys, "missing": self.missing}


@dataclass
class Rotation:
    current: str
    rewrapped: int = 0
    skipped: dict[str, int] = field(default_factory=dict)   # master key id -> keys left (not configured)
    failed: list[str] = field(default_factory=list)          # data key ids that did not unwrap

    def public(self) -> dict:
        return {"current": self.current, "rewrapped": self.rewrapped, "skipped": self.skipped, "failed": self.failed}


def key_status(store: Store) -> KeyStatus:
    master = store.vault.master
    counts = store.keys.count_by_master()
    missing = sorted(m for m in counts if master is None or not master.knows(m))
    return KeyStatus(master.current_id if master else None, counts, missing)


def do_rotate(store: Store, *, batch: int = BATCH, progress: Callable[[str, int], None] | None = None) -> Rotation:
    """Re-wrap, under the current master key, every data key another master key wraps. A key wrapped by a
    master key this process does not have is left as it is and counted (``skipped``); one that does not
    unwrap (tampered) is listed (``failed``); both leave the run going."""
    vault = store.vault
    if vault.master is None:
        raise CryptoError("no master key is configured (ENCRYPTION_MASTER_KEYS or ENCRYPTION_KMS_KEY_ID)")
    result = Rotation(vault.master.current_id)
    for old, count in sorted(store.keys.count_by_master().items()):
        if old == result.current:
            continue
        if not vault.master.knows(old):
            result.skipped[old] = count
            continue
        after = None
        while docs := store.keys.keys_wrapped_by(old, after, batch):
            for doc in docs:
                try:
                    wrapped = vault.rewrap(doc)
                except CryptoError:
                    result.failed.append(doc["_id"])
                    continue
                if wrapped is not None and store.keys.rewrap(doc["_id"], *wrapped, was=old):
                    result.rewrapped += 1
            after = docs[-1]["_id"]
            if progress is not None:
                progress(old, result.rewrapped)
    return result
