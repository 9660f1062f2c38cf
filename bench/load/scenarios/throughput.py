"""The closed-loop scenarios: ``throughput`` (sends only) and ``mixed`` (sends, reactions and reads)."""
from __future__ import annotations

import asyncio

from bench.load.checks import check_ops, check_sends
from bench.load.clients import Tracker, build_population
from bench.load.harness import Api, CpuMeter, loop_lag
from bench.load.loops import (
    MixedEvents,
    closed_loop,
    cpu_over,
    payload,
    sends,
    steady_window,
)
from bench.load.report import latency_summary


async def closed_loop_scenario(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter,
                               mixed: bool, content: list[tuple[str, str]] | None = None, prepare=None) -> dict:
    """throughput (sends only) or mixed (sends, reactions and reads). ``content``: the texts to send
    instead of ``--message-size`` filler; ``await prepare(pop)``, run before the warm-up starts, returns
    figures of its own (the moderation scenario's rules)."""
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    prepared = await prepare(pop) if prepare else None
    t_begin, t_end = steady_window(args)
    emit_next = sends(tracker, content or payload(args.message_size))
    if mixed:
        emit_next = MixedEvents(emit_next, args.reaction_share, args.read_share)
    side = [asyncio.create_task(loop_lag(t_begin, t_end)), asyncio.create_task(cpu_over(cpu, t_begin, t_end))]
    await closed_loop(pop.senders, args.window, t_end, emit_next)
    lag, cpu_pct = await asyncio.gather(*side)
    res = await check_sends(args, api, tracker, pop, t_begin, t_end)
    res.update(cpu_percent_of_one_core=cpu_pct, loadgen_loop_lag=latency_summary(lag))
    if mixed:
        res["mixed"] = await check_ops(args, tracker, pop, t_begin, t_end)
    if prepared is not None:
        res["moderation"] = prepared
    return res
