"""Load generator for the chat backend: throughput, mixed, typing, latency, connections and moderation scenarios.

One asyncio process drives everything: REST setup through aiohttp, clients through
``socketio.AsyncClient`` on the websocket transport only. Latency is send -> ``message:new`` at a
receiver of the same conversation, both stamped with ``time.perf_counter`` in this process and
matched by ``clientId``, so no clock needs to agree with the server's.

Scenarios (``--scenario all`` runs them in this order; ``--scenario mixed`` runs ``throughput`` first):

* ``throughput``  S senders keep at most ``--window`` unacknowledged sends each, for ``--warmup``
  then ``--duration`` seconds. Reported over the steady window only: messages delivered per second
  (distinct messages whose first ``message:new`` reached a receiver in the window), deliveries per
  second (every receiver counted), acks per second, and delivery latency percentiles.
* ``mixed``       the same closed loop, but of the events in each sender's window ``--reaction-share``
  (15 %) are ``reaction:add``/``reaction:remove`` on messages the sender has seen and ``--read-share``
  (15 %) are ``message:read`` up to the newest seq it has seen; the rest are sends. It runs right
  after a ``throughput`` run with the same parameters (``--scenario mixed`` runs both) and reports the
  drop in messages delivered per second against it.
* ``typing``      the same sockets; the receivers type (``typing:start``, then ``typing:stop``, every
  ``--typing-period`` s) in three phases on one server: nothing else going on; a light open-loop mixed
  load (``--typing-load-rate`` events/s); the mixed scenario's closed loop. Latency is emit -> arrival
  at each other socket of the conversation.
* ``latency``     an open-loop schedule at ``--rate`` msg/s spread round-robin over the senders;
  sends do not wait for acks. Latency is taken from the *scheduled* send time, so a generator that
  falls behind cannot hide queueing (coordinated omission); the worst schedule lag is reported.
* ``connections`` N idle authenticated sockets (no 1,024 cap), then messages must still round-trip.
  While the sockets connect, one client keeps sending to another at ``--storm-rate`` msg/s: live
  traffic must survive a connection storm too.
* ``moderation``  the ``throughput`` closed loop twice, each on a fresh server with the same parameters,
  on 500-character French messages (``bench/corpus.py``: clean ones, and at ``--hit-share`` (5 %) of the
  sends one hitting a ``mask`` or a ``flag`` rule, never ``block`` nor ``hold``): once with no filter rule,
  once with the 220 rules of ``bench/filters.py`` (200 word, 20 regex) created over REST on the group
  before the warm-up. Reports the drop in messages delivered per second (target <= 10 %) and the server's
  CPU per message; with ``--repeat`` the order alternates (none/rules, rules/none) and the median counts.
  Masked texts are checked by clientId: masked at every receiver with the rules, never without.

After sending stops, every scenario waits until each acknowledged message has reached every
receiver of its conversation (or nothing new arrived for ``--grace`` s) and then checks: exactly
once per receiver, no message from another conversation, seq increasing per receiver; then it reads
the history back over REST, so a missing delivery shows as stored-but-not-announced or never stored.
With reactions and reads, each acked change must reach every socket of its conversation once
(``message:updated``, ``message:read``); a typing event that has not arrived after
``--typing-timeout`` s is missing.

With ``--spawn`` each scenario gets a freshly started system (``python -m app`` with this
interpreter): the embedded store is in memory and grows with every message, and a backlog left by
one scenario must not be charged to the next. With ``--url`` all scenarios share that server.
A spawned server gets ``SEND_RATE_LIMIT=1000000/second`` (``SPAWN_ENV``; ``--server-env`` overrides it):
the default per-user flood limit, 30 sends per 10 s, would refuse most of a closed loop's sends. A server
started by hand for ``--url`` needs the same.

Usage: python bench/loadgen.py --spawn --scenario all --duration 15   (see bench/README.md)
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import platform
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
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
sys.path.insert(0, str(REPO_ROOT))

from bench.corpus import group_rules, send_texts  # noqa: E402  (plain data, no server code)

RESULTS_DIR = BENCH_DIR / "results"
SCENARIOS = ("throughput", "mixed", "typing", "latency", "connections", "moderation")
TARGETS = {"throughput_msgs_per_s_min": 500.0, "latency_p99_ms_max": 50.0, "latency_offered_rate": 200.0,
           "mixed_message_drop_percent_max": 20.0, "typing_p99_ms_max": 20.0,
           "moderation_message_drop_percent_max": 10.0}
# Every spawned server gets these unless --server-env says otherwise: the per-user flood limit (default
# 30 sends per 10 s) would otherwise refuse most of a closed loop's sends as ``rate_limited``.
SPAWN_ENV = {"SEND_RATE_LIMIT": "1000000/second"}


def server_env(pairs: list[str]) -> dict[str, str]:
    """SPAWN_ENV and the ``--server-env KEY=VALUE`` pairs given (which win)."""
    return {**SPAWN_ENV, **dict(kv.split("=", 1) for kv in pairs)}


# The moderation summary also gives the rounds in which every other process of the machine used less than
# this much of a core during both measurements.
QUIET_OTHERS_PERCENT = 25.0
# A chat latency window is disturbed when other processes (with the hypervisor's steal, which /proc/stat
# counts as busy) took more than this share of a core: at 14-25 % the baseline p99 was seen 2-4 times its
# quiet value, which makes any ratio against it meaningless.
CHAT_QUIET_OTHERS_PERCENT = 10.0
# The filter of the moderation scenario's "rules" runs masks with this character (pipelines.content_filter).
MASK_CHAR = "\u2022"
# Reactions come from this set: 8 emoji, under the server's 10 different emoji per user per message,
# so ``limit_reached`` is never expected (any is counted with the other errors).
EMOJI = ("\U0001F44D", "\u2764\uFE0F", "\U0001F602", "\U0001F389", "\U0001F62E", "\U0001F622",
         "\U0001F64F", "\U0001F525")
TYPING_EVENTS = ("typing:start", "typing:stop")

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


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - now()))


async def loop_lag(t_begin: float, t_end: float, interval: float = 0.005) -> list[float]:
    """How late this process's event loop wakes up a task over [t_begin, t_end]: every arrival time here
    is stamped by a task of this loop, so this is the load generator's own share of any latency."""
    samples: list[float] = []
    while (t := now()) < t_end:
        await asyncio.sleep(interval)
        if t >= t_begin:
            samples.append(now() - t - interval)
    return samples


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
                    if proc.pid == self.server.pid:
                        # children the server ran and reaped between two samples (the embedded exports'
                        # forks, infra.embedded.cpu.run_forked): the server's own work, not the machine's others
                        out["forks"] = t.children_user + t.children_system
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

    async def create_filter(self, token: str, group_id: str, rule: dict) -> str:
        return (await self._post(f"/api/groups/{group_id}/filters", rule, token))["id"]

    async def test_filter(self, token: str, group_id: str, text: str) -> dict:
        """The group's rules on a text: {action, hits, masked, ...}."""
        return await self._post(f"/api/groups/{group_id}/filters/test", {"text": text}, token)

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


