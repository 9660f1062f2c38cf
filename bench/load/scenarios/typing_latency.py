"""The ``typing`` scenario: typing:start / typing:stop -> arrival at the conversation's other sockets,
idle, under a light open-loop load and under the mixed closed loop."""
from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load.checks import check_ops, check_sends
from bench.load.clients import (
    TYPING_EVENTS,
    Client,
    Population,
    Tracker,
    build_population,
)
from bench.load.harness import Api, CpuMeter, loop_lag, now, sleep_until
from bench.load.loops import (
    MixedEvents,
    closed_loop,
    cpu_over,
    open_loop,
    payload,
    sends,
    steady_window,
)
from bench.load.report import latency_summary
from bench.load.targets import TARGETS


@dataclass
class Typed:
    """A typing event waiting for its arrivals."""
    event: str
    t_emit: float
    waiting: set            # the sockets it has not reached yet
    measured: bool          # emitted in the steady window
    done: asyncio.Event = field(default_factory=asyncio.Event)
    refused: bool = False


class TypingProbe:
    """Typing latency: a typist's ``typing:start`` / ``typing:stop`` -> its arrival at each other socket
    of the conversation (the server skips the typist's own). The events carry only {convId, userId}, so a
    typist has one in flight at a time: it waits for every arrival (or ``timeout``) before its next,
    and an arrival matches its emit without ambiguity."""

    def __init__(self, tracker: Tracker, pop: Population, t_begin: float, t_end: float, period: float,
                 timeout: float) -> None:
        self.tracker, self.t_begin, self.t_end, self.period, self.timeout = tracker, t_begin, t_end, period, timeout
        self.room: dict[str, list[Client]] = {}
        for c in pop.clients:
            self.room.setdefault(c.conv_id, []).append(c)
        self.in_flight: dict[tuple[str, str], Typed] = {}  # (convId, typist's userId) -> its event
        self.samples: dict[str, list[float]] = {e: [] for e in TYPING_EVENTS}
        self.emitted: Counter = Counter()  # in the window, by event
        self.slow_seconds: Counter = Counter()  # arrivals over the target, by second of the window emitted in
        self.typists = 0
        self.refused = 0      # acks not ok (counted by code in the tracker's ack errors)
        self.missing = 0      # (event, socket) pairs that did not arrive within the timeout
        self.unmatched = 0    # arrivals no emit was waiting for (late ones, or a stop/start never sent)
        self.echoes = 0       # the typist's own socket received its event
        self.foreign = 0      # an event of another conversation
        tracker.typing = self

    def on_arrival(self, c: Client, event: str, data: Any) -> None:
        t = now()
        if not isinstance(data, dict) or data.get("convId") != c.conv_id:
            self.foreign += 1
            return
        if data.get("userId") == c.user_id:
            self.echoes += 1
            return
        typed = self.in_flight.get((c.conv_id, data.get("userId")))
        if typed is None or typed.event != event or c not in typed.waiting:
            self.unmatched += 1
            return
        typed.waiting.discard(c)
        if typed.measured:
            self.samples[event].append(t - typed.t_emit)
            if t - typed.t_emit > TARGETS["typing_p99_ms_max"] / 1000:
                self.slow_seconds[int(typed.t_emit - self.t_begin)] += 1
        if not typed.waiting:
            typed.done.set()

    async def emit(self, c: Client, event: str) -> bool:
        """One typing event, then wait for its arrivals; True when the server accepted it."""
        t = now()
        typed = Typed(event, t, {o for o in self.room[c.conv_id] if o is not c}, self.t_begin <= t < self.t_end)
        self.in_flight[(c.conv_id, c.user_id)] = typed

        def on_ack(resp=None) -> None:
            if not self.tracker.ack_ok(resp, event):
                typed.refused = True
                typed.done.set()

        await c.sio.emit(event, {"convId": c.conv_id}, callback=on_ack)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(typed.done.wait(), self.timeout)
        del self.in_flight[(c.conv_id, c.user_id)]
        if typed.measured:
            self.emitted[event] += 1
            self.refused += typed.refused
            self.missing += 0 if typed.refused else len(typed.waiting)
        return not typed.refused

    async def typist(self, c: Client, t_first: float) -> None:
        """Every ``period`` s a typing:start, and a typing:stop half a period later (2 events per period,
        per user: the default TYPING_RATE_LIMIT of 20/10 s allows a period down to 1 s)."""
        t0 = t_first
        while t0 < self.t_end:
            await sleep_until(t0)
            if await self.emit(c, "typing:start"):
                await sleep_until(min(t0 + self.period / 2, self.t_end))
                await self.emit(c, "typing:stop")
            t0 = max(t0 + self.period, now() + self.period / 2)  # after a slow arrival, slower, never a burst

    async def run(self, typists: list[Client]) -> None:
        """The typists start spread over the first period."""
        self.typists = len(typists)
        t_start = now()
        await asyncio.gather(*(self.typist(c, t_start + i * self.period / len(typists))
                               for i, c in enumerate(typists)))

    def summary(self) -> dict[str, Any]:
        starts, stops = self.samples["typing:start"], self.samples["typing:stop"]
        return {"typists": self.typists, "period_s": self.period, "timeout_s": self.timeout,
                "window_s": round(self.t_end - self.t_begin, 2),
                "emitted_in_window": dict(self.emitted),
                "events_per_s": round(sum(self.emitted.values()) / (self.t_end - self.t_begin), 1),
                "latency": latency_summary(starts + stops), "start": latency_summary(starts),
                "stop": latency_summary(stops), "refused": self.refused, "missing": self.missing,
                "unmatched": self.unmatched, "echoes_to_typist": self.echoes, "foreign": self.foreign,
                # A stall of the server shows as many slow arrivals within one second, queueing as a spread.
                "over_target_by_second": dict(sorted(self.slow_seconds.items()))}


