"""The load generator's tables: the rows printed for each scenario's result, and the medians over rounds."""
from __future__ import annotations

import statistics
from typing import Any

from bench.load.checks import changes_announced, exactly_once, masking_ok
from bench.load.compare import server_cpu_us_per_message
from bench.load.report import lat_row, verdict
from bench.load.targets import TARGETS


def storm_row(st: dict) -> str:
    if "sent" not in st:
        return "off"
    return (f"{st['rate']} msg/s: sent {st['sent']}, acked {st['acked_ok']}, delivered {st['delivered']}, "
            f"missing {st['missing']} (of which stored {st['missing_but_stored']}), dup {st['duplicates']}, "
            f"p99 {st['latency']['p99_ms']} ms")


def connection_rows(res: dict) -> list[tuple[str, Any]]:
    rt = res["round_trip"]
    return [
        ("requested sockets", res["requested"]),
        ("set-up / settled after", f"{res['setup_seconds']} s / {res['settle_seconds']} s"),
        ("connected / session:ready", f"{res['connected']} / {res['session_ready']}"),
        (f"still connected after {res['hold_seconds']}s idle", res["still_connected_after_hold"]),
        ("failed", f"{res['failed']} {res['errors'] or ''}".strip()),
        ("open time / rate", f"{res['open_seconds']} s / {res['connects_per_s']} connects/s"),
        ("connect p50 / p99", f"{res['connect_p50_ms']} / {res['connect_p99_ms']} ms"),
        ("server open fds", res["server_open_fds"]),
        ("server RSS before / peak (per socket)", "n/a (--spawn only)" if not res.get("server_rss") else
         f"{res['server_rss']['before_mib']} / {res['server_rss']['peak_mib']} MiB "
         f"({res['server_rss']['kib_per_socket']} KiB a socket)"),
        ("healthz while open", res["healthz_while_open"][0]),
        ("round trips (send -> message:new)",
         f"{rt.get('received', 0)}/{rt.get('sent', 0)} ok, p50 {rt.get('p50_ms')} / max {rt.get('max_ms')} ms"),
        ("traffic during the storm", storm_row(res["storm_traffic"])),
        ("cpu % of one core", res["cpu_percent_of_one_core"]),
        ("over 1024, round trips ok, storm traffic complete",
         verdict(res["still_connected_after_hold"] > 1024 and rt.get("ok", False)
                 and res["storm_traffic"].get("missing", 0) == 0
                 and res["storm_traffic"].get("duplicates", 0) == 0)),
    ]


def send_rows(name: str, res: dict) -> list[tuple[str, Any]]:
    v = res["verify"]
    rows = [
        ("steady window", f"{res['window_seconds']} s"),
        ("sends/s", res["sends_per_s"]),
        ("acks/s", res["acks_per_s"]),
        ("messages delivered/s", res["messages_delivered_per_s"]),
        ("deliveries/s (all receivers)", res["deliveries_per_s"]),
        ("delivered/s per-second min..max",
         f"{min(res['messages_delivered_per_second_series'])}..{max(res['messages_delivered_per_second_series'])}"),
        ("latency send -> message:new", lat_row(res["latency"])),
        ("ack latency", lat_row(res["ack_latency"])),
        ("backlog at window end", res["backlog_at_window_end"]),
        ("drain after last send", f"{res['drain']['drain_seconds']} s, complete={res['drain']['complete']}"),
        ("sent / acked ok / no ack", f"{v['sent']} / {v['acked_ok']} / {v['no_ack']}"),
        ("ack errors (all events) / rejected", f"{v['ack_errors'] or 0} / {v['rejected_events'] or 0}"),
        ("deliveries expected / got", f"{v['expected_deliveries']} / {v['deliveries']}"),
        ("missing / lost msgs / duplicates", f"{v['missing_deliveries']} / {v['lost_messages']} / {v['duplicates']}"),
        ("out of order / foreign / disconnects", f"{v['out_of_order']} / {v['foreign_conversation']} / {v['disconnects']}"),
        ("stored / acked not stored / stored twice / seq gaps",
         f"{v['storage']['stored_messages']} / {v['storage']['acked_not_stored']} / "
         f"{v['storage']['stored_more_than_once']} / {v['storage']['seq_gaps']}"),
        ("cpu % of one core", res["cpu_percent_of_one_core"]),
    ]
    if "loadgen_loop_lag" in res:
        rows.append(("load generator event-loop lag", lat_row(res["loadgen_loop_lag"])))
    if name == "latency":
        rows.insert(0, ("offered rate", f"{res['offered_rate']} msg/s (max schedule lag {res['max_schedule_lag_ms']} ms)"))
        p99 = res["latency"]["p99_ms"]
        rows.append((f"target p99 <= {TARGETS['latency_p99_ms_max']:.0f} ms at >= "
                     f"{TARGETS['latency_offered_rate']:.0f} msg/s offered, none lost",
                     verdict(p99 is not None and p99 <= TARGETS["latency_p99_ms_max"] and exactly_once(v)
                             and res["offered_rate"] >= TARGETS["latency_offered_rate"])))
    elif name == "throughput":
        rows.append((f"target >= {TARGETS['throughput_msgs_per_s_min']:.0f} msg/s, exactly once",
                     verdict(res["messages_delivered_per_s"] >= TARGETS["throughput_msgs_per_s_min"]
                             and exactly_once(v))))
    return rows