async def on_spawned_server(name: str, env: dict[str, str], run, *, connections: int = 100) -> Any:
    """``run(url, http)`` against a freshly spawned embedded server (log: results/<name>-server.log), with
    what every bench needs (a fixed JWT secret, no flood limit, quiet logs) under ``env``; stopped after."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    env = {"JWT_SECRET": "bench-" + "x" * 40, "SEND_RATE_LIMIT": "1000000/second", "LOG_LEVEL": "WARNING", **env}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        server = SpawnedServer(RESULTS_DIR / f"{name}-server.log", env)
        await server.start(http)
        try:
            return await run(server.url, http)
        finally:
            server.stop()


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
    typing: "TypingProbe | None" = None  # set by the scenarios that measure typing
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


async def settle(done, progress, grace: float, cap: float) -> dict[str, Any]:
    """Wait until ``done()``, or until ``progress()`` has not changed for ``grace`` seconds (something
    still arriving keeps us waiting, up to ``cap``). Returns how long that took."""
    t0 = now()
    last_progress, last_count = t0, None
    while True:
        await asyncio.sleep(0.1)
        t = now()
        if done():
            return {"drain_seconds": round(t - t0, 2), "complete": True}
        if progress() != last_count:
            last_count, last_progress = progress(), t
        if t - last_progress > grace or t - t0 > cap:
            return {"drain_seconds": round(t - t0, 2), "complete": False}


async def wait_for_delivery(tracker: Tracker, pop: Population, grace: float, cap: float) -> dict[str, Any]:
    """After the last send: wait until every acked message reached every receiver of its conversation,
    or until nothing new arrived for ``grace`` seconds (a backlog still draining keeps us waiting, up to
    ``cap``)."""
    receivers_of = pop.receivers_of()
    expected = lambda: sum(len(receivers_of.get(s.conv, ())) for s in tracker.sent.values() if s.ack_ok)  # noqa: E731
    delivered = lambda: sum(len(r.seen) for r in pop.receivers)  # noqa: E731
    return await settle(lambda: delivered() >= expected()
                        and not any(s.ack_ok is None for s in tracker.sent.values()),
                        delivered, grace, cap)


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
    receivers_of = pop.receivers_of()
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
    labelled = {}
    if any(s.label for s in tracker.sent.values()):
        labelled["masked_deliveries"] = masked_deliveries(tracker, pop)
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
        **labelled,
    }


def masked_deliveries(tracker: Tracker, pop: Population) -> dict[str, int]:
    """The moderation scenario's texts as they arrived, by clientId: with the rules, each delivery of a
    "masked" text must carry the mask and no other text may; without them, none may."""
    expected = got = wrong = 0
    for r in pop.receivers:
        for cid in r.seen:
            s = tracker.sent.get(cid)
            should = tracker.masking and s is not None and s.label == "masked"
            expected += should
            got += should and cid in r.masked
            wrong += not should and cid in r.masked
    return {"expected": expected, "masked": got, "masked_wrongly": wrong}


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
        ran a socket's events concurrently (it runs them in order today: ``async_handlers=False``).
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


def latency_by_second(tracker: Tracker, pop, t_begin: float, t_end: float) -> list[dict]:
    """p50, p99 and max of send -> message:new for the messages sent in each second of the window, and
    of send -> ack, to see which phase of the background work the slow deliveries fall in, and whether they
    waited for the web process's loop (the ack is late too) or further down the pipeline."""
    seconds = int(t_end - t_begin + 0.999)
    buckets: list[list[float]] = [[] for _ in range(seconds)]
    acks: list[list[float]] = [[] for _ in range(seconds)]   # send -> ack: the socket handler's part
    for r in pop.receivers:
        for cid, t in r.seen.items():
            s = tracker.sent.get(cid)
            if s is not None and t_begin <= s.t_send < t_end:
                buckets[int(s.t_send - t_begin)].append(t - s.t_send)
    for s in tracker.sent.values():
        if s.t_ack is not None and t_begin <= s.t_send < t_end:
            acks[int(s.t_send - t_begin)].append(s.t_ack - s.t_send)
    return [{"second": i, **{k: v for k, v in latency_summary(b).items() if k in ("p50_ms", "p99_ms", "max_ms")},
             "ack_p99_ms": latency_summary(a)["p99_ms"]}
            for i, (b, a) in enumerate(zip(buckets, acks))]


