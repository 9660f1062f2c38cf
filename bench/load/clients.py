"""The load generator's sockets and what they record: one ``Client`` per socket, the ``Tracker`` of
everything sent and received in a scenario, and the population of users, group and conversations."""
from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from bench.load.harness import Api, bounded_gather, now

# The content filter (pipelines/moderation/filters.py) masks with this character: the moderation scenario
# checks which deliveries carry it.
MASK_CHAR = "\u2022"
TYPING_EVENTS = ("typing:start", "typing:stop")


@dataclass
class Sent:
    conv: int
    t_send: float              # perf_counter the latency is measured from
    t_ack: float | None = None
    ack_ok: bool | None = None  # None: no ack yet
    label: str | None = None    # the moderation scenario's kind of text: clean, masked or flagged


@dataclass
class Op:
    """A reaction or read receipt (the mixed load)."""
    kind: str                   # reaction:add, reaction:remove or message:read
    conv: int
    reader: int                 # the client's index (read marks are per reader)
    t_send: float
    t_ack: float | None = None
    ok: bool | None = None
    mark: int | None = None     # message:read: the reader's mark the ack reports


@dataclass
class Tracker:
    """Everything sent and received in one scenario; handlers only append, analysis comes after."""
    run_id: str
    sent: dict[str, Sent] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    ack_errors: Counter = field(default_factory=Counter)  # refusals, by "<event> <code>"
    rejected: Counter = field(default_factory=Counter)      # message:rejected events, by code
    first_delivery: dict[str, float] = field(default_factory=dict)  # clientId -> earliest receiver time
    clients: list["Client"] = field(default_factory=list)  # every socket made, to close them all at the end
    typing: Any = None  # the typing scenario's TypingProbe, set by it: arrivals go to its on_arrival
    masking: bool = False  # the group has the moderation scenario's rules: "masked" texts arrive masked

    def on_ack(self, client_id: str, resp: Any) -> None:
        rec = self.sent.get(client_id)
        if rec is None:
            return
        rec.t_ack = now()
        rec.ack_ok = self.ack_ok(resp, "message:send")

    def ack_ok(self, resp: Any, event: str) -> bool:
        """Whether an ack says ok; a refusal is counted by event and code."""
        if isinstance(resp, dict) and resp.get("ok") is True:
            return True
        code = resp.get("error", {}).get("code") if isinstance(resp, dict) else repr(resp)
        self.ack_errors[f"{event} {code}"] += 1
        return False

    def on_op_ack(self, op: Op, resp: Any) -> None:
        op.t_ack = now()
        op.ok = self.ack_ok(resp, op.kind)
        if op.ok and op.kind == "message:read":
            op.mark = resp.get("seq")


class Client:
    """One socket: a sender or a receiver of one conversation (both subscribe to it)."""

    def __init__(self, tracker: Tracker, token: str, conv: int, conv_id: str, role: str, index: int,
                 http: aiohttp.ClientSession, user_id: str = "") -> None:
        self.tracker, self.token, self.conv, self.conv_id, self.role, self.index, self.user_id = \
            tracker, token, conv, conv_id, role, index, user_id
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http,
                                        request_timeout=30)
        self.ready = asyncio.Event()
        self.seen: dict[str, float] = {}   # clientId -> first arrival (receivers)
        self.masked: set[str] = set()      # clientIds whose content arrived with masked characters
        self.duplicates = 0
        self.foreign = 0                   # an event of a conversation this socket did not subscribe to
        self.out_of_order = 0              # seq not above the previous one
        self.echoes = 0                    # message:new at a sender's socket (not used for latency)
        self.disconnects = 0
        self._last_seq = 0
        # Senders remember the conversation's newest messages: what they react to, how far they read.
        self.recent: deque[str] = deque(maxlen=64)  # ids of the last message:new seen
        self.max_seq = 0
        self.reacted: set[tuple[str, str]] = set()  # (messageId, emoji) this user has on, as acked
        self.reacting: set[tuple[str, str]] = set()  # in flight: never two changes of one at once
        self.changes: Counter = Counter()            # message:updated / message:read received
        self.own_seqs: set[int] = set()              # seqs of this user's own stored messages
        self.sio.on("session:ready", self._on_ready)
        self.sio.on("message:new", self._on_new if role == "receiver" else self._on_echo)
        self.sio.on("message:rejected", self._on_rejected)
        self.sio.on("disconnect", self._on_disconnect)
        for event in ("message:updated", "message:read"):
            self.sio.on(event, lambda data, _event=event: self._on_change(_event, data))
        for event in TYPING_EVENTS:
            self.sio.on(event, lambda data, _event=event: self._on_typing(_event, data))
        tracker.clients.append(self)

    def _on_ready(self, _data=None) -> None:
        self.ready.set()

    def _on_disconnect(self, *_args) -> None:
        self.disconnects += 1

    def _on_rejected(self, data) -> None:
        self.tracker.rejected[str(data.get("code") if isinstance(data, dict) else data)] += 1

    def _on_echo(self, data: dict) -> None:
        self.echoes += 1
        if data.get("convId") == self.conv_id:
            self.recent.append(data["id"])
            self.max_seq = max(self.max_seq, data.get("seq") or 0)
            if data.get("senderId") == self.user_id:
                self.own_seqs.add(data.get("seq"))

    def _on_change(self, event: str, data: dict) -> None:
        if data.get("convId") != self.conv_id:
            self.foreign += 1
        else:
            self.changes[event] += 1

    def _on_typing(self, event: str, data: dict) -> None:
        if self.tracker.typing:
            self.tracker.typing.on_arrival(self, event, data)

    def _on_new(self, data: dict) -> None:
        t = now()
        cid = data.get("clientId", "")
        if data.get("convId") != self.conv_id:
            self.foreign += 1
            return
        if data.get("type") == "system":  # seq 1, conversation_created: may arrive after the subscribe
            return
        if cid in self.seen:
            self.duplicates += 1
            return
        self.seen[cid] = t
        if MASK_CHAR in (data.get("content") or ""):
            self.masked.add(cid)
        seq = data.get("seq") or 0
        if seq <= self._last_seq:
            self.out_of_order += 1
        self._last_seq = max(self._last_seq, seq)
        self.tracker.first_delivery.setdefault(cid, t)

    async def connect(self, url: str, timeout: float = 30.0) -> None:
        await self.sio.connect(url, auth={"token": self.token}, transports=["websocket"], wait_timeout=timeout)

    async def subscribe(self) -> None:
        ack = await self.sio.call("conv:subscribe", {"convId": self.conv_id}, timeout=30)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"conv:subscribe refused: {ack}")

    async def send(self, client_id: str, content: str, t_send: float, on_ack, label: str | None = None) -> None:
        """Record, then emit; the emit only queues the packet for the writer task, so it is cheap."""
        self.tracker.sent[client_id] = Sent(self.conv, t_send, label=label)
        await self.sio.emit("message:send", {"convId": self.conv_id, "clientId": client_id, "content": content},
                            callback=on_ack)

    async def emit_op(self, kind: str, data: dict, on_ack) -> None:
        """A reaction or read receipt, recorded like a send; ``on_ack(op, resp)`` after the tracker's."""
        op = Op(kind, self.conv, self.index, now())
        self.tracker.ops.append(op)

        def ack(resp=None) -> None:
            self.tracker.on_op_ack(op, resp)
            on_ack(op, resp)

        await self.sio.emit(kind, data, callback=ack)