def mixed_rows(res: dict) -> list[tuple[str, Any]]:
    m, c = res["mixed"], res["comparison"]
    target = TARGETS["mixed_message_drop_percent_max"]
    rows = [
        ("events sent in the window", ", ".join(f"{k} {v} %" for k, v in m["event_mix_percent"].items())),
        ("reactions / reads acked ok per s", f"{m['reactions_acked_ok_per_s']} / {m['reads_acked_ok_per_s']}"),
        ("events acked/s (all kinds)", m["events_acked_per_s"]),
        ("reaction/read ack latency", lat_row(m["ack_latency"])),
        ("reactions+reads sent / acked ok / no ack", f"{m['sent']} / {m['acked_ok']} / {m['no_ack']}"),
        *((f"{e} received / expected", f"{a['received']} / {a['expected']}") for e, a in m["announced"].items()),
    ]
    if c is None:
        rows.append(("message throughput drop", "no throughput run to compare with"))
    else:
        rows += [
            ("baseline: the throughput run just before",
             f"{c['baseline_messages_delivered_per_s']} msg/s, {c['baseline_events_acked_per_s']} events acked/s, "
             f"cpu {c['baseline_cpu_percent_of_one_core']} ({c['baseline_file']})"),
            ("drop in messages delivered/s (the target)", f"{c['message_drop_percent']} %"),
            ("drop in events acked/s (for comparison)", f"{c['event_drop_percent']} %"),
            ("drop in messages per server CPU-second", f"{c['per_server_cpu_second_drop_percent']} % "
             f"({c['baseline_messages_per_server_cpu_second']} -> {c['messages_per_server_cpu_second']})"),
            (f"target drop <= {target:.0f} %, sends exactly once, changes announced once",
             verdict(c["message_drop_percent"] is not None and c["message_drop_percent"] <= target
                     and exactly_once(res["verify"]) and changes_announced(m))),
        ]
    return rows


def typing_rows(t: dict, label: str) -> list[tuple[str, Any]]:
    clean = t["refused"] == t["missing"] == t["unmatched"] == t["echoes_to_typist"] == t["foreign"] == 0
    p99 = t["latency"]["p99_ms"]
    return [
        (f"{label}: typists", f"{t['typists']} (the receivers), a start and a stop every {t['period_s']} s each: "
                              f"{t['events_per_s']} typing events/s"),
        (f"{label}: typing:start -> others", lat_row(t["start"])),
        (f"{label}: typing:stop -> others", lat_row(t["stop"])),
        (f"{label}: refused / missing / unmatched / echoed / foreign",
         f"{t['refused']} / {t['missing']} / {t['unmatched']} / {t['echoes_to_typist']} / {t['foreign']}"),
        (f"{label}: arrivals over target", f"{sum(t['over_target_by_second'].values())} in "
         f"{len(t['over_target_by_second'])} of {int(t['window_s'])} s of the window"),
        (f"{label}: typing target p99 <= {TARGETS['typing_p99_ms_max']:.0f} ms (start and stop), all arrived",
         f"{verdict(p99 is not None and p99 <= TARGETS['typing_p99_ms_max'] and clean)} (p99 {p99} ms)"),
    ]


