"""Run under eventlet's monkey patching, as the embedded web process is: infra.embedded.cpu.run_forked; prints a
JSON report."""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from infra.embedded.cpu import CpuWorkerDied, ForkRefused, run_forked  # noqa: E402
from tests.infra.cpu_jobs import burn, die, fail, lag_during  # noqa: E402

parent = os.getpid()
trace = sys.argv[1]  # a file that any green thread of this process appends to when it runs in a child
memory = {"value": "at the fork"}
report = {"parent": parent}


def watcher():
    while True:
        if os.getpid() != parent:
            with open(trace, "a") as f:
                f.write(f"a green thread of the parent ran in child {os.getpid()}\n")
        eventlet.sleep(0.001)


def read_after_parent_changed_it() -> tuple[int, str, int]:
    burn(0.3)  # the parent changes the value meanwhile
    return os.getpid(), memory["value"], os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0)


def change_soon():
    eventlet.sleep(0.05)
    memory["value"] = "changed after"


eventlet.spawn(watcher)
eventlet.spawn(change_soon)
pid, seen, priority, policy = run_forked(read_after_parent_changed_it)
report.update(child=pid, seen=seen, now=memory["value"], child_priority=priority, child_policy=policy,
              priority=os.getpriority(os.PRIO_PROCESS, 0), policy=os.sched_getscheduler(0))
report["fork_lag_ms"], _ = lag_during(lambda: run_forked(burn, 0.6))
report["direct_lag_ms"], _ = lag_during(lambda: burn(0.6))
try:
    run_forked(fail, "bad input")
except ValueError as exc:
    report["error"] = str(exc)
try:
    run_forked(die)
except CpuWorkerDied as exc:
    report["died"] = str(exc)
try:
    run_forked(burn, 5, timeout=0.5)
except CpuWorkerDied as exc:
    report["timed_out"] = str(exc)
for name, waits in (("sleep", lambda: eventlet.sleep(0.01)),
                    ("green_lock", lambda: held.acquire()),  # held by this process's main green thread
                    ("socket", lambda: __import__("socket").create_connection(("127.0.0.1", 9), timeout=1))):
    held = threading.Lock()
    held.acquire()
    try:
        run_forked(waits)
    except ForkRefused as exc:
        report[f"refused_{name}"] = str(exc)
    except OSError as exc:  # (a connection refused at once, without waiting: nothing waited on the loop)
        report[f"refused_{name}"] = f"not waited: {exc}"
try:
    run_forked(lambda: (lambda: None))  # a result that cannot be pickled
except RuntimeError as exc:
    report["unpicklable"] = str(exc)
report["children_left"] = [p for p in os.listdir("/proc") if p.isdigit()
                           and open(f"/proc/{p}/stat").read().split()[3] == str(parent)]
eventlet.sleep(0.05)
print(json.dumps(report))
