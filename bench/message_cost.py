"""CPU per message of the message path's two halves, in one process and without a network: accepting a send
(``submit_message``: validation done, membership, the write gate, the inbox append) and storing it
(``drain_inbox``: the embedded store's writes, the events). A memory inbox and a recording emitter stand
in for Redis, so what is timed is this project's own code and the embedded store.

    .venv/bin/python bench/message_cost.py                 # 2,000 messages, 5 repeats
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
from infra.embedded.mongo import embedded_client  # noqa: E402
from infra.storage import Store  # noqa: E402
from pipelines.events import Notifier  # noqa: E402
from pipelines.messages.drain import drain_inbox  # noqa: E402
from pipelines.messages.submit import submit_message  # noqa: E402
from schemas.payloads import MessageSend  # noqa: E402
from tests.conftest import make_conversation, make_user  # noqa: E402
from tests.fakes import MemoryInbox, RecordingEmitter  # noqa: E402


def one_repeat(messages: int) -> tuple[float, float]:
    """(µs per accepted send, µs per stored message) for ``messages`` sends into one conversation."""
    store = Store(embedded_client()[f"cost{uuid.uuid4().hex}"])
    store.ensure_indexes()
    inbox, notifier = MemoryInbox(), Notifier(RecordingEmitter())
    alice, bob = make_user(store, "alice"), make_user(store, "bob")
    conv = make_conversation(store, [alice, bob])
    sends = [MessageSend(convId=conv.id, clientId=f"c{i}", content=f"message number {i}") for i in range(messages)]
    gc.collect()
    began = time.process_time()
    for send in sends:
        submit_message(store, inbox, lambda conv_id: None, alice, send)
    accepted = time.process_time()
    result = drain_inbox(conv.id, store=store, inbox=inbox, notifier=notifier, enqueue_drain=lambda conv_id: None,
                         batch=50, budget_seconds=3600, linger_ms=0)
    stored = time.process_time()
    if len(result.stored) != messages:
        raise SystemExit(f"stored {len(result.stored)} of {messages}: the measure is void")
    return (accepted - began) / messages * 1e6, (stored - accepted) / messages * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs = [one_repeat(args.messages) for _ in range(args.repeats)]
    accept, store = [a for a, _ in runs], [s for _, s in runs]
    rows = [("messages per repeat", args.messages), ("repeats", args.repeats),
            ("accept a send, µs CPU: best / median", f"{min(accept):.1f} / {statistics.median(accept):.1f}"),
            ("store a message, µs CPU: best / median", f"{min(store):.1f} / {statistics.median(store):.1f}")]
    print_table("== message cost (in process: embedded store, memory inbox) ==", rows)
    write_json(RESULTS_DIR / "message_cost.json", {
        "machine": machine_info(), "code": code_version(), "params": vars(args),
        "runs_us": [{"accept": a, "store": s} for a, s in runs],
        "best_us": {"accept": min(accept), "store": min(store)},
        "median_us": {"accept": statistics.median(accept), "store": statistics.median(store)}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
