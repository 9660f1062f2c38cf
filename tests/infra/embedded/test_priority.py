"""infra.embedded.priority.give_way: background work on the event loop goes after the green threads that are ready."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.embedded.priority import give_way

ROOT = Path(__file__).resolve().parents[3]


def test_background_work_waits_for_a_free_loop_and_is_never_starved():
    out = subprocess.run([sys.executable, "-m", "tests.infra.embedded.priority_scenario"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # 150 rounds of 1 ms: the background slice waited for all of them, and went right after.
    assert report["returned_after_busy_s"] is not None, report
    assert report["waited_s"] > 0.14 and 0 <= report["returned_after_busy_s"] < 0.05, report
    # A loop that never idles (1.5 s of work) holds a slice back max_wait (0.2 s), no longer.
    assert 0.19 < report["bounded_wait_s"] < 0.6 and report["busy_still_running"], report
    # Nothing else to run: twenty callers pass at once.
    assert report["idle_twenty_s"] < 0.2 and report["idle_waits_max_s"] < 0.2, report


def test_outside_eventlet_it_returns_at_once():
    assert give_way() == 0.0
