"""The embedded S3 (a moto server process) stays below the web process in the scheduler's eyes."""
from __future__ import annotations

import os

import pytest


def _autogroup_nice(pid: int) -> int:
    # "/autogroup-2943 nice 10"
    with open(f"/proc/{pid}/autogroup") as f:
        return int(f.read().split()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="a kernel without sched_autogroup")
def test_moto_runs_niced_in_a_niced_autogroup_of_its_own(s3_server):
    pid = s3_server.process.pid
    assert os.getsid(pid) == pid                        # its own session: so its own autogroup ...
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + 10
    assert _autogroup_nice(pid) == 10                   # ... which is niced too, or nice 10 would not count
    assert _autogroup_nice(os.getpid()) == 0            # and ours was left alone
