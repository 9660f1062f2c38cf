"""The load generator behind bench/loadgen.py: the harness (servers, REST, sockets, clock and CPU meter),
the load's shapes, one module per scenario, the checks, and the reporting (shared with the other bench
scripts)."""
