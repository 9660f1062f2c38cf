"""infra.embedded.cpu: CPU-bound calls run in child processes, so an eventlet process's loop keeps turning."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_pool_keeps_the_event_loop_turning_and_survives_its_children():
    out = subprocess.run([sys.executable, "-m", "tests.infra.embedded.cpu_scenario", "2", "2"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["pool_pid"] != report["parent"]           # the work ran in another process
    # 0.6 s of CPU in the pool costs the loop little; the same call made directly stops it for all of it.
    assert report["pool_lag_ms"] < 100 and report["direct_lag_ms"] > 500, report
    assert report["error"] == "bad input"                    # the child's exception, raised here
    assert report["died"] and report["timed_out"]            # a dead or stuck child is reported...
    assert report["after_death_pid"] != report["parent"]     # ...and replaced
    assert report["distinct_children"] == 2 and report["most_at_once"] == 2  # two at once, never more
    warmed = report["warmed"]                                # warm(): both children started ahead...
    assert len(set(warmed)) == 2 and report["parent"] not in warmed
    assert report["after_warm"] == [[pid, True] for pid in warmed]  # ...loaded, and then used
    pid, nice, policy = report["child_scheduling"]           # a child runs niced, on idle cores only
    assert pid != report["parent"] and nice == report["priority"] + 10 and policy == os.SCHED_IDLE, report


def test_outside_eventlet_it_is_a_plain_call():
    from infra.embedded.cpu import run_cpu
    from tests.infra.cpu_jobs import burn
    assert run_cpu(burn, 0.0) == os.getpid()


def test_a_fork_reads_the_memory_of_its_moment_off_the_loop_and_never_runs_the_parents_green_threads(tmp_path):
    trace = tmp_path / "trace"
    out = subprocess.run([sys.executable, "-m", "tests.infra.embedded.fork_scenario", str(trace)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["child"] != report["parent"]
    assert report["seen"] == "at the fork" and report["now"] == "changed after"  # a snapshot
    assert report["child_priority"] == report["priority"] + 10                    # niced...
    assert report["child_policy"] == os.SCHED_IDLE != report["policy"]            # ...and on idle cores only
    assert report["fork_lag_ms"] < 100 and report["direct_lag_ms"] > 500, report
    assert report["error"] == "bad input"
    assert "died (exit status 3)" in report["died"], report
    assert "ran past" in report["timed_out"]
    # Whatever would wait on the event loop fails in the child instead of running the parent's loop there.
    assert "may not wait on the event loop" in report["refused_sleep"]
    assert "may not wait on the event loop" in report["refused_green_lock"]
    assert "may not wait" in report["refused_socket"] or report["refused_socket"].startswith("not waited"), report
    assert "could not send the result back" in report["unpicklable"]
    assert report["children_left"] == []                                          # every child reaped
    assert not trace.exists(), trace.read_text()
