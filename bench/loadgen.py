"""Load generator for the chat backend: throughput, latency and connection-count scenarios.

One asyncio process drives everything: REST setup through aiohttp, clients through
``socketio.AsyncClient`` on the websocket transport only. Latency is send -> ``message:new`` at a
receiver of the same conversation, both stamped with ``time.perf_counter`` in this process and
matched by ``clientId``, so no clock needs to agree with the server's.

Scenarios (``--scenario all`` runs them in this order):

* ``throughput``  S senders keep at most ``--window`` unacknowledged sends each, for ``--warmup``
  then ``--duration`` seconds. Reported over the steady window only: messages delivered per second
  (distinct messages whose first ``message:new`` reached a receiver in the window), deliveries per
  second (every receiver counted), acks per second, and delivery latency percentiles.
* ``latency``     an open-loop schedule at ``--rate`` msg/s spread round-robin over the senders;
  sends do not wait for acks. Latency is taken from the *scheduled* send time, so a generator that
  falls behind cannot hide queueing (coordinated omission); the worst schedule lag is reported.
* ``connections`` N idle authenticated sockets (no 1,024 cap), then messages must still round-trip.
  While the sockets connect, one client keeps sending to another at ``--storm-rate`` msg/s: live
  traffic must survive a connection storm too.

After sending stops, every scenario waits until each acknowledged message has reached every
receiver of its conversation (or nothing new arrived for ``--grace`` s) and then checks: exactly
once per receiver, no message from another conversation, seq increasing per receiver; then it reads
the history back over REST, so a missing delivery shows as stored-but-not-announced or never stored.

With ``--spawn`` each scenario gets a freshly started system (``python -m app`` with this
interpreter): the embedded store is in memory and grows with every message, and a backlog left by
one scenario must not be charged to the next. With ``--url`` all scenarios share that server.

Usage: python bench/loadgen.py --spawn --scenario all --duration 15   (see bench/README.md)
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

try:  # only for the server's CPU figures; everything else works without it
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SCENARIOS = ("throughput", "latency", "connections")
TARGETS = {"throughput_msgs_per_s_min": 500.0, "latency_p99_ms_max": 50.0, "latency_offered_rate": 200.0}

now = time.perf_counter


# -- small helpers ---------------------------------------------------------------------------------
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit: each client socket is a file descriptor here too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


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


class CpuMeter:
    """CPU seconds of this process and (when spawned) of the server and its children over an interval,
    and of everything else on the machine (on a shared machine, what the measurement competed with)."""

    def __init__(self, server_pid: int | None) -> None:
        self.server = psutil.Process(server_pid) if (psutil and server_pid) else None
        self.start_wall = self.start_self = 0.0
        self.start_machine: float | None = None
        self.start_server: dict[str, float] = {}

    @staticmethod
    def _machine_time() -> float | None:
        """CPU seconds used by all processes of the machine (``/proc/stat``: all but idle and iowait)."""
        with contextlib.suppress(OSError, ValueError):
            ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        return None

    def _server_times(self) -> dict[str, float]:
        if self.server is None:
            return {}
        out: dict[str, float] = {}
        with contextlib.suppress(psutil.Error):
            for proc in [self.server, *self.server.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = proc.cpu_times()
                    name = "server" if proc.pid == self.server.pid else proc.name()
                    out[name] = out.get(name, 0.0) + t.user + t.system
        return out

    @staticmethod
    def _self_time() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def begin(self) -> None:
        self.start_wall, self.start_self, self.start_server = now(), self._self_time(), self._server_times()
        self.start_machine = self._machine_time()

    def end(self) -> dict[str, float]:
        """Percent of one core used by each process during the interval, and by all the others."""
        wall = max(now() - self.start_wall, 1e-9)
        out = {"loadgen": round(100 * (self._self_time() - self.start_self) / wall, 1)}
        for name, secs in self._server_times().items():
            out[name] = round(100 * (secs - self.start_server.get(name, 0.0)) / wall, 1)
        machine = self._machine_time()
        if machine is not None and self.start_machine is not None:
            out["others"] = round(max(0.0, 100 * (machine - self.start_machine) / wall - sum(out.values())), 1)
        return out


# -- the system under test -------------------------------------------------------------------------
class SpawnedServer:
    """``python -m app`` on a free port, with this interpreter; its output goes to a log file."""

    def __init__(self, log_path: Path, extra_env: dict[str, str]) -> None:
        self.log_path = log_path
        self.extra_env = extra_env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    async def start(self, http: aiohttp.ClientSession, timeout: float = 90.0) -> None:
        env = {**os.environ, **self.extra_env, "PORT": str(self.port)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # a file, not a pipe: an unread pipe would stall the server
        # Own session, so the fallback kill can take the server's children (redis-server) with it.
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=REPO_ROOT, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = now() + timeout
        last = "no answer"
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_tail())
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                    last = f"{r.status} {await r.text()}"
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"server not healthy after {timeout:.0f}s (last: {last}); see {self.log_path}")

    def stop(self, term_timeout: float = 20.0) -> dict[str, Any]:
        """SIGTERM, and SIGKILL to the server's process group only if it is still up after ``term_timeout``.
        Returns how it went: a server that ignores SIGTERM is a finding, not something to hide."""
        if self.proc is None or self.proc.poll() is not None:
            return {"already_exited": True, "exit_code": self.proc.returncode if self.proc else None}
        # The app starts redis-server in a session of its own, so killing our process group would
        # orphan it: note the server's descendants now, to end exactly those if it comes to that.
        children = []
        if psutil:
            with contextlib.suppress(psutil.Error):
                children = psutil.Process(self.proc.pid).children(recursive=True)
        t = now()
        self.proc.send_signal(signal.SIGTERM)  # the app stops its worker pool and redis-server itself
        try:
            self.proc.wait(term_timeout)
            how = "SIGTERM"
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            for child in children:
                with contextlib.suppress(psutil.Error):
                    child.kill()
            how = f"SIGKILL (still running {term_timeout:.0f}s after SIGTERM)"
        return {"stopped_by": how, "seconds": round(now() - t, 2), "exit_code": self.proc.returncode}

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Api:
    """The REST calls the setup needs."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http, self.base = http, base_url

    async def _post(self, path: str, body: dict, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.base}{path}", json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status >= 300:
                raise RuntimeError(f"POST {path} -> {r.status}: {data}")
            return data

    async def token(self, username: str) -> tuple[str, str]:
        data = await self._post("/api/dev/token", {"username": username})
        return data["token"], data["user"]["id"]

    async def create_group(self, token: str, name: str) -> str:
        return (await self._post("/api/groups", {"name": name}, token))["id"]

    async def add_group_member(self, token: str, group_id: str, username: str) -> None:
        await self._post(f"/api/groups/{group_id}/members", {"username": username}, token)

    async def create_conversation(self, token: str, group_id: str, title: str, members: list[str]) -> str:
        return (await self._post(f"/api/groups/{group_id}/conversations",
                                 {"title": title, "members": members}, token))["id"]

    async def stored(self, token: str, conv_id: str) -> list[tuple[int, str]]:
        """(seq, clientId) of every stored message of the conversation, oldest first (history pages)."""
        out: list[tuple[int, str]] = []
        after = 0
        while True:
            async with self.http.get(f"{self.base}/api/conversations/{conv_id}/messages",
                                     params={"after": str(after), "limit": "200"},
                                     headers={"Authorization": f"Bearer {token}"}) as r:
                data = await r.json(content_type=None)
                if r.status != 200:
                    raise RuntimeError(f"history of {conv_id} -> {r.status}: {data}")
            out += [(m["seq"], m["clientId"]) for m in data["messages"]]
            if not data.get("hasMore") or not data["messages"]:
                return out
            after = data["messages"][-1]["seq"]

    async def healthz(self) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}/healthz") as r:
            return r.status, await r.json(content_type=None)


