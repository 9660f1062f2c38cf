"""The repository's Prometheus configuration and alert rules: valid for Debian's promtool, scraping the web
and every worker role with the /metrics token from a file, and the alerts firing on the series they should."""
from __future__ import annotations

import shutil

import yaml

from tests.ops.conftest import (ALERTS_YML, OPS, PROMETHEUS_YML, ROOT, WORKER_ROLES, dashboard_exprs,
                                load_yaml)


def test_promtool_accepts_the_configuration(promtool, tmp_path):
    # promtool checks that the token file exists: the compose secret's path is swapped for a file of ours.
    token = tmp_path / "metrics_token"
    token.write_text("a-token\n")
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    config = PROMETHEUS_YML.read_text().replace("/run/secrets/metrics_token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    out = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert "1 rule files found" in out


def test_promtool_accepts_the_rules(promtool):
    out = promtool("check", "rules", str(ALERTS_YML))
    rules = sum(len(g["rules"]) for g in load_yaml(ALERTS_YML)["groups"])
    assert f"SUCCESS: {rules} rules found" in out


def test_alerts_fire_on_their_series(promtool):
    """ops/prometheus/alerts_test.yml: a web down, a dead letter, a growing backlog, a repair that never fixes."""
    out = promtool("test", "rules", "alerts_test.yml", cwd=OPS / "prometheus")
    assert "SUCCESS" in out


def test_dashboard_queries_parse(promtool, tmp_path):
    """Every panel's PromQL, as recording rules, through promtool's parser ($__rate_interval as Grafana fills it)."""
    exprs = [e.replace("$__rate_interval", "1m") for e in dashboard_exprs()]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query{i}", "expr": e}
                                                        for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(exprs)} rules found" in promtool("check", "rules", str(path))


def test_every_role_is_scraped_with_the_token_from_a_file():
    config = load_yaml(PROMETHEUS_YML)
    compose = load_yaml(ROOT / "docker-compose.yml")
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert {f"chat-{r}" for r in ("web", *WORKER_ROLES)} <= set(jobs)
    for name, job in jobs.items():
        if not name.startswith("chat-"):
            continue
        assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}, name
        (sd,) = job["dns_sd_configs"]
        (service,) = sd["names"]
        assert service == name.removeprefix("chat-") and service in compose["services"], name
        env = compose["services"][service]["environment"]
        expected = 5000 if service == "web" else int(env["METRICS_PORT"])
        assert sd["port"] == expected, name
    assert "metrics_token" in compose["services"]["prometheus"]["secrets"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}


def test_every_alert_says_what_to_do_first():
    for group in load_yaml(ALERTS_YML)["groups"]:
        for rule in group["rules"]:
            assert rule["alert"].startswith("Chat"), rule
            assert rule["labels"]["severity"] in ("page", "ticket"), rule["alert"]
            assert rule["annotations"]["summary"].strip(), rule["alert"]
            # The runbook line: what to look at first.
            assert "first" in rule["annotations"]["description"].lower(), rule["alert"]
