"""``python -m app`` on a store that already holds a realistic history: the embedded default's server for
benchmarks whose background work must have real work to do (bench/rollups.py).

The embedded store lives in the web process, so the history cannot be written from outside; this entry
point starts the server exactly as ``python -m app`` does and, once the store and the bucket are ready
(before the workers, beat and the start-up ``gc.freeze()``), writes ``bench/history.py``'s history into it.
Options:

- ``--messages N --days D --users U --conversations C``: the history (none when N is 0);
- ``--prime module:function``: call ``function(store, now)`` once after seeding (the roll-up up to now, so
  that the measured windows see the beat's increments and not the first roll-up of the whole year);
- ``--grown``: leave the history in the collector's generations as a store that grew while serving would
  be (start-up objects are still frozen; the history is not), instead of frozen with start-up;
- ``--trace module:function`` (repeatable): each call of that function (looked up through its module at
  call time) prints ``bench-trace <name> <wall start> <seconds>`` to the server's output, so the bench can
  tell how many ran in a window and how long each held the process.

Usage: python -m bench.seeded_app --messages 100000 --days 365 [--prime m:f] [--trace m:f ...]
(the environment as for ``python -m app``: PORT, ANALYTICS_ROLLUP_EVERY_SECONDS, ...).
"""
import app.__main__ as entry  # first: it patches the process for eventlet, as `python -m app` does

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--conversations", type=int, default=20)
    p.add_argument("--seed", type=int, default=24)
    p.add_argument("--prime", default="", help="module:function called as function(store, now) after seeding")
    p.add_argument("--grown", action="store_true", help="the history is not frozen out of garbage collection")
    p.add_argument("--trace", action="append", default=[], help="module:function whose calls are timed")
    return p.parse_args(argv)


def resolve(spec: str):
    module, _, name = spec.partition(":")
    return importlib.import_module(module), name


def trace(spec: str) -> None:
    module, name = resolve(spec)
    inner = getattr(module, name)

    @functools.wraps(inner)
    def timed(*args, **kwargs):
        wall, t = time.time(), time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            print(f"bench-trace {spec} {wall:.3f} {time.perf_counter() - t:.4f}", flush=True)
    setattr(module, name, timed)


def seed_then(ensure_bucket, opts: argparse.Namespace):
    """``_ensure_bucket`` followed by the history (and the priming call): the last step of start-up before
    the workers start and the start-up objects are frozen out of garbage collection."""
    def run(settings) -> None:
        ensure_bucket(settings)
        from bench.history import seed_history
        from infra.runtime import get_runtime

        store = get_runtime().store
        if opts.grown:
            gc.collect()
            gc.freeze()  # start-up so far; app.__main__'s own collect-and-freeze, after seeding, is skipped
            entry.gc = _StartupFreezeSkipped()
        t = time.perf_counter()
        made = seed_history(store, messages=opts.messages, days=opts.days, users=opts.users,
                            conversations=opts.conversations, seed=opts.seed) if opts.messages else {}
        made["seed_seconds"] = round(time.perf_counter() - t, 2)
        if opts.prime:
            module, name = resolve(opts.prime)
            t = time.perf_counter()
            getattr(module, name)(store, datetime.now(timezone.utc))
            made["prime_seconds"] = round(time.perf_counter() - t, 2)
        print("bench-seeded " + json.dumps(made), flush=True)
    return run


class _StartupFreezeSkipped:
    """``app.__main__``'s view of ``gc`` under ``--grown``: its start-up collection and freeze do nothing."""

    def __getattr__(self, name):
        return getattr(gc, name)

    def collect(self, *args) -> int:
        return 0

    def freeze(self) -> None:
        pass


def main(argv: list[str]) -> int:
    opts = parse(argv)
    for spec in opts.trace:
        trace(spec)
    entry._ensure_bucket = seed_then(entry._ensure_bucket, opts)
    return entry.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
