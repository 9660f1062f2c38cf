"""How much the content filter adds to a message: ``RuleSet.scan`` with a realistic group's rules vs none.

The issue's case: 500-character French messages, a group with 200 word rules (literal words, wildcards,
phrases) and 20 regexes, plus a few link rules. Target: the median scan costs at most 100 µs more than
a scan with an empty rule set. Mostly clean messages (the common case: fold once, three C-level lookups,
no position map) and a few with hits (the slow path that maps positions back to the original text).

Usage: .venv/bin/python bench/filters.py [--rounds 2000]
Prints a table; writes bench/results/filters.json (git-ignored).
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.corpus import LINKS, MESSAGES, regex_patterns, word_patterns  # noqa: E402
from bench.load.report import code_version, machine_info, percentile  # noqa: E402
from pipelines.moderation.filters import Rule, compile_rules  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "filters.json"
TARGET_ADDED_US = 100


def word_rules() -> list[Rule]:
    return [Rule(f"w{i}", "word", p, a) for i, (p, a) in enumerate(word_patterns())]


def regex_rules() -> list[Rule]:
    return [Rule(f"r{i}", "regex", p, a) for i, (p, a) in enumerate(regex_patterns())]


def all_rules() -> list[Rule]:
    return word_rules() + regex_rules() + [Rule(i, "link", p, a) for i, p, a in LINKS]


def _measure(rule_set, text: str, rounds: int) -> list[float]:
    scan = rule_set.scan
    for _ in range(50):
        scan(text)
    times = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        t0 = clock()
        scan(text)
        times.append((clock() - t0) / 1000)
    return times


def _p99(values: list[float]) -> float:
    return percentile(sorted(values), 99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="scans per message and rule set")
    args = parser.parse_args()

    rules = all_rules()
    t0 = time.perf_counter()
    compile_rules(rules)    # the first compile of a process also loads the Public Suffix List snapshot
    first_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    full = compile_rules(rules, allowlist=["contact", "second", "concours"])
    compile_ms = (time.perf_counter() - t0) * 1000
    empty = compile_rules([])

    gc.disable()    # a collection inside one timed scan is the collector's cost, not the filter's
    rows = []
    try:
        for label, text in MESSAGES:
            with_rules = _measure(full, text, args.rounds)
            without = _measure(empty, text, args.rounds)
            verdict = full.scan(text)
            rows.append({
                "message": label, "chars": len(text), "hits": len(verdict.hits), "action": verdict.action,
                "median_us": round(statistics.median(with_rules), 1), "p99_us": round(_p99(with_rules), 1),
                "empty_median_us": round(statistics.median(without), 2),
                "empty_p99_us": round(_p99(without), 2),
                "added_median_us": round(statistics.median(with_rules) - statistics.median(without), 1),
            })
    finally:
        gc.enable()

    clean = [r["added_median_us"] for r in rows if r["message"] == "clean"]
    everything = [r["added_median_us"] for r in rows]
    summary = {
        "rules": {"word": 200, "regex": 20, "link": len(LINKS)}, "compile_ms": round(compile_ms, 1),
        "first_compile_ms": round(first_ms, 1),
        "added_median_us_clean": max(clean), "added_median_us_worst": max(everything),
        "target_added_us": TARGET_ADDED_US, "pass": max(clean) <= TARGET_ADDED_US,
    }
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), python {m['python']}")
    print(f"rules: 200 word, 20 regex, {len(LINKS)} link; compiled in {compile_ms:.1f} ms "
          f"({first_ms:.1f} ms the first time in a process); {args.rounds} scans each")
    print(f"{'message':8} {'chars':>5} {'hits':>4} {'action':>6} {'median µs':>10} {'p99 µs':>8} "
          f"{'empty med':>9} {'added med':>9}")
    for r in rows:
        print(f"{r['message']:8} {r['chars']:5} {r['hits']:4} {str(r['action']):>6} {r['median_us']:10.1f} "
              f"{r['p99_us']:8.1f} {r['empty_median_us']:9.2f} {r['added_median_us']:9.1f}")
    verdict = "PASS" if summary["pass"] else "FAIL"
    print(f"added median on clean messages: {max(clean):.1f} µs (target ≤ {TARGET_ADDED_US} µs) {verdict}; "
          f"worst message (with hits): {max(everything):.1f} µs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": m, "code": code_version(), "rounds": args.rounds,
                                   "summary": summary, "messages": rows}, indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
