"""Master key management of encryption at rest (docs/security.md), an operator's command:

    python -m app.keys status     how many data keys each master key id wraps, and which ids are not configured
    python -m app.keys rotate     re-wrap every data key under the current master key (resumable, idempotent)

It works on the MongoDB at MONGO_URL with the master keys of the settings (ENCRYPTION_MASTER_KEYS, the
current key first, the retired ones after it; or ENCRYPTION_KMS_KEY_ID). The embedded store lives in the
web process's memory and dies with it: there is nothing for this command to reach there.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from infra.config import get_settings
from infra.crypto import CryptoError
from infra.kms import KeyServiceUnavailable
from infra.mongo import server_database
from infra.runtime import master_keys
from infra.storage import Store
from pipelines.security.keys import BATCH, do_rotate, key_status


def _store() -> Store:
    settings = get_settings()
    if not settings.mongo_url:
        raise SystemExit("MONGO_URL is not set: the embedded store lives in the web process and has no keys to manage")
    store = Store(server_database(settings), master_keys(settings), settings.encrypt_all)
    store.keys.ensure_indexes()
    return store


def main(argv: list[str] | None = None, store: Store | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.keys", description="encryption at rest: master keys")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="data keys per master key id")
    rotate = commands.add_parser("rotate", help="re-wrap every data key under the current master key")
    rotate.add_argument("--batch", type=int, default=BATCH, help=f"data keys per read (default {BATCH})")
    args = parser.parse_args(argv)
    store = store or _store()
    try:
        if args.command == "status":
            status = key_status(store)
            print(json.dumps(status.public(), indent=2), file=out)
            return 1 if status.missing else 0
        result = do_rotate(store, batch=max(1, args.batch),
                           progress=lambda old, done: print(f"re-wrapped {done} (from {old})", file=out, flush=True))
    except (CryptoError, KeyServiceUnavailable) as exc:
        print(f"error: {exc}", file=out)
        return 2
    print(json.dumps(result.public(), indent=2), file=out)
    return 1 if result.skipped or result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
