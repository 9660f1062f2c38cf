"""Flower's configuration (`celery -A workers flower --conf=ops/flower/flowerconfig.py`, the `flower` role):
its address, port and basic auth from infra/config.py, and a refusal to listen beyond loopback without auth.

Flower executes this file and keeps the module-level names that are its options (address, port,
basic_auth); everything else here is ignored by it.
"""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

# Flower executes this file outside any package: make the repository's modules importable.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from infra.config import Settings, get_settings  # noqa: E402


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # "" (every interface) or a host name: not provably loopback
        return False


def flower_options(s: Settings) -> dict:
    """Flower's options from the settings; SystemExit with the reason when they would leave it open."""
    if not s.redis_url:
        raise SystemExit("flower: REDIS_URL is not set: Flower watches the broker, so point it at the Redis "
                         "the workers use (the embedded default prints its URL at start-up)")
    users = [u.strip() for u in s.flower_basic_auth.split(",") if u.strip()]
    for user in users:
        name, _, password = user.partition(":")
        if not name or not password:
            raise SystemExit("flower: FLOWER_BASIC_AUTH must be user:password (comma-separated for several)")
    if not users and not _is_loopback(s.flower_address):
        raise SystemExit(f"flower: refusing to listen on {s.flower_address or 'every interface'} without "
                         "FLOWER_BASIC_AUTH (it shows task arguments and can revoke tasks)")
    options = {"address": s.flower_address, "port": s.flower_port}
    if users:
        options["basic_auth"] = users
    return options


globals().update(flower_options(get_settings()))
