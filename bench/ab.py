"""Side by side, before and after: the servers of two git refs, one at a time, A, B, A, B ... for N rounds,
each driven by this checkout's bench/loadgen.py (``throughput``, then ``latency``, with the options
../shared/tools/perf_side_by_side.sh uses), so that only the server differs. Prints a table per round and
the medians, and writes bench/results/ab-<stamp>.json (each loadgen run's JSON and output, and each
server's log, in bench/results/ab-<stamp>/).

    bench/ab.sh before-22 HEAD                 # two refs, 3 rounds of 15 s windows
    bench/ab.sh before-22                      # a ref against the working tree as it is
    bench/ab.sh before-22 HEAD --duration 10 --rounds 1

A ref is checked out with ``git worktree add --detach`` in a temporary folder (removed afterwards); both
run with the same interpreter, by default the main checkout's ``.venv/bin/python``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.load.harness import CpuMeter, SpawnedServer  # noqa: E402
from bench.load.report import (  # noqa: E402
    REPO_ROOT,
    RESULTS_DIR,
    code_version,
    drop,
    machine_info,
    print_table,
    write_json,
)

# What perf_side_by_side.sh gives the project's server: a fixed secret, no flood limit, quiet logs.
SERVER_ENV = {"JWT_SECRET": "x" * 40, "SEND_RATE_LIMIT": "1000000/second", "LOG_LEVEL": "WARNING"}
# The figures compared, from each loadgen result: (label, scenario, path in its "results", higher is better).
FIGURES = (("throughput msg/s", "throughput", ("messages_delivered_per_s",), True),
           ("throughput p99 ms", "throughput", ("latency", "p99_ms"), False),
           ("latency p50 ms", "latency", ("latency", "p50_ms"), False),
           ("latency p99 ms", "latency", ("latency", "p99_ms"), False))


def git(*argv: str, cwd: Path = REPO_ROOT) -> str:
    return subprocess.run(["git", *argv], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def main_python() -> str:
    """The main checkout's interpreter (a worktree shares its git folder, not its .venv)."""
    common = Path(git("rev-parse", "--path-format=absolute", "--git-common-dir"))
    return str(common.parent / ".venv" / "bin" / "python")


@dataclass
class Side:
    label: str        # A or B
    ref: str | None   # None: the working tree as it is
    root: Path
    commit: str

    @classmethod
    def checkout(cls, label: str, ref: str | None, tmp: Path) -> Side:
        if ref is None:
            return cls(label, None, REPO_ROOT, git("rev-parse", "HEAD"))
        root = tmp / label
        git("worktree", "add", "--detach", str(root), ref)
        return cls(label, ref, root, git("rev-parse", "HEAD", cwd=root))

    def name(self) -> str:
        return f"{self.ref} ({self.commit[:9]})" if self.ref else f"working tree ({self.commit[:9]} + changes)"


def run_loadgen(python: str, url: str, scenario: str, args, name: str, out_dir: Path) -> dict:
    """One loadgen run against ``url``: its output and its JSON result, moved into ``out_dir``."""
    argv = [python, str(REPO_ROOT / "bench" / "loadgen.py"), "--url", url, "--scenario", scenario,
            "--duration", str(args.duration), "--name", name]
    if scenario == "latency":
        argv += ["--rate", str(args.rate)]
    with open(out_dir / f"{name}-{scenario}.txt", "wb") as log:
        subprocess.run(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, check=True)
    result = (RESULTS_DIR / f"{name}-{scenario}.json").replace(out_dir / f"{name}-{scenario}.json")
    return {**json.loads(result.read_text()), "file": str(result.relative_to(REPO_ROOT))}


def figures_of(docs: dict[str, dict]) -> dict[str, Any]:
    """The compared figures of one server's runs, and whether every send was delivered exactly once."""
    out: dict[str, Any] = {}
    for label, scenario, path, _ in FIGURES:
        value: Any = docs[scenario]["results"]
        for key in path:
            value = value[key]
        out[label] = value
    verified = [docs[s]["results"]["verify"] for s in ("throughput", "latency")]
    out["lost messages"] = sum(v["lost_messages"] for v in verified)
    out["duplicates"] = sum(v["duplicates"] for v in verified)
    return out


async def wait_healthy(server: SpawnedServer) -> None:
    async with aiohttp.ClientSession() as http:
        await server.start(http)


