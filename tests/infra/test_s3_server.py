"""The embedded S3 (a moto server process) stays below the web process in the scheduler's eyes."""
from __future__ import annotations

import os

import pytest


def _autogroup(pid: int) -> tuple[str, int]:
    """The process's autogroup and its nice, from "/autogroup-2943 nice 10"."""
    with open(f"/proc/{pid}/autogroup") as f:
        name, _, nice = f.read().split()
    return name, int(nice)


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="a kernel without sched_autogroup")
def test_moto_runs_niced_in_a_niced_autogroup_of_its_own(s3_server):
    pid = s3_server.process.pid
    group, nice = _autogroup(pid)
    assert os.getsid(pid) == pid and group != _autogroup(os.getpid())[0]  # its own session, its own group...
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    assert nice == 10                                   # ... niced too, or its nice 10 would not count
