"""One module per scenario; each runner is ``await run(args, api, url, http, tracker, cpu) -> dict``."""
from __future__ import annotations

import functools

from bench.load.scenarios.connections import scenario_connections
from bench.load.scenarios.latency import scenario_latency
from bench.load.scenarios.moderation import scenario_moderation
from bench.load.scenarios.throughput import closed_loop_scenario
from bench.load.scenarios.typing_latency import scenario_typing

# ``--scenario all`` runs them in this order.
SCENARIOS = ("throughput", "mixed", "typing", "latency", "connections", "moderation")
RUNNERS = {"throughput": functools.partial(closed_loop_scenario, mixed=False),
           "mixed": functools.partial(closed_loop_scenario, mixed=True), "typing": scenario_typing,
           "latency": scenario_latency, "connections": scenario_connections,
           # --scenario moderation runs both, on fresh servers, and compares them
           "moderation:none": functools.partial(scenario_moderation, rules=False),
           "moderation:rules": functools.partial(scenario_moderation, rules=True)}
