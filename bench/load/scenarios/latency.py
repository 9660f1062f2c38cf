"""The ``latency`` scenario: an open loop at ``--rate`` msg/s, latency from each send's scheduled time."""
from __future__ import annotations

import asyncio

from bench.load.checks import check_sends
from bench.load.clients import Tracker, build_population
from bench.load.harness import Api, CpuMeter, now
from bench.load.loops import cpu_over, open_loop, payload, sends


async def scenario_latency(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    t_start = now() + 0.05
    t_begin, t_end = t_start + args.warmup, t_start + args.warmup + args.duration
    cpu_task = asyncio.create_task(cpu_over(cpu, t_begin, t_end))
    max_lag = await open_loop(pop.senders, args.rate, t_start, t_begin, t_end, sends(tracker, payload(args.message_size)))
    res = await check_sends(args, api, tracker, pop, t_begin, t_end)
    return {**res, "offered_rate": args.rate, "max_schedule_lag_ms": round(max_lag * 1000, 2),
            "cpu_percent_of_one_core": await cpu_task}
