"""Prometheus rules: valid, unit-tested with promtool for every alert, built only on metrics
the daemon exports, and each alert with a runbook line that points into ops/README.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from opskit import (
    README,
    RULE_TESTS,
    RULES,
    SCRAPE_EXAMPLE,
    heading_anchors,
    load_rules,
    require,
    unknown_names,
)

ALERTS = [rule for rule in load_rules() if "alert" in rule]
# What the issue asks alerts for, by the alert that covers it.
REQUIRED_ALERTS = {
    "DialerAbandonRateApproachingCap",
    "DialerAbandonRateOverCap",
    "DialerAbandonBudgetNearlySpent",
    "DialerAnswerToBridgeSlow",
    "DialerHopperEmpty",
    "DialerNoDials",
    "DialerTrunkUnregistered",
    "DialerTrunkCommandErrors",
    "DialerCallsFailing",
    "DialerEventLoopLagHigh",
    "DialerDown",
}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = require("promtool", "Debian: apt-get install prometheus")
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.ops
def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.ops
def test_promtool_unit_tests_pass() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.ops
def test_example_scrape_config_is_valid(tmp_path: Path) -> None:
    config = SCRAPE_EXAMPLE.read_text().replace("/etc/prometheus/dialer/rules.yml", str(RULES))
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    result = _promtool("check", "config", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = yaml.safe_load(config)
    assert [job["job_name"] for job in data["scrape_configs"]] == ["dialer"]


def test_the_issue_alerts_exist() -> None:
    assert {rule["alert"] for rule in ALERTS} >= REQUIRED_ALERTS


def _alert_cases() -> dict[str, tuple[int, int]]:
    """alert -> (cases where it fires, cases where it is expected quiet) in tests.yml."""
    cases: dict[str, tuple[int, int]] = {}
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            fires, quiet = cases.get(case["alertname"], (0, 0))
            if case.get("exp_alerts"):
                fires += 1
            else:
                quiet += 1
            cases[case["alertname"]] = (fires, quiet)
    return cases


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_every_alert_has_firing_and_quiet_unit_tests(alert: dict[str, Any]) -> None:
    fires, quiet = _alert_cases().get(alert["alert"], (0, 0))
    assert fires >= 1, f"{alert['alert']}: no promtool case where it fires"
    assert quiet >= 1, f"{alert['alert']}: no promtool case where it stays quiet"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a["alert"])
def test_every_alert_has_severity_summary_and_runbook(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in {"warning", "critical"}
    annotations = alert["annotations"]
    assert annotations["summary"] and annotations["description"]
    runbook = annotations["runbook"]
    assert "\n" not in runbook, "the runbook is one line"
    match = re.search(r"ops/README\.md#([\w-]+)$", runbook)
    assert match, f"{alert['alert']}: the runbook line ends with ops/README.md#anchor"
    assert match.group(1) == alert["alert"].lower()
    assert match.group(1) in heading_anchors(README.read_text()), "README has the section"


@pytest.mark.parametrize("rule", load_rules(), ids=lambda r: r.get("alert") or r["record"])
def test_rules_use_only_exported_metrics(rule: dict[str, Any]) -> None:
    assert unknown_names(rule["expr"]) == set()
    # Queries in annotation templates too.
    for text in rule.get("annotations", {}).values():
        for name in re.findall(r"\bdialer_\w+", text):
            assert unknown_names(name) == set(), name
