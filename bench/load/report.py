"""Reporting shared by every bench script: nearest-rank percentiles, the latency summary, the two-column
table, verdicts and drops, and what a result file records about the machine and the code measured."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (no interpolation: a real sample)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(samples_s: list[float]) -> dict[str, float | int | None]:
    values = sorted(samples_s)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {"samples": len(values), "p50_ms": ms(percentile(values, 50)), "p95_ms": ms(percentile(values, 95)),
            "p99_ms": ms(percentile(values, 99)), "max_ms": ms(values[-1] if values else None),
            "mean_ms": ms(sum(values) / len(values) if values else None)}


def table_text(rows: list[tuple[str, Any]]) -> str:
    """Two columns: each key padded to the longest, two spaces, its value."""
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{key:<{width}}  {value}" for key, value in rows)


def print_table(title: str, rows: list[tuple[str, Any]]) -> None:
    """The table under a title, between two rules."""
    line = "-" * (max(len(k) for k, _ in rows) + 40)
    print(f"\n{title}\n{line}\n{table_text(rows)}\n{line}", flush=True)


def lat_row(lat: dict) -> str:
    return (f"p50 {lat['p50_ms']} / p95 {lat['p95_ms']} / p99 {lat['p99_ms']} / max {lat['max_ms']} ms "
            f"(n={lat['samples']})")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def drop(base: float | None, value: float | None) -> float | None:
    """Percent lost from ``base`` to ``value``."""
    return round(100 * (1 - value / base), 1) if base and value is not None else None


def code_version() -> dict[str, Any]:
    """The commit measured, and whether files outside bench/ differed from it (a shared work tree)."""
    def git(*argv: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(["git", *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        return ""
    dirty = [line for line in git("status", "--porcelain", "--", ".", ":!bench").splitlines() if line]
    return {"commit": git("rev-parse", "HEAD") or None, "modified_outside_bench": dirty}


def machine_info() -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu_model,
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}


def write_json(path: Path, doc: dict, *, ensure_ascii: bool = True) -> None:
    """A result file, its folder made if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=ensure_ascii))
