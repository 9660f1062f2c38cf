"""The Grafana dashboard and its provisioning: valid JSON, every panel titled and on the provisioned
Prometheus data source, laid out without overlaps."""
from __future__ import annotations

from tests.ops.conftest import OPS, load_dashboard, load_yaml

PROVISIONING = OPS / "grafana" / "provisioning"


def test_every_panel_has_a_title_and_the_provisioned_datasource():
    (source,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    expected = {"type": "prometheus", "uid": source["uid"]}
    dashboard = load_dashboard()
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["title"].strip(), panel["id"]
        assert panel["datasource"] == expected, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == expected and target["expr"].strip(), panel["title"]


def test_panels_do_not_overlap():
    taken: set[tuple[int, int]] = set()
    for panel in load_dashboard()["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_dashboard_provider_reads_the_mounted_folder():
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "chat.yml")["providers"]
    compose = load_yaml(OPS.parent / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./ops/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./ops/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
