"""A real `media` Celery worker in its own process, for the media redelivery test.

Seeded like tests/e2e/worker_proc.py (the embedded store is this process's memory; on MONGO_URL the test
has seeded the shared database). With SECONDS > 0 the worker stops for that long as soon as the
thumbnails step has written every rendition to S3, before it rewrites the original and records the
step, so that the test can SIGKILL it there.
Usage: python -m tests.e2e.media_worker_proc SEED.json SECONDS_AFTER_RENDITIONS
"""
import sys
import time

from infra.blobs import S3Blobs
from pipelines.media.renditions import RENDITIONS
from tests.e2e.worker_proc import load_seed, run_worker


def main() -> None:
    seed_path, delay = sys.argv[1], float(sys.argv[2])
    load_seed(seed_path)
    if delay:
        put, renditions, written = S3Blobs.put_bytes, {r.name for r in RENDITIONS}, set()

        def slow_put(self, key, data, content_type):
            put(self, key, data, content_type)
            written.add(key.rsplit("/", 1)[1].split(".")[0])
            if renditions <= written:
                time.sleep(delay)

        S3Blobs.put_bytes = slow_put
    run_worker("media", concurrency=1)


if __name__ == "__main__":
    main()
