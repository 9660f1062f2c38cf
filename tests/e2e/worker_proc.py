"""A real `messages` Celery worker in its own process, for the redelivery tests.

The embedded store lives in one process's memory, so this worker seeds its own copy of the users and
conversation from a JSON file (tests.e2e.harness.dump_seed; on a real MongoDB, MONGO_URL, the test has
seeded the shared database).
Storing each message is slowed down so that the test can kill the worker while it holds messages.
Usage: python -m tests.e2e.worker_proc SEED.json SECONDS_PER_INSERT [THREADS]
"""
import sys
import time
from datetime import timezone

from bson import json_util

from infra.config import get_settings
from infra.runtime import get_runtime
from infra.storage.messages import MessagesRepo
from workers.celery_app import celery


def load_seed(seed_path: str) -> None:
    """On the embedded store, the collections the test wrote (tests.e2e.harness.dump_seed)."""
    if get_settings().embedded_store:
        store = get_runtime().store
        options = json_util.RELAXED_JSON_OPTIONS.with_options(tz_aware=True, tzinfo=timezone.utc)
        for collection, docs in json_util.loads(open(seed_path).read(), json_options=options).items():
            if docs:
                store.db[collection].insert_many(docs)


def run_worker(queue: str, concurrency: int = 4) -> None:
    celery.worker_main(["worker", "-Q", queue, "-P", "threads", "-c", str(concurrency), "--without-mingle",
                        "--without-gossip", "--without-heartbeat", "-l", "WARNING", "-n", f"test-{time.time_ns()}@%h"])


def main() -> None:
    seed_path, delay = sys.argv[1], float(sys.argv[2])
    load_seed(seed_path)
    insert = MessagesRepo.insert_message

    def slow_insert(self, message):
        time.sleep(delay)
        insert(self, message)

    MessagesRepo.insert_message = slow_insert
    run_worker("messages", int(sys.argv[3]) if len(sys.argv) > 3 else 4)


if __name__ == "__main__":
    main()
