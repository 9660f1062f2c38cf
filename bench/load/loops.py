"""The load's shapes: the closed loop (a window of unacked events per client), the open loop (a schedule
at a fixed rate), and what each slot emits (sends, or the mixed sends, reactions and reads)."""
from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

from bench.load.clients import Client, Op, Tracker
from bench.load.harness import CpuMeter, now, sleep_until

# Reactions come from this set: 8 emoji, under the server's 10 different emoji per user per message,
# so ``limit_reached`` is never expected (any is counted with the other errors).
EMOJI = ("\U0001F44D", "\u2764\uFE0F", "\U0001F602", "\U0001F389", "\U0001F62E", "\U0001F622",
         "\U0001F64F", "\U0001F525")


def payload(size: int) -> str:
    return ("bench " + "x" * size)[:size]


def steady_window(args) -> tuple[float, float]:
    """(t_begin, t_end): ``--warmup`` seconds from now, then ``--duration`` seconds measured."""
    t_begin = now() + args.warmup
    return t_begin, t_begin + args.duration


async def cpu_over(cpu: CpuMeter, t_begin: float, t_end: float) -> dict[str, float]:
    await sleep_until(t_begin)
    cpu.begin()
    await sleep_until(t_end)
    return cpu.end()


async def closed_loop(clients: list[Client], window: int, t_end: float, emit_next) -> None:
    """Each client keeps at most ``window`` events unacknowledged until ``t_end``:
    ``await emit_next(client, release, now())`` emits one event, whose ack must call ``release()``."""

    async def run(c: Client) -> None:
        slots = asyncio.Semaphore(window)
        while True:
            remaining = t_end - now()
            if remaining <= 0:
                return
            try:  # an event whose ack never comes must not hang the run past its end
                await asyncio.wait_for(slots.acquire(), remaining)
            except asyncio.TimeoutError:
                return
            if now() >= t_end:
                slots.release()
                return
            await emit_next(c, slots.release, now())

    await asyncio.gather(*(run(c) for c in clients))


async def open_loop(clients: list[Client], rate: float, t_start: float, t_begin: float, t_end: float,
                    emit_next) -> float:
    """``rate`` events per second from ``t_start`` to ``t_end``, round-robin over the clients, never
    waiting for acks: ``await emit_next(client, release, t)`` with the event's *scheduled* time, which
    latency is measured from (no coordinated omission). Returns the worst lag behind the schedule in
    [t_begin, t_end)."""
    max_lag = 0.0
    k = 0
    next_t = t_start
    while next_t < t_end:
        t = now()
        # Everything due is sent now (catching up if the loop was late), then sleep to the next slot.
        while next_t <= t and next_t < t_end:
            if next_t >= t_begin:
                max_lag = max(max_lag, t - next_t)
            await emit_next(clients[k % len(clients)], lambda: None, next_t)
            k += 1
            next_t = t_start + k / rate
        await sleep_until(next_t)
    return max_lag


def sends(tracker: Tracker, content: str | list[tuple[str, str]]):
    """``emit_next`` of the throughput and latency scenarios: a message:send with a fresh clientId
    (a clientId used twice is a retry, which the server answers with the stored message again).
    ``content`` is one text, or (label, text) pairs that each sender cycles through from its own offset."""
    ids = itertools.count()
    texts = [(None, content)] if isinstance(content, str) else content
    turn: Counter = Counter()  # sends so far, per client

    async def emit(c: Client, release, t_send: float) -> None:
        cid = f"{tracker.run_id}:{c.index}:{next(ids)}"
        label, text = texts[(7 * c.index + turn[c.index]) % len(texts)]
        turn[c.index] += 1

        def on_ack(resp=None):
            tracker.on_ack(cid, resp)
            release()

        await c.send(cid, text, t_send, on_ack, label)

    return emit


class MixedEvents:
    """``emit_next`` of the mixed load: each event is drawn at random, a read receipt with probability
    ``read_share``, a reaction change with ``reaction_share``, else a send. A sender that has seen no
    message yet (its first events) sends."""

    def __init__(self, send, reaction_share: float, read_share: float) -> None:
        self.send, self.reaction_share, self.read_share = send, reaction_share, read_share
        self.rng = random.Random()

    async def __call__(self, c: Client, release, t_send: float) -> None:
        r = self.rng.random()
        if r < self.read_share and c.max_seq:
            # Up to the newest seq this sender has seen: the mark moves forward whenever one arrived since.
            await c.emit_op("message:read", {"convId": c.conv_id, "seq": c.max_seq}, lambda _op, _r: release())
        elif not (r < self.read_share + self.reaction_share and await self.react(c, release)):
            await self.send(c, release, t_send)

    async def react(self, c: Client, release) -> bool:
        """Half the time take back one of this user's reactions, else put an emoji on one of the last
        messages seen (or take it back if this user has it on). Never two changes of one (message,
        emoji) in flight, so that every acked change is a real one, announced once, even if the server
        ran a socket's events concurrently (it runs them in order: ``async_handlers=False``).
        False (nothing sent) when the pair drawn is in flight."""
        if c.reacted and self.rng.random() < 0.5:
            key = self.rng.choice(tuple(c.reacted))
        elif c.recent:
            key = (self.rng.choice(c.recent), self.rng.choice(EMOJI))
        else:
            return False
        if key in c.reacting:
            return False
        add = key not in c.reacted
        c.reacting.add(key)

        def on_ack(op: Op, _resp) -> None:
            c.reacting.discard(key)
            if op.ok:
                (c.reacted.add if add else c.reacted.discard)(key)
            release()

        await c.emit_op("reaction:add" if add else "reaction:remove", {"messageId": key[0], "emoji": key[1]},
                        on_ack)
        return True
