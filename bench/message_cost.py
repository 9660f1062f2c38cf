"""CPU per message of the message path's two halves, in one process: accepting a send (``submit_message``:
validation done, membership, the write gate, the inbox append) and storing it (``drain_inbox``: the embedded
store's writes, the events). A recording emitter stands in for the Socket.IO fan-out.

- By default a memory inbox stands in for Redis and no rate limit is counted, so what is timed is this
  project's own code and the embedded store.
- ``--redis``: a real redis-server (the embedded launcher), the real inbox, and the send rate limit at its
  default counted in Redis (the sends spread over 100 senders, each under it), as the web process and the
  drain meet them; the Redis client's work is then in the figure (not redis-server's, another process).
  Without eventlet, so green switches are not.

    .venv/bin/python bench/message_cost.py                 # 2,000 messages, 5 repeats
    .venv/bin/python bench/message_cost.py --redis         # the same through Redis
    .venv/bin/python bench/message_cost.py --redis --batch 1   # a drain storing one entry at a time
    .venv/bin/python bench/message_cost.py --messages 5000 --repeats 7

Each repeat uses a fresh database; the table gives the best repeat (the least disturbed by the machine's
other work) and the median, in µs of process CPU time per message. Writes bench/results/message_cost.json.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load.report import RESULTS_DIR, code_version, machine_info, print_table, write_json  # noqa: E402
from infra.config import Settings  # noqa: E402
from infra.embedded.mongo import embedded_client  # noqa: E402
from infra.embedded.redis_server import RedisServer  # noqa: E402
from infra.inbox import Inbox  # noqa: E402
from infra.runtime import Runtime  # noqa: E402
from infra.storage import Store  # noqa: E402
from pipelines.events import Notifier  # noqa: E402
from pipelines.messages.drain import drain_inbox  # noqa: E402
from pipelines.messages.submit import submit_message  # noqa: E402
from pipelines.policy.gate import Gate  # noqa: E402
from schemas.payloads import MessageSend  # noqa: E402
from tests.conftest import make_conversation, make_user  # noqa: E402
from tests.fakes import MemoryInbox, RecordingEmitter  # noqa: E402


SENDERS = 100  # --redis: each under the default send rate limit for the repeat


def one_repeat(messages: int, redis_url: str | None = None, batch: int = 50) -> tuple[float, float]:
    """(µs per accepted send, µs per stored message) for ``messages`` sends into one conversation."""
    store = Store(embedded_client()[f"cost{uuid.uuid4().hex}"])
    store.ensure_indexes()
    notifier = Notifier(RecordingEmitter())
    senders = [make_user(store, f"user{i}") for i in range(SENDERS if redis_url else 2)]
    conv = make_conversation(store, senders)
    inbox, gate = (MemoryInbox(), Gate(store)) if redis_url is None else _through_redis(store, redis_url)
    sends = [MessageSend(convId=conv.id, clientId=f"c{i}", content=f"message number {i}") for i in range(messages)]
    gc.collect()
    began = time.process_time()
    writers = senders if redis_url else senders[:1]
    for i, send in enumerate(sends):
        submit_message(store, inbox, lambda conv_id: None, writers[i % len(writers)], send, gate=gate)
    accepted = time.process_time()
    result = drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda conv_id: None,
                         batch=batch, budget_seconds=3600, linger_ms=0)
    stored = time.process_time()
    if len(result.stored) != messages:
        raise SystemExit(f"stored {len(result.stored)} of {messages}: the measure is void")
    return (accepted - began) / messages * 1e6, (stored - accepted) / messages * 1e6


def _through_redis(store: Store, url: str) -> tuple[Inbox, Gate]:
    """The real inbox and the send rate limit kept in Redis, as the composition root builds them."""
    rt = Runtime(Settings(redis_url=url))
    return rt.inbox, Gate(store, rt.rate_limits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--redis", action="store_true", help="through a real redis-server: inbox and rate limit")
    parser.add_argument("--batch", type=int, default=50,
                        help="entries a drain stores at a time (INBOX_BATCH; under light load a drain finds one)")
    args = parser.parse_args()
    server = RedisServer().start() if args.redis else None
    try:
        runs = [one_repeat(args.messages, server.url if server else None, args.batch) for _ in range(args.repeats)]
    finally:
        if server is not None:
            server.stop()
    accept, store = [a for a, _ in runs], [s for _, s in runs]
    rows = [("messages per repeat", args.messages), ("repeats", args.repeats), ("drain batch", args.batch),
            ("accept a send, µs CPU: best / median", f"{min(accept):.1f} / {statistics.median(accept):.1f}"),
            ("store a message, µs CPU: best / median", f"{min(store):.1f} / {statistics.median(store):.1f}")]
    inbox = "redis-server inbox and rate limit" if args.redis else "memory inbox"
    print_table(f"== message cost (in process: embedded store, {inbox}) ==", rows)
    write_json(RESULTS_DIR / f"message_cost{'_redis' if args.redis else ''}{'' if args.batch == 50 else f'_batch{args.batch}'}.json", {
        "machine": machine_info(), "code": code_version(), "params": vars(args),
        "runs_us": [{"accept": a, "store": s} for a, s in runs],
        "best_us": {"accept": min(accept), "store": min(store)},
        "median_us": {"accept": statistics.median(accept), "store": statistics.median(store)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
