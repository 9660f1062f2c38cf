"""Encryption at rest's cost (docs/security.md; target: throughput with encryption on within 10 % of off).

Two servers of this checkout side by side, one at a time, off on, on off, off on ... for N rounds: a fresh
``python -m app`` (embedded store, its own redis-server and moto) without encryption, and one with
``ENCRYPT_ALL=1`` and a master key in ``ENCRYPTION_MASTER_KEYS``, each driven by bench/loadgen.py
(``throughput``, and ``latency`` unless ``--no-latency``) exactly as bench/ab.py drives two refs. Then a
micro figure in this process: microseconds per seal, open and blind words of a typical chat message.
Prints a table per round and the medians; writes bench/results/encryption-<stamp>.json (each loadgen run's
JSON and output and each server's log in bench/results/encryption-<stamp>/).

    .venv/bin/python bench/encryption.py                          # 3 rounds of 15 s windows
    .venv/bin/python bench/encryption.py --rounds 1 --duration 10 --no-latency
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ab import FIGURES, SERVER_ENV, figures_of, main_python, run_loadgen, wait_healthy  # noqa: E402
from bench.load.harness import CpuMeter, SpawnedServer  # noqa: E402
from bench.load.report import REPO_ROOT, RESULTS_DIR, code_version, drop, machine_info, print_table, write_json  # noqa: E402
from infra.crypto import LocalMasterKeys, Vault  # noqa: E402
from infra.embedded.mongo import embedded_client  # noqa: E402
from infra.storage.keys import KeysRepo  # noqa: E402

SIDES = {"off": {}, "on": {"ENCRYPT_ALL": "1", "ENCRYPTION_MASTER_KEYS": LocalMasterKeys.generate("bench")}}
# A typical chat line (the load generator's are of this size), and its search words with their stems.
MESSAGE = "we deployed the fix to staging, can you check the checkout page before the release tonight?"
WORDS = ["we", "deployed", "the", "fix", "to", "staging", "can", "you", "check", "checkout", "page", "before",
         "release", "tonight", ":en:deploi", ":en:fix", ":en:stage", ":en:check", ":en:checkout", ":en:page",
         ":en:releas", ":en:tonight"]


class _Args:
    def __init__(self, duration: float, rate: float) -> None:
        self.duration, self.rate = duration, rate


def measure(side: str, round_no: int, args, stamp: str, out_dir: Path) -> dict[str, Any]:
    """One round of one side: a fresh server, the loadgen runs against it, the server stopped."""
    name = f"encryption-{stamp}-{side}.r{round_no}"
    server = SpawnedServer(out_dir / f"{name}.server.log", {**SERVER_ENV, **SIDES[side]}, python=args.python)
    print(f"round {round_no}, encryption {side}: server on {server.url}", flush=True)
    try:
        asyncio.run(wait_healthy(server))
        cpu = CpuMeter(server.proc.pid)
        cpu.begin()
        docs = {s: run_loadgen(args.python, server.url, s, _Args(args.duration, args.rate), name, out_dir)
                for s in args.scenarios}
        used = cpu.end()
    finally:
        stop = server.stop()
    server_cpu = sum(v for k, v in used.items() if k not in ("loadgen", "others"))
    if "latency" not in docs:   # (figures_of reads both scenarios)
        docs["latency"] = {"results": {"latency": {"p50_ms": None, "p99_ms": None},
                                       "verify": {"lost_messages": 0, "duplicates": 0}}}
    return {"round": round_no, "side": side, "stop": stop, **figures_of(docs), "server cpu %": round(server_cpu, 1),
            "others cpu %": used.get("others"), "cpu_percent_of_one_core": used}


def micro(repeat: int = 20_000) -> dict[str, float]:
    """Microseconds per seal, open and blind words of MESSAGE with a warm key cache (the server's case)."""
    vault = Vault(KeysRepo(embedded_client()["bench"]), LocalMasterKeys(LocalMasterKeys.generate()), lambda c: True)
    conv = "6" * 24
    sealed = vault.seal(conv, MESSAGE)
    out = {}
    fresh = iter([[f"{w}{i}" for w in WORDS] for i in range(repeat)])   # words never blinded before
    for label, call in (("seal", lambda: vault.seal(conv, MESSAGE)), ("open", lambda: vault.open(conv, sealed)),
                        (f"blind {len(WORDS)} words", lambda: vault.blind_words(conv, next(fresh))),
                        # (what the store path pays for words it has seen in the conversation before)
                        (f"blind {len(WORDS)} words remembered", lambda: vault.blind_words(conv, WORDS))):
        start = time.perf_counter()
        for _ in range(repeat):
            call()
        out[f"{label} µs"] = round((time.perf_counter() - start) / repeat * 1e6, 2)
    return out


def summarise(runs: list[dict]) -> tuple[dict, list[tuple[str, str]]]:
    shown = (*(f[0] for f in FIGURES), "lost messages", "duplicates", "server cpu %", "others cpu %")
    rows = [(f"round {r['round']} {r['side']}", ", ".join(f"{k} {r[k]}" for k in shown)) for r in runs]
    medians = {side: {f[0]: statistics.median(v) if (v := [r[f[0]] for r in runs if r["side"] == side
                                                          and r[f[0]] is not None]) else None for f in FIGURES}
               for side in SIDES}
    for side, figures in medians.items():
        rows.append((f"median encryption {side}", ", ".join(f"{k} {v:g}" if v is not None else f"{k} -"
                                                             for k, v in figures.items())))
    off, on = medians["off"]["throughput msg/s"], medians["on"]["throughput msg/s"]
    ratio = round(on / off, 3) if off and on else None
    cost = drop(off, on)
    rows.append(("throughput on / off", f"{ratio} (target: 0.9 or more)" if ratio else "-"))
    return {"medians": medians, "throughput_ratio": ratio, "throughput_lost_percent": cost}, rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="rounds of both sides, the order alternating (off on, on off, ...)")
    p.add_argument("--duration", type=float, default=15.0, help="each loadgen window, seconds")
    p.add_argument("--rate", type=float, default=200.0, help="latency scenario's offered msg/s")
    p.add_argument("--no-latency", action="store_true", help="the throughput scenario only")
    p.add_argument("--python", default=None, help="the servers' interpreter (default: main checkout's .venv)")
    args = p.parse_args(argv)
    return argparse.Namespace(**{**vars(args), "python": args.python or main_python(),
                                 "scenarios": ("throughput",) if args.no_latency else ("throughput", "latency")})


