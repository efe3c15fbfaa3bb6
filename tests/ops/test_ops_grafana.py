"""The Grafana dashboard: fixed uid, the rows the issue asks for, and every query naming
only metrics the daemon exports (or recording rules of rules.yml built on them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from opskit import DASHBOARD, OPS, README, metric_names, unknown_names, walk_panels

DASH: dict[str, Any] = json.loads(DASHBOARD.read_text())
PANELS = [p for p in walk_panels(DASH["panels"]) if p["type"] != "row"]
ROWS = [p for p in DASH["panels"] if p["type"] == "row"]


def _queries() -> list[tuple[str, str]]:
    found = [(p["title"], t["expr"]) for p in PANELS for t in p.get("targets", [])]
    for variable in DASH["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found.append((f"${variable['name']}", query["query"]))
        elif variable["type"] == "query":
            found.append((f"${variable['name']}", str(query)))
    return found


def test_dashboard_has_a_fixed_uid_and_the_rows() -> None:
    assert DASH["uid"] == "dialer-overview"
    assert [r["title"] for r in ROWS] == ["Pacing", "Collectors", "Cases", "Daemon"]
    ids = [p["id"] for p in walk_panels(DASH["panels"])]
    assert len(ids) == len(set(ids)), "panel ids are unique"


@pytest.mark.parametrize(("where", "expr"), _queries(), ids=lambda v: str(v)[:60])
def test_query_names_only_exported_metrics(where: str, expr: str) -> None:
    assert metric_names(expr), f"{where}: a query names at least one metric"
    assert unknown_names(expr) == set(), where


def test_rows_cover_what_the_issue_asks() -> None:
    by_row: dict[str, set[str]] = {}
    row = ""
    for panel in DASH["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            continue
        for target in panel.get("targets", []):
            by_row.setdefault(row, set()).update(metric_names(target["expr"]))
    wanted = {
        "Pacing": {
            "campaign:dialer_calls_originated:rate1m",
            "campaign:dialer_live_answers:rate1m",
            "campaign:dialer_calls_abandoned:rate1m",
            "campaign:dialer_abandon_rate_window:ratio",
            "campaign:dialer_abandon_cap:ratio",
            "campaign:dialer_abandon_budget_remaining:ratio",
            "dialer_pacing_threshold",
            "dialer_predicted_free_collectors",
        },
        "Collectors": {
            "campaign:dialer_collectors:sum",
            "campaign:dialer_occupancy:ratio",
            "campaign:dialer_talk_minutes_per_collector_hour:rate1h",
        },
        "Cases": {
            "campaign:dialer_hopper_cases:sum",
            "dialer_hopper_empty_reason",
            "campaign:dialer_reassignments:increase1h",
        },
        "Daemon": {
            "instance:dialer_event_loop_lag_seconds:p99_1m",
            "dialer_trunk_registered",
            "instance:dialer_calls_originated:rate1m",
            "dialer_db_pool_checked_out_connections",
            "instance:dialer_db_pool_usage:ratio",
        },
    }
    for row_title, names in wanted.items():
        assert names <= by_row[row_title], (row_title, names - by_row[row_title])


@pytest.mark.parametrize("panel", PANELS, ids=lambda p: p["title"])
def test_panel_is_described_here_and_in_the_readme(panel: dict[str, Any]) -> None:
    assert panel["description"].strip()
    assert panel["datasource"]["uid"] == "${datasource}"
    assert f"**{panel['title']}**" in README.read_text(), "ops/README.md describes the panel"


def test_provisioning_files_point_at_the_dashboard() -> None:
    provider = yaml.safe_load((OPS / "grafana/provisioning/dashboards/dialer.yaml").read_text())
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    source = yaml.safe_load((OPS / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert source["datasources"][0]["type"] == "prometheus"