async def bounded_gather(limit: int, coros) -> list:
    sem = asyncio.Semaphore(limit)

    async def run(c):
        async with sem:
            return await c

    return await asyncio.gather(*(run(c) for c in coros))


# -- bookkeeping -----------------------------------------------------------------------------------
@dataclass
class Sent:
    conv: int
    t_send: float              # perf_counter the latency is measured from
    t_ack: float | None = None
    ack_ok: bool | None = None  # None: no ack yet


@dataclass
class Tracker:
    """Everything sent and received in one scenario; handlers only append, analysis comes after."""
    run_id: str
    sent: dict[str, Sent] = field(default_factory=dict)
    ack_errors: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)      # message:rejected events, by code
    first_delivery: dict[str, float] = field(default_factory=dict)  # clientId -> earliest receiver time
    clients: list["Client"] = field(default_factory=list)  # every socket made, to close them all at the end
    deliveries: int = 0
    last_delivery_at: float = 0.0

    def on_ack(self, client_id: str, resp: Any) -> None:
        rec = self.sent.get(client_id)
        if rec is None:
            return
        rec.t_ack = now()
        rec.ack_ok = isinstance(resp, dict) and resp.get("ok") is True
        if not rec.ack_ok:
            code = resp.get("error", {}).get("code") if isinstance(resp, dict) else repr(resp)
            self.ack_errors[str(code)] += 1