async def scenario_typing(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    """The receivers type, on one server, in three phases of --warmup + --duration s each: with nothing
    else going on; while the senders keep a light open-loop mixed load of ``--typing-load-rate``
    events/s going; and during the mixed scenario's closed loop, which saturates the server."""
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    mixed = MixedEvents(sends(tracker, payload(args.message_size)), args.reaction_share, args.read_share)

    async def phase(load=None) -> dict:
        """Typing over one steady window with ``await load(t_start, t_begin, t_end)`` going on, if any
        (it returns figures of its own); then the load's messages, reactions and reads are checked like
        in the other scenarios."""
        t_start = now()
        t_begin, t_end = steady_window(args)
        probe = TypingProbe(tracker, pop, t_begin, t_end, args.typing_period, args.typing_timeout)
        lag, cpu_pct, _, *load_figures = await asyncio.gather(
            loop_lag(t_begin, t_end), cpu_over(cpu, t_begin, t_end), probe.run(pop.receivers),
            *([load(t_start, t_begin, t_end)] if load else []))
        res = {"typing": probe.summary(), "cpu_percent_of_one_core": cpu_pct, "loadgen_loop_lag": latency_summary(lag)}
        if load:  # the checks are of everything sent so far; the rates are the window's
            res.update(**load_figures[0], sends=await check_sends(args, api, tracker, pop, t_begin, t_end),
                       mixed=await check_ops(args, tracker, pop, t_begin, t_end))
        return res

    async def light(t_start: float, t_begin: float, t_end: float) -> dict:
        max_lag = await open_loop(pop.senders, args.typing_load_rate, t_start, t_begin, t_end, mixed)
        return {"load": f"open loop, {args.typing_load_rate:g} events/s", "max_schedule_lag_ms": round(max_lag * 1000, 2)}

    async def saturating(_t_start: float, _t_begin: float, t_end: float) -> dict:
        await closed_loop(pop.senders, args.window, t_end, mixed)
        return {"load": f"closed loop, {len(pop.senders)} senders x {args.window} unacked events (as in mixed)"}

    return {"setup_seconds": round(pop.setup_seconds, 2), "idle": await phase(), "light": await phase(light),
            "saturated": await phase(saturating), "ack_errors": dict(tracker.ack_errors)}