@dataclass
class Population:
    senders: list[Client]
    receivers: list[Client]
    conv_ids: list[str]
    setup_seconds: float
    group_id: str = ""
    admin_token: str = ""      # the group's creator, its GROUP_ADMIN

    @property
    def clients(self) -> list[Client]:
        return self.senders + self.receivers

    def receivers_of(self) -> dict[int, list[Client]]:
        """The receivers of each conversation, by its index."""
        out: dict[int, list[Client]] = {}
        for r in self.receivers:
            out.setdefault(r.conv, []).append(r)
        return out


async def build_population(api: Api, url: str, http: aiohttp.ClientSession, tracker: Tracker,
                           n_senders: int, n_receivers: int, n_convs: int) -> Population:
    """Users, one group, C conversations; sender i and receiver j go to conversation i % C, j % C."""
    t0 = now()
    run = tracker.run_id
    admin_name = f"b{run}admin"
    names = [f"b{run}s{i}" for i in range(n_senders)] + [f"b{run}r{j}" for j in range(n_receivers)]
    admin_token, _ = await api.token(admin_name)
    tokens = dict(zip(names, await bounded_gather(16, (api.token(n) for n in names))))
    group_id = await api.create_group(admin_token, f"bench {run}")
    await bounded_gather(16, (api.add_group_member(admin_token, group_id, n) for n in names))
    members: list[list[str]] = [[] for _ in range(n_convs)]
    for i in range(n_senders):
        members[i % n_convs].append(f"b{run}s{i}")
    for j in range(n_receivers):
        members[j % n_convs].append(f"b{run}r{j}")
    conv_ids = await bounded_gather(8, (api.create_conversation(admin_token, group_id, f"bench {run} #{c}", members[c])
                                        for c in range(n_convs)))

    def client(name: str, role: str, index: int) -> Client:
        token, user_id = tokens[name]
        conv = index % n_convs
        return Client(tracker, token, conv, conv_ids[conv], role, index, http, user_id=user_id)

    senders = [client(f"b{run}s{i}", "sender", i) for i in range(n_senders)]
    receivers = [client(f"b{run}r{j}", "receiver", j) for j in range(n_receivers)]
    pop = Population(senders, receivers, conv_ids, 0.0, group_id, admin_token)
    await bounded_gather(50, (c.connect(url) for c in pop.clients))
    await bounded_gather(50, (c.subscribe() for c in pop.clients))
    pop.setup_seconds = now() - t0
    return pop


def describe(pop: Population) -> dict[str, Any]:
    per_conv = Counter((c.conv, c.role) for c in pop.clients)
    return {"senders": len(pop.senders), "receivers": len(pop.receivers), "conversations": len(pop.conv_ids),
            "senders_per_conv": sorted({per_conv[(i, "sender")] for i in range(len(pop.conv_ids))}),
            "receivers_per_conv": sorted({per_conv[(i, "receiver")] for i in range(len(pop.conv_ids))})}