class Client:
    """One socket: a sender or a receiver of one conversation (both subscribe to it)."""

    def __init__(self, tracker: Tracker, token: str, conv: int, conv_id: str, role: str, index: int,
                 http: aiohttp.ClientSession) -> None:
        self.tracker, self.token, self.conv, self.conv_id, self.role, self.index = \
            tracker, token, conv, conv_id, role, index
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http,
                                        request_timeout=30)
        self.ready = asyncio.Event()
        self.seen: dict[str, float] = {}   # clientId -> first arrival (receivers)
        self.duplicates = 0
        self.foreign = 0                   # message:new of a conversation this socket did not subscribe to
        self.out_of_order = 0              # seq not above the previous one
        self.echoes = 0                    # sender's own copies (counted, not used for latency)
        self.disconnects = 0
        self._last_seq = 0
        self.sio.on("session:ready", self._on_ready)
        self.sio.on("message:new", self._on_new if role == "receiver" else self._on_echo)
        self.sio.on("message:rejected", self._on_rejected)
        self.sio.on("disconnect", self._on_disconnect)
        tracker.clients.append(self)

    def _on_ready(self, _data=None) -> None:
        self.ready.set()

    def _on_disconnect(self, *_args) -> None:
        self.disconnects += 1

    def _on_rejected(self, data) -> None:
        self.tracker.rejected[str(data.get("code") if isinstance(data, dict) else data)] += 1

    def _on_echo(self, _data) -> None:
        self.echoes += 1

    def _on_new(self, data: dict) -> None:
        t = now()
        cid = data.get("clientId", "")
        if data.get("convId") != self.conv_id:
            self.foreign += 1
            return
        if cid in self.seen:
            self.duplicates += 1
            return
        self.seen[cid] = t
        seq = data.get("seq") or 0
        if seq <= self._last_seq:
            self.out_of_order += 1
        self._last_seq = max(self._last_seq, seq)
        tr = self.tracker
        tr.deliveries += 1
        tr.last_delivery_at = t
        if cid not in tr.first_delivery:
            tr.first_delivery[cid] = t

    async def connect(self, url: str, timeout: float = 30.0) -> None:
        await self.sio.connect(url, auth={"token": self.token}, transports=["websocket"], wait_timeout=timeout)

    async def subscribe(self) -> None:
        ack = await self.sio.call("conv:subscribe", {"convId": self.conv_id}, timeout=30)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"conv:subscribe refused: {ack}")

    async def send(self, client_id: str, content: str, t_send: float, on_ack) -> None:
        """Record, then emit; the emit only queues the packet for the writer task, so it is cheap."""
        self.tracker.sent[client_id] = Sent(self.conv, t_send)
        await self.sio.emit("message:send", {"convId": self.conv_id, "clientId": client_id, "content": content},
                            callback=on_ack)


@dataclass
class Population:
    clients: list[Client]
    senders: list[Client]
    receivers: list[Client]
    conv_ids: list[str]
    setup_seconds: float


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
    senders = [Client(tracker, tokens[f"b{run}s{i}"][0], i % n_convs, conv_ids[i % n_convs], "sender", i, http)
               for i in range(n_senders)]
    receivers = [Client(tracker, tokens[f"b{run}r{j}"][0], j % n_convs, conv_ids[j % n_convs], "receiver", j, http)
                 for j in range(n_receivers)]
    clients = senders + receivers
    await bounded_gather(50, (c.connect(url) for c in clients))
    await bounded_gather(50, (c.subscribe() for c in clients))
    return Population(clients, senders, receivers, conv_ids, now() - t0)


async def wait_for_delivery(tracker: Tracker, pop: Population, grace: float, cap: float) -> dict[str, Any]:
    """After the last send: wait until every acked message reached every receiver of its conversation,
    or until nothing new arrived for ``grace`` seconds (a backlog still draining keeps us waiting, up to
    ``cap``). Returns how long that took."""
    receivers_of: dict[int, list[Client]] = {}
    for r in pop.receivers:
        receivers_of.setdefault(r.conv, []).append(r)
    expected = lambda: sum(len(receivers_of.get(s.conv, ())) for s in tracker.sent.values() if s.ack_ok)  # noqa: E731
    t0 = now()
    last_progress, last_count = t0, -1
    while True:
        await asyncio.sleep(0.1)
        t = now()
        unacked = sum(1 for s in tracker.sent.values() if s.ack_ok is None)
        if tracker.deliveries >= expected() and unacked == 0:
            return {"drain_seconds": round(t - t0, 2), "complete": True}
        if tracker.deliveries != last_count:
            last_count, last_progress = tracker.deliveries, t
        if t - last_progress > grace or t - t0 > cap:
            return {"drain_seconds": round(t - t0, 2), "complete": False}


