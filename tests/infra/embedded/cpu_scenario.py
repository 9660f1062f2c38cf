"""Run under eventlet's monkey patching, as the embedded web process is: prints a JSON report."""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from infra.embedded.cpu import CpuPool, CpuWorkerDied, preload  # noqa: E402
from tests.infra.cpu_jobs import burn, burn_span, die, fail, has_module, lag_during, scheduling  # noqa: E402


report = {"parent": os.getpid(), "priority": os.getpriority(os.PRIO_PROCESS, 0)}
# Warmed ahead of use: every child started, each with the module loaded, and those are the ones used.
warmed = CpuPool(size=2, timeout=60)
report["warmed"] = sorted(warmed.warm(preload, ("colorsys",)))
report["after_warm"] = sorted(g.wait() for g in [eventlet.spawn(warmed.run, has_module, "colorsys")
                                                 for _ in range(2)])
warmed.close()

pool = CpuPool(size=int(sys.argv[1]), timeout=float(sys.argv[2]))
report["child_scheduling"] = pool.run(scheduling)
report["pool_lag_ms"], report["pool_pid"] = lag_during(lambda: pool.run(burn, 0.6))
report["direct_lag_ms"], _ = lag_during(lambda: burn(0.6))
try:
    pool.run(fail, "bad input")
except ValueError as exc:
    report["error"] = str(exc)
try:
    pool.run(die)
except CpuWorkerDied:
    report["died"] = True
report["after_death_pid"] = pool.run(burn, 0.01)
try:
    pool.run(burn, 5)
except CpuWorkerDied:
    report["timed_out"] = True
pool.timeout = 60  # a loaded machine may take its time; only the stuck call above had to time out
spans = [g.wait() for g in [eventlet.spawn(pool.run, burn_span, 0.3) for _ in range(4)]]
report["distinct_children"] = len({pid for pid, _, _ in spans})
# How many calls were running at once in the children, at most: the pool's size bounds it.
report["most_at_once"] = max(sum(1 for _, s, e in spans if s <= t < e) for _, t, _ in spans)
pool.close()
print(json.dumps(report))