async def check_sends(args, api: Api, tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict:
    """After the last send: wait for the deliveries, check them exactly once and in storage; the rates
    and latencies of the steady window."""
    drain = await wait_for_delivery(tracker, pop, args.grace, args.drain_cap)
    checked = verify(tracker, pop)
    checked["storage"] = await check_storage(api, pop, tracker, set(checked.pop("lost_ids")))
    return {"setup_seconds": round(pop.setup_seconds, 2), **window_figures(tracker, pop, t_begin, t_end),
            "drain": drain, "verify": checked, "population": describe(pop)}


async def check_ops(args, tracker: Tracker, pop: Population, t_begin: float, t_end: float) -> dict:
    """Reactions and read receipts: rates over the window, the mix actually sent, and each change
    announced to every socket of its conversation exactly once: one message:updated per acked reaction
    (each is a real change, see MixedEvents.react), one message:read per distinct mark a reader's acks
    report (an ack reports the mark after the call, so the values it moved to are exactly the marks).
    The one exception: the server moves an author's mark to their own newest message without an event
    (docs/api.md), so a mark at one of the reader's own seqs may have been reached silently; those are
    counted apart, as announcements that may or may not come."""
    members = Counter(c.conv for c in pop.clients)

    def expected(optional: bool = False) -> dict[str, int]:
        marks: dict[tuple[int, int], set[int]] = {}
        for op in tracker.ops:
            if op.ok and op.kind == "message:read":
                marks.setdefault((op.conv, op.reader), set()).add(op.mark)
        reads = sum(len({m for m in ms if (m in pop.senders[reader].own_seqs) == optional}) * members[conv]
                    for (conv, reader), ms in marks.items())
        if optional:
            return {"message:read": reads}
        return {"message:updated": sum(members[op.conv] for op in tracker.ops
                                       if op.ok and op.kind != "message:read"),
                "message:read": reads}

    received = lambda: sum((c.changes for c in pop.clients), Counter())  # noqa: E731
    settled = await settle(lambda: all(op.ok is not None for op in tracker.ops)
                           and all(received()[e] >= n for e, n in expected().items()),
                           lambda: sum(received().values()), args.grace, args.drain_cap)
    got = received()
    span = t_end - t_begin
    in_window = lambda t: t is not None and t_begin <= t < t_end  # noqa: E731
    sent = Counter(op.kind for op in tracker.ops if in_window(op.t_send))
    sent["message:send"] = sum(1 for s in tracker.sent.values() if in_window(s.t_send))
    acked_ok = Counter(op.kind for op in tracker.ops if op.ok and in_window(op.t_ack))
    acks = sum(1 for op in tracker.ops if in_window(op.t_ack)) + sum(
        1 for s in tracker.sent.values() if in_window(s.t_ack))
    return {
        "event_mix_percent": {k: round(100 * v / max(1, sum(sent.values())), 1) for k, v in sorted(sent.items())},
        "reactions_acked_ok_per_s": round((acked_ok["reaction:add"] + acked_ok["reaction:remove"]) / span, 1),
        "reads_acked_ok_per_s": round(acked_ok["message:read"] / span, 1),
        "events_acked_per_s": round(acks / span, 1),
        "ack_latency": latency_summary([op.t_ack - op.t_send for op in tracker.ops
                                        if in_window(op.t_send) and op.t_ack is not None]),
        "sent": len(tracker.ops), "acked_ok": sum(1 for op in tracker.ops if op.ok),
        "no_ack": sum(1 for op in tracker.ops if op.ok is None),
        "announced": {e: {"expected": n, "maybe": expected(optional=True).get(e, 0), "received": got[e]}
                      for e, n in expected().items()},
        "settle": settled,
    }


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


async def scenario_moderation(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter, rules: bool) -> dict:
    """The throughput closed loop on 500-character French messages (bench/corpus.py: clean ones, and at
    ``--hit-share`` of the sends one with a ``mask`` or a ``flag`` hit), without rules or with the 220 rules
    of bench/filters.py (200 word, 20 regex) created over REST on the group of every conversation before the
    warm-up. Each text's verdict is checked first with ``filters/test``: none may be blocked or held, so
    that both runs store and deliver the same messages."""
    texts = send_texts(args.hit_share)

    async def prepare(pop: Population) -> dict:
        info: dict[str, Any] = {"rules": 0, "texts": dict(Counter(label for label, _ in texts)),
                                "chars": [min(len(t) for _, t in texts), max(len(t) for _, t in texts)]}
        if not rules:
            return info
        t0 = now()
        specs = group_rules()
        await bounded_gather(8, (api.create_filter(pop.admin_token, pop.group_id, r) for r in specs))
        info.update(rules=len(specs), rules_by_kind=dict(Counter(r["kind"] for r in specs)),
                    rules_setup_seconds=round(now() - t0, 2))
        expected = {"clean": None, "masked": "mask", "flagged": "flag"}
        verdicts: dict[str, Counter] = {}
        for text, label in {t: lbl for lbl, t in texts}.items():
            got = (await api.test_filter(pop.admin_token, pop.group_id, text))["action"]
            if got != expected[label]:
                raise RuntimeError(f"a {label} text of the moderation scenario gets {got!r} from the rules, "
                                   f"not {expected[label]!r}: {text[:60]}...")
            verdicts.setdefault(label, Counter())[str(got)] += 1
        info["verdicts_checked"] = {k: dict(v) for k, v in verdicts.items()}
        tracker.masking = True
        return info

    return await closed_loop_scenario(args, api, url, http, tracker, cpu, mixed=False, content=texts, prepare=prepare)


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


async def scenario_latency(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter) -> dict:
    pop = await build_population(api, url, http, tracker, args.senders, args.receivers, args.conversations)
    t_start = now() + 0.05
    t_begin, t_end = t_start + args.warmup, t_start + args.warmup + args.duration
    cpu_task = asyncio.create_task(cpu_over(cpu, t_begin, t_end))
    max_lag = await open_loop(pop.senders, args.rate, t_start, t_begin, t_end, sends(tracker, payload(args.message_size)))
    res = await check_sends(args, api, tracker, pop, t_begin, t_end)
    return {**res, "offered_rate": args.rate, "max_schedule_lag_ms": round(max_lag * 1000, 2),
            "cpu_percent_of_one_core": await cpu_task}


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
        "open_seconds": round(open_seconds, 2),
        "connects_per_s": round(len(connect_times) / max(open_seconds, 1e-9), 1),
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


def connection_rows(res: dict) -> list[tuple[str, Any]]:
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


def exactly_once(v: dict) -> bool:
    """Every send acked, and every acked one delivered once to each receiver of its conversation only
    (a send never acked is in no other count: it must not pass unseen)."""
    return v["no_ack"] == 0 and v["missing_deliveries"] == 0 and v["duplicates"] == 0 \
        and v["foreign_conversation"] == 0


def changes_announced(m: dict) -> bool:
    """Every reaction and read acked, and announced once to every socket of its conversation."""
    return m["no_ack"] == 0 and all(a["expected"] <= a["received"] <= a["expected"] + a["maybe"]
                                    for a in m["announced"].values())


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


def server_cpu_us_per_message(r: dict) -> float | None:
    """Microseconds of the server's processes' CPU (web, workers, redis-server) per message delivered."""
    per_s = per_server_cpu_second(r)
    return round(1e6 / per_s, 1) if per_s else None


def masking_ok(v: dict) -> bool:
    m = v.get("masked_deliveries")
    return m is None or (m["masked"] == m["expected"] and m["masked_wrongly"] == 0)


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


def report(name: str, res: dict) -> list[tuple[str, Any]]:
    if name == "connections":
        return connection_rows(res)
    if name == "typing":
        return typing_scenario_rows(res)
    if name.startswith("moderation"):
        return send_rows(name, res) + moderation_rows(res)
    return send_rows(name, res) + (mixed_rows(res) if name == "mixed" else [])


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


def drop(base: float | None, value: float | None) -> float | None:
    """Percent lost from ``base`` to ``value``."""
    return round(100 * (1 - value / base), 1) if base and value is not None else None


def per_server_cpu_second(r: dict) -> float | None:
    """Messages per CPU-second of the server's processes: less sensitive to other processes taking
    CPU from a CPU-bound server (a shared machine) than messages per second."""
    cpu = sum(v for k, v in r["cpu_percent_of_one_core"].items() if k not in ("loadgen", "others")) / 100
    return round(r["messages_delivered_per_s"] / cpu, 1) if cpu > 0 else None


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


def params_of(args, name: str) -> dict[str, Any]:
    common = {"duration": args.duration, "warmup": args.warmup, "message_size": args.message_size,
              "grace": args.grace}
    pop = {"senders": args.senders, "receivers": args.receivers, "conversations": args.conversations}
    if name == "throughput":
        return {**pop, **common, "window": args.window}
    if name == "mixed":
        return {**pop, **common, "window": args.window, "reaction_share": args.reaction_share,
                "read_share": args.read_share}
    if name == "latency":
        return {**pop, **common, "rate": args.rate}
    if name.startswith("moderation"):
        return {**pop, **{k: v for k, v in common.items() if k != "message_size"}, "window": args.window,
                "hit_share": args.hit_share, "texts": "bench/corpus.py send_texts"}
    if name == "typing":
        return {**pop, **common, "window": args.window, "typing_load_rate": args.typing_load_rate,
                "reaction_share": args.reaction_share, "read_share": args.read_share,
                "typing_period": args.typing_period, "typing_timeout": args.typing_timeout}
    return {"connections": args.connections, "conn_users": args.conn_users, "hold": args.hold,
            "pings": args.pings, "connect_concurrency": args.connect_concurrency, "storm_rate": args.storm_rate,
            "grace": args.grace}


def log_counts(text: str) -> dict[str, int]:
    return {"errors": text.count(" ERROR ") + text.count(" CRITICAL "), "warnings": text.count(" WARNING "),
            "tracebacks": text.count("Traceback"),
            "publish_retries": text.count("ERROR socketio.server: Cannot publish"),
            "pubsub_listen_drops": text.count("ERROR socketio.server: Cannot receive")}


# -- driver ----------------------------------------------------------------------------------------
RUNNERS = {"throughput": functools.partial(closed_loop_scenario, mixed=False),
           "mixed": functools.partial(closed_loop_scenario, mixed=True), "typing": scenario_typing,
           "latency": scenario_latency, "connections": scenario_connections,
           # --scenario moderation runs both, on fresh servers, and compares them
           "moderation:none": functools.partial(scenario_moderation, rules=False),
           "moderation:rules": functools.partial(scenario_moderation, rules=True)}


async def run_one(name: str, args, http: aiohttp.ClientSession, stem: str, baseline: dict | None) -> dict:
    tracker = Tracker(run_id=secrets.token_hex(3))
    server: SpawnedServer | None = None
    extra_env = server_env(args.server_env)
    if args.worker_concurrency:
        extra_env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    try:
        if args.spawn:
            server = SpawnedServer(RESULTS_DIR / f"{stem}.server.log", extra_env)
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
        if name == "mixed":
            res["comparison"] = compare_with_baseline(baseline, res)
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
    out = RESULTS_DIR / f"{stem}.json"
    doc = {"scenario": name, "file": str(out.relative_to(REPO_ROOT)), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "target": "spawn" if args.spawn else url, "params": params_of(args, name), "server_env": extra_env,
           "machine": machine_info(), "code": code_version(), "targets": TARGETS, "results": res}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
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


async def main_async(args) -> int:
    # mixed is measured against a throughput run of the same round, so asking for it runs both.
    names = SCENARIOS if args.scenario == "all" else ("throughput", "mixed") if args.scenario == "mixed" \
        else (args.scenario,)
    raise_nofile_limit()
    m = machine_info()
    print(f"machine: {m['nproc']} cpus ({m['cpu_model']}), python {m['python']}; "
          f"{'fresh spawned system per scenario' if args.spawn else 'target ' + args.url}", flush=True)
    # limit=0: websocket connections hold their connector slot for life; the default cap of 100 would
    # silently queue the 101st socket.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        docs = []
        pairs: list[dict[str, dict]] = []  # the moderation scenario's runs, by round
        prefix = f"{args.name}-" if args.name else ""
        for round_no in range(1, args.repeat + 1):
            baseline = None
            suffix = f".r{round_no}" if args.repeat > 1 else ""
            for name in names:
                if name == "moderation":
                    # Without rules, then with them; the other way round in even rounds, to cancel drift.
                    pair = {}
                    for variant in ("none", "rules") if round_no % 2 else ("rules", "none"):
                        pair[variant] = await run_one(f"moderation:{variant}", args, http,
                                                      f"{prefix}moderation.{variant}{suffix}", None)
                    pairs.append(pair)
                    continue
                docs.append(await run_one(name, args, http, f"{prefix}{name}{suffix}", baseline))
                if name == "throughput":
                    baseline = docs[-1]
        if args.repeat > 1 and docs:
            print_table(f"== {args.repeat} rounds ==", rounds_summary(docs))
        if pairs:
            write_moderation_summary(args, pairs, RESULTS_DIR / f"{prefix}moderation.json")
    return 0


def write_moderation_summary(args, pairs: list[dict[str, dict]], out: Path) -> None:
    summary, rows = moderation_summary(pairs)
    first = pairs[0]["none"]
    doc = {"scenario": "moderation", "file": str(out.relative_to(REPO_ROOT)),
           "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "target": first["target"],
           "params": first["params"], "server_env": first["server_env"], "rules": "bench/corpus.py group_rules "
           "(200 word, 20 regex)", "machine": machine_info(), "code": code_version(), "targets": TARGETS,
           "results": summary}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print_table(f"== moderation: throughput with 220 rules vs none, {len(pairs)} round(s) ==  "
                f"({out.relative_to(REPO_ROOT)})", rows)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--spawn", action="store_true", help="start `python -m app` per scenario and stop it after")
    target.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:5000")
    p.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    p.add_argument("--hit-share", type=float, default=0.05,
                   help="moderation: share of the sends whose text hits a mask or a flag rule (half each)")
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
    p.add_argument("--reaction-share", type=float, default=0.15,
                   help="mixed, typing's load: share of the events that are reaction:add/remove")
    p.add_argument("--read-share", type=float, default=0.15,
                   help="mixed, typing's load: share of the events that are message:read")
    p.add_argument("--typing-period", type=float, default=1.5,
                   help="typing: each receiver sends typing:start then typing:stop every this many seconds")
    p.add_argument("--typing-load-rate", type=float, default=50.0,
                   help="typing: events/s of the light open-loop mixed load of the second phase")
    p.add_argument("--typing-timeout", type=float, default=3.0,
                   help="typing: a typing event not arrived after this long is missing")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the scenarios this many rounds (results/<scenario>.r<N>.json) and summarise them")
    p.add_argument("--worker-concurrency", type=int, default=0, help="spawn: WORKER_CONCURRENCY (0: server default)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="spawn: extra environment for the server (repeatable)")
    args = p.parse_args(argv)
    if args.senders < args.conversations or args.receivers < args.conversations:
        p.error("need at least one sender and one receiver per conversation (S >= C and R >= C)")
    if min(args.senders, args.receivers, args.conversations, args.window, args.repeat) < 1 \
            or min(args.rate, args.typing_load_rate) <= 0:
        p.error("senders, receivers, conversations, window, repeat and rates must be positive")
    if min(args.reaction_share, args.read_share) < 0 or args.reaction_share + args.read_share > 1:
        p.error("--reaction-share and --read-share must be >= 0 and add up to at most 1")
    if args.typing_period <= 0:
        p.error("--typing-period must be positive")
    if not 0 <= args.hit_share <= 1:
        p.error("--hit-share must be between 0 and 1")
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
