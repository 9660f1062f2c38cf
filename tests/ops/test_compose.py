"""docker-compose.yml and the Procfile: the monitoring services are there and closed by default (published on
the host's loopback only, a password or token required from the environment), every worker role has its
metrics port, and the services that were there stay."""
from __future__ import annotations

import re

from workers.celery_app import CPU_QUEUES, QUEUES

from tests.ops.conftest import ROOT, WORKER_ROLES, load_yaml

ORIGINAL = {"web", "redis", "mongo", "minio", *QUEUES, "beat"}


def compose() -> dict:
    return load_yaml(ROOT / "docker-compose.yml")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def test_compose_names_the_monitoring_services_and_keeps_the_others():
    services = compose()["services"]
    assert {"flower", "prometheus", "grafana"} | ORIGINAL <= set(services)
    assert "./ops/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


def test_monitoring_is_published_on_loopback_only():
    services = compose()["services"]
    for name in ("flower", "prometheus", "grafana"):
        for port in services[name]["ports"]:
            assert port.startswith("127.0.0.1:"), (name, port)


def test_secrets_come_from_the_environment_and_are_required():
    services = compose()["services"]
    required = re.compile(r"^\$\{[A-Z_]+:\?.+\}$")  # compose refuses to start when it is unset
    assert required.match(services["web"]["environment"]["METRICS_TOKEN"])
    assert required.match(services["flower"]["environment"]["FLOWER_BASIC_AUTH"])
    grafana = services["grafana"]["environment"]
    assert required.match(grafana["GF_SECURITY_ADMIN_PASSWORD"])
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_worker_roles_get_their_metrics_listener():
    services = compose()["services"]
    for role in WORKER_ROLES:
        env = services[role]["environment"]
        assert env["METRICS_PORT"] == "9100" and env["METRICS_BIND"] == "0.0.0.0", role
        assert env["METRICS_TOKEN"] == services["web"]["environment"]["METRICS_TOKEN"], role
        assert "ports" not in services[role], role  # reached over the compose network only
    assert "METRICS_PORT" not in services["web"]["environment"]  # the web answers on its own port
    for role in CPU_QUEUES:
        path = services[role]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert services[role]["tmpfs"] == [path], role  # exists before the process imports infra.metrics


def test_procfile_roles_have_their_own_metrics_port_and_flower():
    roles = procfile()
    ports = {role: re.search(r"\bMETRICS_PORT=(\d+) ", roles[role]) for role in WORKER_ROLES}
    assert all(ports.values()), ports
    assert len({m.group(1) for m in ports.values()}) == len(WORKER_ROLES)  # one host: a port each
    for role in CPU_QUEUES:  # prefork: multiprocess mode, in a directory of its own that exists first
        (path,) = re.findall(r"PROMETHEUS_MULTIPROC_DIR=(\S+)", roles[role])
        assert roles[role].startswith(f"mkdir -p {path} && "), role
    assert roles["flower"] == "celery -A workers flower --conf=ops/flower/flowerconfig.py"
    assert "METRICS_PORT" not in roles["web"]