def measure(side: Side, round_no: int, args, stamp: str, out_dir: Path) -> dict[str, Any]:
    """One round of one side: a fresh server, throughput then latency against it, the server stopped."""
    name = f"ab-{stamp}-{side.label}.r{round_no}"
    # PYTHONPATH too, so that any process the server starts imports this side's code, not an installed copy.
    env = {**SERVER_ENV, "PYTHONPATH": str(side.root)}
    server = SpawnedServer(out_dir / f"{name}.server.log", env, root=side.root, python=args.python)
    print(f"round {round_no}, {side.label} = {side.name()}: server on {server.url}", flush=True)
    try:
        asyncio.run(wait_healthy(server))
        cpu = CpuMeter(server.proc.pid)
        cpu.begin()
        docs = {s: run_loadgen(args.python, server.url, s, args, name, out_dir) for s in ("throughput", "latency")}
        used = cpu.end()
    finally:
        stop = server.stop()
    # Over both loadgen runs, setup and drains included; "others" includes the load generator itself.
    server_cpu = sum(v for k, v in used.items() if k not in ("loadgen", "others"))
    return {"round": round_no, "side": side.label, "stop": stop, "files": [docs[s]["file"] for s in docs],
            **figures_of(docs), "server cpu %": round(server_cpu, 1), "others cpu %": used.get("others"),
            "cpu_percent_of_one_core": used}


def summarise(runs: list[dict], sides: list[Side]) -> tuple[dict, list[tuple[str, str]]]:
    """Per-round rows, each side's medians, and B against A (positive: B better)."""
    shown = (*(f[0] for f in FIGURES), "lost messages", "duplicates", "server cpu %", "others cpu %")
    rows = [(f"round {r['round']} {r['side']}", ", ".join(f"{k} {r[k]}" for k in shown)) for r in runs]
    medians: dict[str, dict[str, float | None]] = {}
    for side in sides:
        mine = [r for r in runs if r["side"] == side.label]
        medians[side.label] = {f[0]: statistics.median(v) if (v := [r[f[0]] for r in mine if r[f[0]] is not None])
                               else None for f in FIGURES}
        rows.append((f"median {side.label} ({side.name()})",
                     ", ".join(f"{k} {v:g}" if v is not None else f"{k} -" for k, v in medians[side.label].items())))
    a, b = medians[sides[0].label], medians[sides[1].label]
    change = {}
    for label, _, _, higher_better in FIGURES:
        lost = drop(a[label], b[label])  # percent B is below A
        change[label] = None if lost is None else (-lost if higher_better else lost)
    rows.append(("B against A, % better (+) or worse (-)",
                 ", ".join(f"{k} {v:+g}" if v is not None else f"{k} -" for k, v in change.items())))
    return {"medians": medians, "b_better_percent": change}, rows


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("ref_a", help="git ref of side A (the before)")
    p.add_argument("ref_b", nargs="?", help="git ref of side B (the after); none: the working tree as it is")
    p.add_argument("--rounds", type=int, default=3, help="A then B, this many times")
    p.add_argument("--duration", type=float, default=15.0, help="each loadgen window, seconds (DUR)")
    p.add_argument("--rate", type=float, default=200.0, help="latency scenario's offered msg/s (RATE)")
    p.add_argument("--python", default=None, help="interpreter of both sides (default: main checkout's .venv)")
    args = p.parse_args(argv)
    args.python = args.python or main_python()
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS_DIR / f"ab-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ab-"))
    sides: list[Side] = []
    try:
        for label, ref in (("A", args.ref_a), ("B", args.ref_b)):
            sides.append(Side.checkout(label, ref, tmp))
        runs = [measure(side, r, args, stamp, out_dir) for r in range(1, args.rounds + 1) for side in sides]
    finally:
        for side in sides:
            if side.ref is not None:
                git("worktree", "remove", "--force", str(side.root))
        tmp.rmdir()
    summary, rows = summarise(runs, sides)
    out = RESULTS_DIR / f"ab-{stamp}.json"
    write_json(out, {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": args.python,
                     "params": {"rounds": args.rounds, "duration": args.duration, "rate": args.rate},
                     "sides": {s.label: {"ref": s.ref, "commit": s.commit, "name": s.name()} for s in sides},
                     "machine": machine_info(), "loadgen": code_version(), "runs": runs, **summary})
    print_table(f"== A = {sides[0].name()}, B = {sides[1].name()}: {args.rounds} round(s) of "
                f"{args.duration:g} s ==  ({out.relative_to(REPO_ROOT)})", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
