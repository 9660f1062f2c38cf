"""The comparisons between runs: mixed against the throughput run before it, and the moderation
scenario's rounds with rules against without."""
from __future__ import annotations

import statistics
from typing import Any

from bench.load.checks import exactly_once, masking_ok
from bench.load.report import drop, verdict
from bench.load.targets import QUIET_OTHERS_PERCENT, TARGETS


def per_server_cpu_second(r: dict) -> float | None:
    """Messages per CPU-second of the server's processes: less sensitive to other processes taking
    CPU from a CPU-bound server (a shared machine) than messages per second."""
    cpu = sum(v for k, v in r["cpu_percent_of_one_core"].items() if k not in ("loadgen", "others")) / 100
    return round(r["messages_delivered_per_s"] / cpu, 1) if cpu > 0 else None


def server_cpu_us_per_message(r: dict) -> float | None:
    """Microseconds of the server's processes' CPU (web, workers, redis-server) per message delivered."""
    per_s = per_server_cpu_second(r)
    return round(1e6 / per_s, 1) if per_s else None


def compare_with_baseline(baseline: dict | None, res: dict) -> dict | None:
    """The issue's comparison: messages stored and delivered per second when 30 % of the events are
    reactions and reads, against the throughput run just before (same parameters, its own fresh server
    with --spawn). Both are closed loops of the same windows, so each run takes what the server gives."""
    if baseline is None:
        return None
    base = baseline["results"]
    b_cpu, m_cpu = per_server_cpu_second(base), per_server_cpu_second(res)
    return {"baseline_file": baseline["file"],
            "baseline_messages_delivered_per_s": base["messages_delivered_per_s"],
            "messages_delivered_per_s": res["messages_delivered_per_s"],
            "message_drop_percent": drop(base["messages_delivered_per_s"], res["messages_delivered_per_s"]),
            "baseline_events_acked_per_s": base["acks_per_s"],
            "events_acked_per_s": res["mixed"]["events_acked_per_s"],
            "event_drop_percent": drop(base["acks_per_s"], res["mixed"]["events_acked_per_s"]),
            "baseline_messages_per_server_cpu_second": b_cpu, "messages_per_server_cpu_second": m_cpu,
            "per_server_cpu_second_drop_percent": drop(b_cpu, m_cpu) if b_cpu and m_cpu else None,
            "baseline_cpu_percent_of_one_core": base["cpu_percent_of_one_core"]}


def moderation_summary(pairs: list[dict[str, dict]]) -> tuple[dict, list[tuple[str, Any]]]:
    """The issue's comparison: messages delivered/s of the throughput loop with the 220 rules on the group
    against without, each run on its own fresh server, per round (the order alternates), and the median."""
    target = TARGETS["moderation_message_drop_percent_max"]
    rounds, rows = [], []
    for k, pair in enumerate(pairs, 1):
        runs = {}
        for variant, doc in pair.items():
            r = doc["results"]
            runs[variant] = {"file": doc["file"], "messages_delivered_per_s": r["messages_delivered_per_s"],
                             "messages_per_server_cpu_second": per_server_cpu_second(r),
                             "server_cpu_us_per_message": server_cpu_us_per_message(r),
                             "cpu_percent_of_one_core": r["cpu_percent_of_one_core"],
                             "latency_p99_ms": r["latency"]["p99_ms"],
                             "checks_ok": exactly_once(r["verify"]) and r["verify"]["storage"]["acked_not_stored"] == 0
                             and masking_ok(r["verify"]),
                             "masked_deliveries": r["verify"]["masked_deliveries"]}
        none, ruled = runs["none"], runs["rules"]
        cpu_none, cpu_rules = none["server_cpu_us_per_message"], ruled["server_cpu_us_per_message"]
        entry = {"round": k, "order": list(pair), "none": none, "rules": ruled,
                 "message_drop_percent": drop(none["messages_delivered_per_s"], ruled["messages_delivered_per_s"]),
                 "per_server_cpu_second_drop_percent": drop(none["messages_per_server_cpu_second"],
                                                            ruled["messages_per_server_cpu_second"]),
                 "server_cpu_us_added_per_message": round(cpu_rules - cpu_none, 1) if cpu_none and cpu_rules else None}
        rounds.append(entry)
        rows.append((f"round {k} ({' then '.join(pair)})",
                     f"none {none['messages_delivered_per_s']} msg/s, rules {ruled['messages_delivered_per_s']} msg/s: "
                     f"drop {entry['message_drop_percent']} %; server CPU/msg {cpu_none} -> {cpu_rules} µs "
                     f"(drop per CPU-second {entry['per_server_cpu_second_drop_percent']} %); others' CPU "
                     f"{none['cpu_percent_of_one_core'].get('others')} / {ruled['cpu_percent_of_one_core'].get('others')} %"))
    def med(key: str, of: list[dict] = rounds) -> float | None:
        vals = [e[key] for e in of if e[key] is not None]
        return round(statistics.median(vals), 1) if vals else None

    # On a shared machine: the rounds where other processes left the server alone in both runs.
    quiet = [e for e in rounds if all((e[v]["cpu_percent_of_one_core"].get("others") or 0) < QUIET_OTHERS_PERCENT
                                      for v in ("none", "rules"))]
    checks = all(e[v]["checks_ok"] for e in rounds for v in ("none", "rules"))
    summary = {"rounds": rounds, "median_message_drop_percent": med("message_drop_percent"),
               "quiet_rounds": [e["round"] for e in quiet],
               "quiet_median_message_drop_percent": med("message_drop_percent", quiet),
               "median_per_server_cpu_second_drop_percent": med("per_server_cpu_second_drop_percent"),
               "median_server_cpu_us_added_per_message": med("server_cpu_us_added_per_message"),
               "median_messages_delivered_per_s": {v: statistics.median(e[v]["messages_delivered_per_s"] for e in rounds)
                                                   for v in ("none", "rules")},
               "target_drop_percent_max": target, "checks_ok_all_runs": checks}
    summary["target_met"] = summary["median_message_drop_percent"] is not None \
        and summary["median_message_drop_percent"] <= target and checks
    rows += [
        ("median messages delivered/s, none / rules", " / ".join(
            f"{v:g}" for v in summary["median_messages_delivered_per_s"].values())),
        ("median drop in messages delivered/s (the target)", f"{summary['median_message_drop_percent']} %"),
        (f"the same over the quiet rounds (others < {QUIET_OTHERS_PERCENT} % of a core in both runs)",
         f"{summary['quiet_median_message_drop_percent']} % (rounds {summary['quiet_rounds'] or 'none'})"),
        ("median drop in messages per server CPU-second", f"{summary['median_per_server_cpu_second_drop_percent']} %"),
        ("median server CPU added per message by the rules", f"{summary['median_server_cpu_us_added_per_message']} µs"),
        (f"target drop <= {target:.0f} %, every run exactly once, stored, masks where expected",
         verdict(summary["target_met"])),
    ]
    return summary, rows
