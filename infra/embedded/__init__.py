"""The embedded default: what runs the whole system in one process on one machine (an in-memory store with
its indexes and text search, CPU child processes and forks, loop priority, and the redis-server and moto S3
launchers). Entered only from the composition root (infra/runtime.py)."""