def typing_scenario_rows(res: dict) -> list[tuple[str, Any]]:
    rows = [*typing_rows(res["idle"]["typing"], "idle server"),
            ("idle server: cpu % of one core", res["idle"]["cpu_percent_of_one_core"]),
            ("idle server: load generator event-loop lag", lat_row(res["idle"]["loadgen_loop_lag"]))]
    for key, label in (("light", "light load"), ("saturated", "saturating load")):
        ph = res[key]
        sends_, m = ph["sends"], ph["mixed"]
        lag = f" (max schedule lag {ph['max_schedule_lag_ms']} ms)" if "max_schedule_lag_ms" in ph else ""
        rows += [
            (f"{label}: mixed events", f"{ph['load']}{lag}: " + ", ".join(
                f"{k} {p} %" for k, p in m["event_mix_percent"].items())),
            (f"{label}: messages delivered/s, latency", f"{sends_['messages_delivered_per_s']}; "
                                                        + lat_row(sends_["latency"])),
            (f"{label}: all sends so far exactly once and stored, changes announced once",
             verdict(exactly_once(sends_["verify"]) and sends_["verify"]["storage"]["acked_not_stored"] == 0
                     and changes_announced(m))),
            *typing_rows(ph["typing"], label),
            (f"{label}: cpu % of one core", ph["cpu_percent_of_one_core"]),
            (f"{label}: load generator event-loop lag", lat_row(ph["loadgen_loop_lag"])),
        ]
    return rows + [("ack errors (all events)", res["ack_errors"] or 0)]


def moderation_rows(res: dict) -> list[tuple[str, Any]]:
    m, v = res["moderation"], res["verify"]
    md = v["masked_deliveries"]
    rules = (f"{m['rules']} ({', '.join(f'{k} {n}' for k, n in m['rules_by_kind'].items())}), created over REST "
             f"in {m['rules_setup_seconds']} s before the warm-up; texts' verdicts {m['verdicts_checked']}"
             if m["rules"] else "none")
    return [
        ("moderation: rules on the group", rules),
        ("moderation: texts cycled by each sender", f"{', '.join(f'{k} {n}' for k, n in m['texts'].items())} "
                                                    f"({m['chars'][0]}-{m['chars'][1]} characters)"),
        ("deliveries expected masked / masked / masked wrongly",
         f"{md['expected']} / {md['masked']} / {md['masked_wrongly']}"),
        ("server CPU per message (server + redis-server)", f"{server_cpu_us_per_message(res)} µs"),
        ("sends exactly once and stored, masks where expected",
         verdict(exactly_once(v) and v["storage"]["acked_not_stored"] == 0 and masking_ok(v))),
    ]


def scenario_rows(name: str, res: dict) -> list[tuple[str, Any]]:
    if name == "connections":
        return connection_rows(res)
    if name == "typing":
        return typing_scenario_rows(res)
    if name.startswith("moderation"):
        return send_rows(name, res) + moderation_rows(res)
    return send_rows(name, res) + (mixed_rows(res) if name == "mixed" else [])


def rounds_summary(docs: list[dict]) -> list[tuple[str, Any]]:
    """With --repeat: the headline figures of every round, and their medians."""
    series: dict[str, list[float]] = {}

    def add(label: str, value: float | None) -> None:
        if value is not None:
            series.setdefault(label, []).append(value)

    for doc in docs:
        res = doc["results"]
        if doc["scenario"] == "throughput":
            add("throughput: messages delivered/s", res["messages_delivered_per_s"])
        elif doc["scenario"] == "mixed":
            add("mixed: messages delivered/s", res["messages_delivered_per_s"])
            add("mixed: drop in messages delivered/s, %", (res["comparison"] or {}).get("message_drop_percent"))
            add("mixed: drop in messages per server CPU-second, %",
                (res["comparison"] or {}).get("per_server_cpu_second_drop_percent"))
        elif doc["scenario"] == "typing":
            for phase in ("idle", "light", "saturated"):
                add(f"typing p99 ms, {phase}", res[phase]["typing"]["latency"]["p99_ms"])
        elif doc["scenario"] == "latency":
            add("latency: p99 ms", res["latency"]["p99_ms"])
    return [(label, f"median {statistics.median(values):g}  (each: {', '.join(f'{v:g}' for v in values)})")
            for label, values in series.items()]
