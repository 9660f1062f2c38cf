"""Run under eventlet's monkey patching, as the embedded web process is: prints a JSON report of when
``give_way`` lets background work go while other green threads keep the loop busy."""
import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import time  # noqa: E402

from infra.embedded.priority import give_way  # noqa: E402


def compute(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def busy(rounds: int, ends: list) -> None:
    """Interactive work that always has more to do: 1 ms on the CPU, then a yield, ``rounds`` times."""
    for _ in range(rounds):
        compute(0.001)
        eventlet.sleep(0)
    ends.append(time.perf_counter())


report = {}

# 1. While another green thread is busy, a background slice waits for it to finish.
ends: list = []
t0 = time.perf_counter()
eventlet.spawn(busy, 150, ends)
eventlet.sleep(0)
report["waited_s"] = give_way(max_wait=5.0)
report["returned_after_busy_s"] = time.perf_counter() - ends[0] if ends else None

# 2. On a loop that never idles, the wait is bounded: the slice runs anyway after max_wait.
ends = []
eventlet.spawn(busy, 1500, ends)
eventlet.sleep(0)
report["bounded_wait_s"] = give_way(max_wait=0.2)
report["busy_still_running"] = not ends
while not ends:
    eventlet.sleep(0.01)

# 3. On an idle loop, twenty callers at once all go through at once, one after another.
t0 = time.perf_counter()
eventlet.GreenPool(20).imap(lambda _: give_way(), range(20))
waits = list(eventlet.GreenPool(20).imap(lambda _: give_way(), range(20)))
report["idle_twenty_s"] = time.perf_counter() - t0
report["idle_waits_max_s"] = max(waits)
print(json.dumps(report))
