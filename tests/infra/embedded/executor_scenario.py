"""Run under eventlet's monkey patching, as the embedded web process is: the EmbeddedExecutor's calls;
prints a JSON report."""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import os  # noqa: E402

from infra.embedded.cpu import close_pool  # noqa: E402
from infra.embedded.executor import EmbeddedExecutor  # noqa: E402
from infra.executor import WorkerDied  # noqa: E402
from tests.infra.cpu_jobs import die  # noqa: E402

executor = EmbeddedExecutor(snapshots=True)
report = {"parent": os.getpid(), "shares_loop": executor.shares_loop,
          "cpu_pid": executor.run_cpu(os.getpid), "snapshot_pid": executor.run_on_snapshot(os.getpid)}
executor.give_way()
try:
    executor.run_cpu(die)
except WorkerDied as exc:
    report["died"] = type(exc).__name__
close_pool()
print(json.dumps(report))
