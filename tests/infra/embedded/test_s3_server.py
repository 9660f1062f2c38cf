"""The embedded S3 (a moto server process) stays below the web process in the scheduler's eyes."""
from __future__ import annotations

import os

import pytest


def _autogroup(pid: int) -> tuple[str, int] | None:
    """The process's autogroup and its nice, from "/autogroup-2943 nice 10"; None where the kernel has none
    to show: without sched_autogroup, or for a process left in the default group (seen on CI)."""
    try:
        with open(f"/proc/{pid}/autogroup") as f:
            fields = f.read().split()
    except FileNotFoundError:
        return None
    return (fields[0], int(fields[2])) if fields else None


def test_moto_runs_niced(s3_server):
    pid = s3_server.process.pid
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)


def test_moto_runs_in_a_niced_autogroup_of_its_own(s3_server):
    pid = s3_server.process.pid
    own = _autogroup(pid)
    if own is None:   # seen on CI: no group was made for moto's session, so its nice counts as it is
        pytest.skip("autogroups do not apply to the embedded S3 here")
    group, nice = own
    assert os.getsid(pid) == pid and group != (_autogroup(os.getpid()) or ("",))[0]  # its own group...
    assert nice == 10                                   # ... niced too, or its nice 10 would not count
