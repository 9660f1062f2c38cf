"""What the ops tests share: the repository's ops files, Debian's promtool (skipped without it on a developer's
machine, a failure when REQUIRE_PROMETHEUS is set, as in CI), and the metric names infra/metrics.py defines."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from infra import metrics

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
PROMETHEUS_YML = OPS / "prometheus" / "prometheus.yml"
ALERTS_YML = OPS / "prometheus" / "alerts.yml"
DASHBOARD = OPS / "grafana" / "dashboards" / "chat.json"
# The worker roles of the Procfile and docker-compose.yml that serve their own metrics (beat too).
WORKER_ROLES = ("messages", "media", "exports", "moderation", "notifications", "beat")
# What a name carries in the exposition beyond the metric's own name.
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"), "gauge": ("",)}


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def defined_metrics() -> dict[str, str]:
    """name → type of every metric infra/metrics.py defines, and the scrape-time gauges it lists."""
    kinds = {Counter: "counter", Gauge: "gauge", Histogram: "histogram"}
    found = {m._name: kinds[type(m)] for m in vars(metrics).values() if type(m) in kinds}
    text = Path(metrics.__file__).read_text(encoding="utf-8")
    listed = re.search(r"^# Read at scrape time.*(?:\n#.*)*", text, re.M)  # that comment, to a blank line
    assert listed, "infra/metrics.py no longer lists its scrape-time gauges under '# Read at scrape time'"
    for name in re.findall(r"chat_\w+", listed.group(0)):
        found.setdefault(name, "gauge")
    return found


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in load_dashboard()["panels"] for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    return [r["expr"] for g in load_yaml(ALERTS_YML)["groups"] for r in g["rules"]]


def promtool_binary() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("REQUIRE_PROMETHEUS"):
            pytest.fail("promtool is not installed (apt-get install prometheus), and REQUIRE_PROMETHEUS is set")
        pytest.skip("promtool is not installed (`make test` installs Debian's prometheus)")
    return found


@pytest.fixture(scope="session")
def promtool():
    """Runs promtool with the given arguments; its output, asserting it succeeded."""
    binary = promtool_binary()

    def run(*args: str, cwd: Path | None = None) -> str:
        done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr
    return run
