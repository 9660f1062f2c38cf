"""The executors: the direct one calls; the embedded one runs a call in a CPU child, a walk in a fork, and
its dead child is an infra.executor.WorkerDied (transient) for the workers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.embedded.executor import EmbeddedExecutor
from infra.executor import DirectExecutor, Executor

ROOT = Path(__file__).resolve().parents[3]


def test_the_direct_executor_calls_here():
    executor: Executor = DirectExecutor()
    assert executor.run_cpu(os.getpid) == os.getpid()
    assert executor.run_cpu(divmod, 7, 2) == (3, 1)
    assert executor.give_way() is None
    assert executor.shares_loop is False and executor.run_on_snapshot is None


def test_the_embedded_executor_without_an_event_loop_calls_here_and_snapshots_only_an_in_memory_store():
    executor: Executor = EmbeddedExecutor(snapshots=True)
    assert executor.shares_loop is False  # this test process is not patched by eventlet
    assert executor.run_cpu(os.getpid) == os.getpid()
    assert executor.run_on_snapshot(os.getpid) == os.getpid()
    executor.give_way()
    assert EmbeddedExecutor(snapshots=False).run_on_snapshot is None


def test_the_embedded_executor_on_an_event_loop_runs_calls_in_a_child_and_walks_in_a_fork():
    out = subprocess.run([sys.executable, "-m", "tests.infra.embedded.executor_scenario"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["shares_loop"] is True
    assert report["cpu_pid"] != report["parent"] and report["snapshot_pid"] != report["parent"]
    assert report["cpu_pid"] != report["snapshot_pid"]
    assert report["died"] == "CpuWorkerDied"