def main(argv=None) -> int:
    args, stamp = parse_args(argv), time.strftime("%Y%m%d-%H%M%S")
    (out_dir := RESULTS_DIR / f"encryption-{stamp}").mkdir(parents=True, exist_ok=True)
    # The order alternates (off on, on off, ...) so that whatever favours the first or the second server of a
    # round (a warmer machine, the other's leftovers) falls on each side alike.
    runs = [measure(side, r, args, stamp, out_dir) for r in range(1, args.rounds + 1)
            for side in (list(SIDES) if r % 2 else list(SIDES)[::-1])]
    summary, rows = summarise(runs)
    costs = micro()
    rows.append(("per message, in process", ", ".join(f"{k} {v:g}" for k, v in costs.items())))
    out = RESULTS_DIR / f"encryption-{stamp}.json"
    write_json(out, {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": args.python,
                     "params": {"rounds": args.rounds, "duration": args.duration, "rate": args.rate,
                                "scenarios": list(args.scenarios)},
                     "machine": machine_info(), "code": code_version(), "runs": runs, "micro": costs, **summary},
               ensure_ascii=False)
    print_table(f"== encryption at rest off against on: {args.rounds} round(s) of {args.duration:g} s ==  "
                f"({out.relative_to(REPO_ROOT)})", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
