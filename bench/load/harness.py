"""The load generator's harness: a spawned ``python -m app`` (or one given by URL), its REST calls, the
CPU meter, the clock and this process's own event-loop lag."""
from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.load.report import REPO_ROOT, RESULTS_DIR

try:  # only for the server's CPU figures; everything else works without it
    import psutil
except ImportError:  # pragma: no cover
    psutil = None

now = time.perf_counter
# Every spawned server gets these unless --server-env says otherwise: the per-user flood limit (default
# 30 sends per 10 s) would otherwise refuse most of a closed loop's sends as ``rate_limited``.
SPAWN_ENV = {"SEND_RATE_LIMIT": "1000000/second"}


def server_env(pairs: list[str]) -> dict[str, str]:
    """SPAWN_ENV and the ``--server-env KEY=VALUE`` pairs given (which win)."""
    return {**SPAWN_ENV, **dict(kv.split("=", 1) for kv in pairs)}


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


class CpuMeter:
    """CPU seconds of this process and (when spawned) of the server and its children over an interval,
    and of everything else on the machine (on a shared machine, what the measurement competed with)."""

    def __init__(self, server_pid: int | None) -> None:
        self.server = psutil.Process(server_pid) if (psutil and server_pid) else None
        self.start_wall = self.start_self = 0.0
        self.start_machine: float | None = None
        self.start_server: dict[str, float] = {}

    @staticmethod
    def machine_time() -> float | None:
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
        self.start_machine = self.machine_time()

    def end(self) -> dict[str, float]:
        """Percent of one core used by each process during the interval, and by all the others."""
        wall = max(now() - self.start_wall, 1e-9)
        out = {"loadgen": round(100 * (self._self_time() - self.start_self) / wall, 1)}
        for name, secs in self._server_times().items():
            out[name] = round(100 * (secs - self.start_server.get(name, 0.0)) / wall, 1)
        machine = self.machine_time()
        if machine is not None and self.start_machine is not None:
            out["others"] = round(max(0.0, 100 * (machine - self.start_machine) / wall - sum(out.values())), 1)
        return out


class SpawnedServer:
    """``python -m app`` of the project at ``root`` (this checkout unless told) on a free port, with
    ``python`` (this interpreter unless told); its output goes to a log file. ``argv`` replaces ``-m app``
    (bench/seeded_app.py: the same server on a store seeded with a history)."""

    def __init__(self, log_path: Path, extra_env: dict[str, str], *, root: Path = REPO_ROOT,
                 python: str = sys.executable, argv: tuple[str, ...] = ("-m", "app")) -> None:
        self.log_path = log_path
        self.extra_env = extra_env
        self.root, self.python, self.argv = root, python, argv
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    async def start(self, http: aiohttp.ClientSession, timeout: float = 90.0) -> None:
        env = {**os.environ, **self.extra_env, "PORT": str(self.port)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # a file, not a pipe: an unread pipe would stall the server
        # Own session, so the fallback kill can take the server's children (redis-server) with it.
        self.proc = subprocess.Popen([self.python, *self.argv], cwd=self.root, env=env, stdout=log,
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


def log_counts(text: str) -> dict[str, int]:
    return {"errors": text.count(" ERROR ") + text.count(" CRITICAL "), "warnings": text.count(" WARNING "),
            "tracebacks": text.count("Traceback"),
            "publish_retries": text.count("ERROR socketio.server: Cannot publish"),
            "pubsub_listen_drops": text.count("ERROR socketio.server: Cannot receive")}
