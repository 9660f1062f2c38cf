"""CPU-bound work (Pillow, reportlab) off the event loop: a small pool of child processes.

In production the CPU-heavy worker roles run Celery's prefork pool, and ``run_cpu`` just calls the
function. In the embedded default the workers are green threads of the web process, where a Pillow decode
or a reportlab page would stop every socket of the process for as long as it runs. There ``run_cpu``
sends the call to a child process and waits on its pipe, which under eventlet yields to the hub: the
sockets go on while another core does the work.

Why not ``multiprocessing`` or ``concurrent.futures.ProcessPoolExecutor``: under eventlet's monkey
patching their locks, feeder threads and resource tracker become green and fail ("Second simultaneous
write", "Cannot switch to a different thread"; tried). A child here is a plain ``python -m
infra.embedded.cpu_child`` that reads pickled calls ``(module, function, args, kwargs)`` as length-prefixed frames on
stdin and answers ``(ok, value)`` frames on stdout: only pipes, which eventlet handles well. Functions are
named by module and name, so only importable top-level functions can be sent (what a process pool needs
anyway); arguments and results should be small (paths, not file contents, for anything large).
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from typing import Any, Callable

from infra.embedded.priority import green
from infra.executor import WorkerDied

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">Q")


class CpuWorkerDied(WorkerDied):
    """The child process died or did not answer in time: worth retrying (transient, as every WorkerDied)."""


NICENESS = 10


def lower_priority(*, idle: bool = False) -> None:
    """Put this process below the web process in the scheduler's eyes: on a small machine the sockets come
    first. ``nice 10`` for a process that serves others (the embedded S3, which a browser's upload waits
    on); ``idle=True`` adds Linux's ``SCHED_IDLE`` for a process that only computes (the CPU child, a
    forked export), so it runs only on a core nothing else wants. ``nice 10`` alone did not keep a busy child off
    the web process's core (chat p99 several times higher with one spinning; docs/performance.md). A process
    that leads its own session (the embedded S3 does, so a terminal's Ctrl-C reaches the app first) gets
    its autogroup's nice set too, or its own nice would not count against the web process."""
    os.nice(NICENESS)
    if idle and hasattr(os, "SCHED_IDLE"):
        # Per thread on Linux: called before the process starts any thread, so every later one inherits it.
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    if os.getsid(0) == os.getpid():
        # A session leader (the embedded S3) has an autogroup of its own (Linux's sched_autogroup, on by
        # default in Debian's kernels): the scheduler shares the CPU between autogroups first, so a nice
        # value only counts inside its own group, and nice 10 alone left it the web process's equal.
        with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
            group.write(str(NICENESS))


def write_frame(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream) -> Any:
    header = _read_exactly(stream, _HEADER.size)
    return pickle.loads(_read_exactly(stream, _HEADER.unpack(header)[0]))


def _read_exactly(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _Child:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "infra.embedded.cpu_child", str(os.getpid())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def call(self, fn: Callable, args: tuple, kwargs: dict, timeout: float) -> Any:
        import eventlet

        try:
            with eventlet.Timeout(timeout):
                write_frame(self.process.stdin, (fn.__module__, fn.__qualname__, args, kwargs))
                ok, value = read_frame(self.process.stdout)
        except (eventlet.Timeout, EOFError, BrokenPipeError, OSError) as exc:
            self.kill()
            raise CpuWorkerDied(f"{fn.__qualname__}: the CPU worker process died or timed out ({exc!r})") from None
        if not ok:
            raise value
        return value

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class CpuPool:
    """At most ``size`` calls at once, each in a child process (started on first use, kept for the next)."""

    def __init__(self, size: int, timeout: float = 300.0) -> None:
        import eventlet.queue

        self.size, self.timeout = size, timeout
        self._idle: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
        for _ in range(size):
            self._idle.put(None)  # a slot; its child is started when first needed

    def warm(self, fn: Callable, *args) -> list[Any]:
        """Start every child now and run ``fn(*args)`` in each (the queue is first in, first out: each
        call takes the next slot), so that the first real call finds a child ready; their answers."""
        return [self.run(fn, *args) for _ in range(self.size)]

    def run(self, fn: Callable, *args, **kwargs) -> Any:
        child = self._idle.get()
        try:
            if child is None or not child.alive():
                child = _Child()
            return child.call(fn, args, kwargs, self.timeout)
        finally:
            self._idle.put(child if child is not None and child.alive() else None)

    def close(self) -> None:
        while not self._idle.empty():
            child = self._idle.get_nowait()
            if child is not None:
                child.process.stdin.close()
                child.kill()


_pool: CpuPool | None = None
_lock = threading.Lock()


def _get_pool() -> CpuPool:
    global _pool
    with _lock:
        if _pool is None:
            from infra.config import get_settings
            _pool = CpuPool(get_settings().cpu_workers)
        return _pool


def run_cpu(fn: Callable, *args, **kwargs) -> Any:
    """``fn(*args, **kwargs)``, off the event loop when there is one (the embedded default): in one of
    ``CPU_WORKERS`` child processes. Elsewhere (a prefork worker) it is a plain call."""
    if not green():
        return fn(*args, **kwargs)
    return _get_pool().run(fn, *args, **kwargs)


def preload(modules: tuple[str, ...], *resources: Any) -> int:
    """A child's warm-up: import ``modules``; ``resources`` are objects whose unpickling builds what each
    process keeps (``infra.blobs.S3Blobs``: its boto3 clients). Returns this process's id."""
    for name in modules:
        importlib.import_module(name)
    return os.getpid()


def warm_children(modules: tuple[str, ...], *resources: Any) -> None:
    """Under eventlet, start the CPU children now rather than at the first photo or PDF, and load what
    their calls need (``preload``): a child's start, Pillow, reportlab and boto3's S3 model cost about a
    second of CPU that a first upload would otherwise wait for. Elsewhere it does nothing."""
    if green():
        _get_pool().warm(preload, modules, *resources)


def warm_children_in_background(modules: tuple[str, ...], *resources: Any) -> None:
    """``warm_children`` in a green thread of its own: the process goes on starting meanwhile; a failure
    only means the first call starts its own child."""
    import eventlet

    def warm() -> None:
        try:
            warm_children(modules, *resources)
            log.info("CPU child processes started and loaded")
        except Exception:  # noqa: BLE001 - log and go on
            log.exception("could not start the CPU child processes ahead of use")

    eventlet.spawn_n(warm)


def close_pool() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


class ForkRefused(RuntimeError):
    """Code in a forked child tried to wait on the event loop, which is the parent's (see run_forked)."""


def run_forked(fn: Callable, *args, timeout: float = 3600.0) -> Any:
    """``fn(*args)`` in a fork of this process, off the event loop when there is one (the embedded default);
    elsewhere a plain call. The child sees this process's memory as it was at the fork (copy-on-write: the
    embedded store included, which a ``run_cpu`` child cannot read), runs ``fn`` on another core and
    sends back its result or exception (pickled); a child that dies or runs past ``timeout`` raises
    CpuWorkerDied (transient).

    The rules for ``fn``, because the child holds copies of the parent's sockets and of its event loop
    (green threads, the Redis and S3 connections): it computes and writes files, never uses the network,
    the store's connections or ``time.sleep``, and never waits on a green lock. The child enforces it: its
    hub refuses to switch (ForkRefused), so anything that would wait on the loop, which would run the
    parent's green threads in the child, fails instead. It also has the garbage collector off (nothing
    of the parent is finalised there: a finaliser could close a shared socket), SIGINT and SIGTERM
    ignored, nice 10 and ``SCHED_IDLE`` (``lower_priority``), and dies with the parent
    (``serve_only_the_parent``)."""
    if not green():
        return fn(*args)
    import eventlet
    from eventlet import greenio, hubs, patcher

    real_os = patcher.original("os")
    read_end, write_end = real_os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _run_in_forked_child(real_os, read_end, write_end, hubs.get_hub(), parent, fn, args)  # never returns
    real_os.close(write_end)
    pipe = greenio.GreenPipe(read_end, "rb")
    try:
        with eventlet.Timeout(timeout):
            data = pipe.read()
            _, status = os.waitpid(pid, 0)  # green: polls
    except BaseException as exc:  # the timeout, or this green thread killed (a worker stopping)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        if isinstance(exc, eventlet.Timeout):
            raise CpuWorkerDied(f"{fn.__qualname__}: the forked child ran past {timeout:g} s") from None
        raise
    finally:
        pipe.close()
    if not data:
        raise CpuWorkerDied(f"{fn.__qualname__}: the forked child died ({_exit_status(status)})")
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def _run_in_forked_child(real_os, read_end: int, write_end: int, hub, parent: int, fn: Callable, args: tuple):
    """The forked child's whole life: run ``fn(*args)``, write its pickled answer to the pipe, exit."""
    try:
        real_os.close(read_end)
        _enter_forked_child(hub, parent)
        try:
            answer = (True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - the parent re-raises it
            answer = (False, exc)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            data = pickle.dumps((False, RuntimeError(f"{fn.__qualname__}: could not send the result back: "
                                                     f"{exc!r}")))
        view = memoryview(data)
        while view:
            view = view[real_os.write(write_end, view):]
    finally:
        real_os._exit(0)


def serve_only_the_parent(parent: int) -> None:
    """For a child of the web process (a CPU child, a fork): it ends with the parent, and only then.

    A signal to the process group (Ctrl-C in a terminal, SIGTERM to ``make run``) reaches the children too;
    the parent stops on it cleanly, and a child killed by it would turn a call in flight into an error
    logged while stopping. The child ignores those signals and dies with the parent instead
    (PR_SET_PDEATHSIG; a CPU child idle on its pipe also ends at the EOF the parent's exit makes)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # it died before the line above: nobody waits for this child
            os._exit(1)


def _enter_forked_child(hub, parent: int) -> None:
    def refuse(*_args, **_kwargs):
        raise ForkRefused("a forked child may not wait on the event loop (network, sleep, green lock)")

    hub.switch = refuse
    gc.disable()
    serve_only_the_parent(parent)  # (and not the parent's signal handlers, which are for its loop)
    lower_priority(idle=True)


def _exit_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"