async def check_storage(api: Api, pop: Population, tracker: Tracker, missing: set[str]) -> dict[str, Any]:
    """What the database holds, so a missing delivery can be told apart: stored but never announced to
    the socket (lost between the worker and the client) or never stored (lost in the pipeline)."""
    stored: Counter = Counter()
    gaps = 0
    for conv, conv_id in enumerate(pop.conv_ids):
        token = next(r.token for r in pop.receivers if r.conv == conv)
        rows = await api.stored(token, conv_id)
        seqs = [seq for seq, _ in rows]
        gaps += sum(1 for x, y in zip(seqs, seqs[1:]) if y != x + 1) + (1 if seqs and seqs[0] != 1 else 0)
        stored.update(cid for _, cid in rows)
    acked = [cid for cid, s in tracker.sent.items() if s.ack_ok]
    return {"stored_messages": sum(stored.values()),
            "acked_not_stored": sum(1 for cid in acked if cid not in stored),
            "stored_more_than_once": sum(1 for n in stored.values() if n > 1),
            "seq_gaps": gaps,
            "missing_but_stored": sum(1 for cid in missing if cid in stored)}


def verify(tracker: Tracker, pop: Population) -> dict[str, Any]:
    """Exactly once per receiver of the conversation, for every acknowledged send."""
    receivers_of: dict[int, list[Client]] = {}
    for r in pop.receivers:
        receivers_of.setdefault(r.conv, []).append(r)
    acked = [cid for cid, s in tracker.sent.items() if s.ack_ok]
    missing_pairs = 0
    lost: set[str] = set()  # acked, and missing at one receiver or more
    for cid in acked:
        miss = sum(1 for r in receivers_of[tracker.sent[cid].conv] if cid not in r.seen)
        missing_pairs += miss
        if miss:
            lost.add(cid)
    unexpected = sum(1 for r in pop.receivers for cid in r.seen
                     if cid not in tracker.sent or not tracker.sent[cid].ack_ok)
    return {
        "sent": len(tracker.sent),
        "acked_ok": len(acked),
        "ack_errors": dict(tracker.ack_errors),
        "no_ack": sum(1 for s in tracker.sent.values() if s.ack_ok is None),
        "rejected_events": dict(tracker.rejected),
        "expected_deliveries": sum(len(receivers_of[tracker.sent[c].conv]) for c in acked),
        "deliveries": sum(len(r.seen) for r in pop.receivers),
        "missing_deliveries": missing_pairs,
        "lost_messages": len(lost),
        "lost_ids": sorted(lost),
        "duplicates": sum(r.duplicates for r in pop.receivers),
        "foreign_conversation": sum(r.foreign for r in pop.clients),
        "out_of_order": sum(r.out_of_order for r in pop.receivers),
        "delivered_without_ok_ack": unexpected,
        "sender_echoes": sum(s.echoes for s in pop.senders),
        "disconnects": sum(c.disconnects for c in pop.clients),
    }


