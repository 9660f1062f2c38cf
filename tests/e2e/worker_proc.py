"""A real `messages` Celery worker in its own process, for the redelivery tests.

The embedded store lives in one process's memory, so this worker seeds its own copy of the users and
conversation from a JSON file (on a real MongoDB, MONGO_URL, the test has seeded the shared database).
Storing each message is slowed down so that the test can kill the worker while it holds messages.
Usage: python -m tests.e2e.worker_proc SEED.json SECONDS_PER_INSERT
"""
import json
import sys
import time

from infra.config import get_settings
from infra.runtime import get_runtime
from infra.store import Store
from workers.celery_app import celery


def main() -> None:
    seed_path, delay = sys.argv[1], float(sys.argv[2])
    if get_settings().embedded_store:
        store = get_runtime().store
        for collection, docs in json.load(open(seed_path)).items():
            store.db[collection].insert_many(docs)
    insert = Store.insert_message

    def slow_insert(self, message):
        time.sleep(delay)
        insert(self, message)

    Store.insert_message = slow_insert
    celery.worker_main(["worker", "-Q", "messages", "-P", "threads", "-c", "4", "--without-mingle",
                        "--without-gossip", "--without-heartbeat", "-l", "WARNING", "-n", f"test-{time.time_ns()}@%h"])


if __name__ == "__main__":
    main()