def window_figures(tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict[str, Any]:
    """Rates over [t_begin, t_end] and the latency of messages sent in it, plus a per-second series."""
    span = t_end - t_begin
    deliveries_in = 0
    latencies: list[float] = []
    for r in pop.receivers:
        for cid, t in r.seen.items():
            if t_begin <= t < t_end:
                deliveries_in += 1
            s = tracker.sent.get(cid)
            if s is not None and t_begin <= s.t_send < t_end:
                latencies.append(t - s.t_send)
    messages_in = sum(1 for t in tracker.first_delivery.values() if t_begin <= t < t_end)
    acks_in = sum(1 for s in tracker.sent.values() if s.t_ack is not None and t_begin <= s.t_ack < t_end)
    sends_in = sum(1 for s in tracker.sent.values() if t_begin <= s.t_send < t_end)
    seconds = max(1, int(span))
    per_second = [0] * seconds
    for t in tracker.first_delivery.values():
        k = int(t - t_begin)
        if 0 <= k < seconds:
            per_second[k] += 1
    ack_lat = sorted(s.t_ack - s.t_send for s in tracker.sent.values()
                     if s.t_ack is not None and t_begin <= s.t_send < t_end)
    return {
        "window_seconds": round(span, 2),
        "sends_per_s": round(sends_in / span, 1),
        "acks_per_s": round(acks_in / span, 1),
        "messages_delivered_per_s": round(messages_in / span, 1),
        "deliveries_per_s": round(deliveries_in / span, 1),
        "latency": latency_summary(latencies),
        "ack_latency": latency_summary(ack_lat),
        "messages_delivered_per_second_series": per_second,
        # Sent in the window but not yet delivered anywhere when the window closed: the server's queue.
        "backlog_at_window_end": sum(1 for cid, s in tracker.sent.items()
                                     if s.t_send < t_end and tracker.first_delivery.get(cid, t_end) >= t_end),
    }


# -- scenarios -------------------------------------------------------------------------------------
def payload(size: int) -> str:
    return ("bench " + "x" * size)[:size]


async def scenario_throughput(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    content = payload(args.message_size)
    t_start = now()
    t_begin, t_end = t_start + args.warmup, t_start + args.warmup + args.duration

    async def sender(c: Client) -> None:
        window = asyncio.Semaphore(args.window)
        n = 0
        while True:
            remaining = t_end - now()
            if remaining <= 0:
                return
            try:  # a send whose ack never comes must not hang the run past its end
                await asyncio.wait_for(window.acquire(), remaining)
            except asyncio.TimeoutError:
                return
            if now() >= t_end:
                window.release()
                return
            cid = f"{tracker.run_id}:{c.index}:{n}"
            n += 1

            def on_ack(resp=None, _cid=cid):
                tracker.on_ack(_cid, resp)
                window.release()

            await c.send(cid, content, now(), on_ack)

    async def meter() -> dict:
        await asyncio.sleep(max(0.0, t_begin - now()))
        cpu.begin()
        await asyncio.sleep(max(0.0, t_end - now()))
        return cpu.end()

    cpu_task = asyncio.create_task(meter())
    await asyncio.gather(*(sender(c) for c in pop.senders))
    cpu_pct = await cpu_task
    drain = await wait_for_delivery(tracker, pop, args.grace, args.drain_cap)
    checked = verify(tracker, pop)
    checked["storage"] = await check_storage(api, pop, tracker, set(checked.pop("lost_ids")))
    fig = window_figures(tracker, pop, t_begin, t_end)
    return {"setup_seconds": round(pop.setup_seconds, 2), **fig, "cpu_percent_of_one_core": cpu_pct,
            "drain": drain, "verify": checked, "population": describe(pop)}


async def scenario_latency(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    content = payload(args.message_size)
    interval = 1.0 / args.rate
    t_start = now() + 0.05
    t_begin, t_end = t_start + args.warmup, t_start + args.warmup + args.duration
    max_lag = 0.0
    k = 0
    cpu_started = False
    next_t = t_start
    while next_t < t_end:
        t = now()
        if not cpu_started and t >= t_begin:
            cpu.begin()
            cpu_started = True
        # Everything due is sent now (catching up if the loop was late), then sleep to the next slot.
        while next_t <= t and next_t < t_end:
            c = pop.senders[k % len(pop.senders)]
            cid = f"{tracker.run_id}:{c.index}:{k}"
            max_lag = max(max_lag, t - next_t) if next_t >= t_begin else max_lag
            await c.send(cid, content, next_t, lambda resp=None, _cid=cid: tracker.on_ack(_cid, resp))
            k += 1
            next_t = t_start + k * interval
        await asyncio.sleep(max(0.0, next_t - now()))
    cpu_pct = cpu.end()
    drain = await wait_for_delivery(tracker, pop, args.grace, args.drain_cap)
    checked = verify(tracker, pop)
    checked["storage"] = await check_storage(api, pop, tracker, set(checked.pop("lost_ids")))
    fig = window_figures(tracker, pop, t_begin, t_end)
    fig["offered_rate"] = args.rate
    fig["max_schedule_lag_ms"] = round(max_lag * 1000, 2)
    return {"setup_seconds": round(pop.setup_seconds, 2), **fig, "cpu_percent_of_one_core": cpu_pct,
            "drain": drain, "verify": checked, "population": describe(pop)}


async def scenario_connections(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    soft, hard = raise_nofile_limit()
    t0 = now()
    run = tracker.run_id
    n_users = max(2, min(args.conn_users, args.connections))
    names = [f"b{run}c{i}" for i in range(n_users)]
    admin_token, _ = await api.token(f"b{run}admin")
    tokens = [t for t, _ in await bounded_gather(16, (api.token(n) for n in names))]
    group_id = await api.create_group(admin_token, f"bench {run} connections")
    await bounded_gather(16, (api.add_group_member(admin_token, group_id, n) for n in names))
    conv_id = await api.create_conversation(admin_token, group_id, f"bench {run} ping", names[:2])
    setup_seconds = now() - t0

    # Users are reused round-robin (a user may hold many sockets, like several tabs): what is tested is
    # the number of sockets. Clients 0 and 1 are users 0 and 1, the two members of the ping conversation.
    # Only client 1 records message:new as a receiver.
    clients = [Client(tracker, tokens[i % n_users], 0, conv_id, "receiver" if i == 1 else "sender", i, http)
               for i in range(args.connections)]
    errors: Counter = Counter()
    connect_times: list[float] = []

    async def open_one(c: Client) -> bool:
        t = now()
        try:
            await c.connect(url, timeout=60)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
            return False
        connect_times.append(now() - t)
        return True

    # Clients 0 and 1 connect and subscribe first, and user 0 keeps sending to user 1 at --storm-rate
    # while the other sockets connect: live traffic must survive a connection storm (a reconnect wave
    # after a deploy looks like this), not only an idle server.
    a, b = clients[0], clients[1]
    for c in (a, b):
        await c.connect(url)
        await c.subscribe()
    stop_chatter = asyncio.Event()

    async def chatter() -> int:
        k, t0 = 0, now()
        while not stop_chatter.is_set():
            cid = f"{run}:storm:{k}"
            await a.send(cid, "storm", now(), lambda resp=None, _cid=cid: tracker.on_ack(_cid, resp))
            k += 1
            with contextlib.suppress(asyncio.TimeoutError):  # open-loop schedule, ends early when told
                await asyncio.wait_for(stop_chatter.wait(), max(0.0, t0 + k / args.storm_rate - now()))
        return k

    chatter_task = asyncio.create_task(chatter()) if args.storm_rate > 0 else None
    cpu.begin()
    t_open = now()
    ok = [True, True] + await bounded_gather(args.connect_concurrency, (open_one(c) for c in clients[2:]))
    open_seconds = now() - t_open
    connected = [c for c, good in zip(clients, ok) if good]
    # session:ready is the server's proof that it handled the authenticated connect completely.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in connected)), 30)
    ready = sum(1 for c in connected if c.ready.is_set())
    await asyncio.sleep(args.hold)
    still = sum(1 for c in connected if c.sio.connected)
    server_fds = None
    if cpu.server is not None:
        with contextlib.suppress(psutil.Error):
            server_fds = cpu.server.num_fds()
    health_status, health = await api.healthz()

    storm: dict[str, Any] = {"rate": args.storm_rate}
    if chatter_task:
        stop_chatter.set()
        storm_sent = await chatter_task
        storm_ids = [f"{run}:storm:{k}" for k in range(storm_sent)]
        deadline = now() + args.grace  # let the last ones arrive
        while now() < deadline and any(cid not in b.seen for cid in storm_ids if tracker.sent[cid].ack_ok):
            await asyncio.sleep(0.05)
        acked = [cid for cid in storm_ids if tracker.sent[cid].ack_ok]
        stored = {cid for _, cid in await api.stored(b.token, conv_id)}
        storm.update(stored=sum(1 for cid in storm_ids if cid in stored),
                     missing_but_stored=sum(1 for cid in acked if cid not in b.seen and cid in stored))
        storm.update(sent=storm_sent, acked_ok=len(acked), delivered=sum(1 for cid in acked if cid in b.seen),
                     missing=sum(1 for cid in acked if cid not in b.seen), duplicates=b.duplicates,
                     latency=latency_summary([b.seen[cid] - tracker.sent[cid].t_send
                                              for cid in acked if cid in b.seen]))

    # Round trips with every socket open and the storm over: one at a time, user 0 -> user 1.
    samples = []
    for i in range(args.pings):
        cid = f"{run}:ping:{i}"
        t = now()
        await a.send(cid, "ping", t, lambda resp=None, _cid=cid: tracker.on_ack(_cid, resp))
        deadline = t + 10
        while cid not in b.seen and now() < deadline:
            await asyncio.sleep(0.001)
        if cid in b.seen:
            samples.append(b.seen[cid] - t)
    round_trip = {"ok": len(samples) == args.pings, "sent": args.pings, "received": len(samples),
                  **latency_summary(samples)}
    cpu_pct = cpu.end()
    ct = sorted(connect_times)
    return {
        "requested": args.connections, "users": n_users, "setup_seconds": round(setup_seconds, 2),
        "nofile_limit_loadgen": [soft, hard],
        "connected": len(connected), "session_ready": ready, "still_connected_after_hold": still,
        "hold_seconds": args.hold, "failed": sum(errors.values()), "errors": dict(errors.most_common(5)),
        "open_seconds": round(open_seconds, 2), "connects_per_s": round(len(connected) / max(open_seconds, 1e-9), 1),
        "connect_p50_ms": round(percentile(ct, 50) * 1000, 1) if ct else None,
        "connect_p99_ms": round(percentile(ct, 99) * 1000, 1) if ct else None,
        "server_open_fds": server_fds, "healthz_while_open": [health_status, health],
        "round_trip": round_trip, "storm_traffic": storm, "cpu_percent_of_one_core": cpu_pct,
        "disconnects_before_end": sum(c.disconnects for c in connected),
    }


def describe(pop: Population) -> dict[str, Any]:
    per_conv = Counter((c.conv, c.role) for c in pop.clients)
    return {"senders": len(pop.senders), "receivers": len(pop.receivers), "conversations": len(pop.conv_ids),
            "senders_per_conv": sorted({per_conv[(i, "sender")] for i in range(len(pop.conv_ids))}),
            "receivers_per_conv": sorted({per_conv[(i, "receiver")] for i in range(len(pop.conv_ids))})}


# -- reporting -------------------------------------------------------------------------------------
def print_table(title: str, rows: list[tuple[str, Any]]) -> None:
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 40)
    print(f"\n{title}\n{line}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(line, flush=True)


def lat_row(lat: dict) -> str:
    return (f"p50 {lat['p50_ms']} / p95 {lat['p95_ms']} / p99 {lat['p99_ms']} / max {lat['max_ms']} ms "
            f"(n={lat['samples']})")


def storm_row(st: dict) -> str:
    if "sent" not in st:
        return "off"
    return (f"{st['rate']} msg/s: sent {st['sent']}, acked {st['acked_ok']}, delivered {st['delivered']}, "
            f"missing {st['missing']} (of which stored {st['missing_but_stored']}), dup {st['duplicates']}, "
            f"p99 {st['latency']['p99_ms']} ms")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(name: str, res: dict) -> list[tuple[str, Any]]:
    if name == "connections":
        rt = res["round_trip"]
        return [
            ("requested sockets", res["requested"]),
            ("connected / session:ready", f"{res['connected']} / {res['session_ready']}"),
            (f"still connected after {res['hold_seconds']}s idle", res["still_connected_after_hold"]),
            ("failed", f"{res['failed']} {res['errors'] or ''}".strip()),
            ("open time / rate", f"{res['open_seconds']} s / {res['connects_per_s']} connects/s"),
            ("connect p50 / p99", f"{res['connect_p50_ms']} / {res['connect_p99_ms']} ms"),
            ("server open fds", res["server_open_fds"]),
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
        ("ack errors / rejected", f"{v['ack_errors'] or 0} / {v['rejected_events'] or 0}"),
        ("deliveries expected / got", f"{v['expected_deliveries']} / {v['deliveries']}"),
        ("missing / lost msgs / duplicates", f"{v['missing_deliveries']} / {v['lost_messages']} / {v['duplicates']}"),
        ("out of order / foreign / disconnects", f"{v['out_of_order']} / {v['foreign_conversation']} / {v['disconnects']}"),
        ("stored / acked not stored / stored twice / seq gaps",
         f"{v['storage']['stored_messages']} / {v['storage']['acked_not_stored']} / "
         f"{v['storage']['stored_more_than_once']} / {v['storage']['seq_gaps']}"),
        ("cpu % of one core", res["cpu_percent_of_one_core"]),
    ]
    if name == "latency":
        rows.insert(0, ("offered rate", f"{res['offered_rate']} msg/s (max schedule lag {res['max_schedule_lag_ms']} ms)"))
    exact = v["missing_deliveries"] == 0 and v["duplicates"] == 0 and v["foreign_conversation"] == 0
    if name == "throughput":
        rows.append((f"target >= {TARGETS['throughput_msgs_per_s_min']:.0f} msg/s, exactly once",
                     verdict(res["messages_delivered_per_s"] >= TARGETS["throughput_msgs_per_s_min"] and exact)))
    else:
        p99 = res["latency"]["p99_ms"]
        rows.append((f"target p99 <= {TARGETS['latency_p99_ms_max']:.0f} ms, none lost",
                     verdict(p99 is not None and p99 <= TARGETS["latency_p99_ms_max"] and exact
                             and v["no_ack"] == 0)))
    return rows


def params_of(args, name: str) -> dict[str, Any]:
    common = {"duration": args.duration, "warmup": args.warmup, "message_size": args.message_size,
              "grace": args.grace}
    pop = {"senders": args.senders, "receivers": args.receivers, "conversations": args.conversations}
    if name == "throughput":
        return {**pop, **common, "window": args.window}
    if name == "latency":
        return {**pop, **common, "rate": args.rate}
    return {"connections": args.connections, "conn_users": args.conn_users, "hold": args.hold,
            "pings": args.pings, "connect_concurrency": args.connect_concurrency, "storm_rate": args.storm_rate,
            "grace": args.grace}


def log_counts(text: str) -> dict[str, int]:
    return {"errors": text.count(" ERROR ") + text.count(" CRITICAL "), "warnings": text.count(" WARNING "),
            "tracebacks": text.count("Traceback"),
            "publish_retries": text.count("ERROR socketio.server: Cannot publish"),
            "pubsub_listen_drops": text.count("ERROR socketio.server: Cannot receive")}


# -- driver ----------------------------------------------------------------------------------------
RUNNERS = {"throughput": scenario_throughput, "latency": scenario_latency, "connections": scenario_connections}


async def run_one(name: str, args, http: aiohttp.ClientSession) -> dict:
    tracker = Tracker(run_id=secrets.token_hex(3))
    server: SpawnedServer | None = None
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    if args.worker_concurrency:
        extra_env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    try:
        if args.spawn:
            server = SpawnedServer(RESULTS_DIR / f"{args.name or name}.server.log", extra_env)
            print(f"[{name}] starting server on {server.url} (log {server.log_path.relative_to(REPO_ROOT)})",
                  flush=True)
            t = now()
            await server.start(http)
            print(f"[{name}] healthy after {now() - t:.1f}s", flush=True)
            url = server.url
        else:
            url = args.url.rstrip("/")
        api = Api(http, url)
        cpu = CpuMeter(server.proc.pid if server else None)
        print(f"[{name}] running (warm-up {args.warmup}s, window {args.duration}s)" if name != "connections"
              else f"[{name}] opening {args.connections} sockets", flush=True)
        res = await RUNNERS[name](args, api, url, http, tracker, cpu)
    finally:
        # Close our sockets before the server goes (and always with --url, where the server stays up).
        with contextlib.suppress(Exception):
            await bounded_gather(200, (c.sio.disconnect() for c in tracker.clients if c.sio.connected))
        if server:
            stop_info = await asyncio.get_running_loop().run_in_executor(None, server.stop)
    if server:
        # The server's own complaints during the run (tracebacks, lock expiry, retries) are evidence;
        # what it logs once told to stop is counted apart.
        log_text = server.log_path.read_text(errors="replace")
        cut = log_text.find(" app: stopping")
        cut = len(log_text) if cut < 0 else cut
        res["server_log"] = {"path": str(server.log_path.relative_to(REPO_ROOT)), **log_counts(log_text[:cut]),
                             "after_stop": log_counts(log_text[cut:]), "stop": stop_info}
    doc = {"scenario": name, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "target": "spawn" if args.spawn else url,
           "params": params_of(args, name), "server_env": extra_env, "machine": machine_info(),
           "code": code_version(),
           "targets": TARGETS, "results": res}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{args.name + '-' if args.name else ''}{name}.json"
    out.write_text(json.dumps(doc, indent=2))
    print_table(f"== {name} ==  ({out.relative_to(REPO_ROOT)})", report(name, res))
    if "server_log" in res:
        sl = res["server_log"]
        print(f"server log: {sl['path']}  until stop: errors={sl['errors']} (redis publish retries "
              f"{sl['publish_retries']}, pubsub listener drops {sl['pubsub_listen_drops']}) "
              f"warnings={sl['warnings']} tracebacks={sl['tracebacks']}; after stop: errors="
              f"{sl['after_stop']['errors']} tracebacks={sl['after_stop']['tracebacks']}; stop: {sl['stop']}",
              flush=True)
    return doc


async def main_async(args) -> int:
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    raise_nofile_limit()
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), python {m['python']}; "
          f"{'fresh spawned system per scenario' if args.spawn else 'target ' + args.url}", flush=True)
    # limit=0: websocket connections hold their connector slot for life; the default cap of 100 would
    # silently queue the 101st socket.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        for name in names:
            await run_one(name, args, http)
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--spawn", action="store_true", help="start `python -m app` per scenario and stop it after")
    target.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:5000")
    p.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    p.add_argument("--name", default="", help="prefix of the result files: results/<name>-<scenario>.json")
    p.add_argument("--duration", type=float, default=20.0, help="steady measurement window, seconds")
    p.add_argument("--warmup", type=float, default=3.0, help="load before the window that is not measured")
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--receivers", type=int, default=20)
    p.add_argument("--conversations", type=int, default=10)
    p.add_argument("--window", type=int, default=8, help="throughput: unacked sends allowed per sender")
    p.add_argument("--rate", type=float, default=200.0, help="latency: offered messages per second (all senders)")
    p.add_argument("--message-size", type=int, default=100, help="characters of content per message")
    p.add_argument("--grace", type=float, default=5.0,
                   help="after the last send, a message is lost once no delivery arrived for this long")
    p.add_argument("--drain-cap", type=float, default=180.0, help="longest wait for a backlog to drain")
    p.add_argument("--connections", type=int, default=1500, help="connections: sockets to open")
    p.add_argument("--conn-users", type=int, default=100, help="connections: distinct users sharing them")
    p.add_argument("--connect-concurrency", type=int, default=100, help="connections: handshakes in flight")
    p.add_argument("--hold", type=float, default=5.0, help="connections: idle seconds before counting")
    p.add_argument("--pings", type=int, default=20, help="connections: round trips with all sockets open")
    p.add_argument("--storm-rate", type=float, default=50.0,
                   help="connections: msg/s sent between two clients while the others connect (0: off)")
    p.add_argument("--worker-concurrency", type=int, default=0, help="spawn: WORKER_CONCURRENCY (0: server default)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="spawn: extra environment for the server (repeatable)")
    args = p.parse_args(argv)
    if args.senders < args.conversations or args.receivers < args.conversations:
        p.error("need at least one sender and one receiver per conversation (S >= C and R >= C)")
    if min(args.senders, args.receivers, args.conversations, args.window) < 1 or args.rate <= 0:
        p.error("senders, receivers, conversations, window and rate must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    loop = asyncio.new_event_loop()
    task = loop.create_task(main_async(args))
    # SIGTERM cancels like Ctrl-C does, so the finally blocks stop a spawned server either way.
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return loop.run_until_complete(task)
    except (KeyboardInterrupt, asyncio.CancelledError):
        task.cancel()
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
