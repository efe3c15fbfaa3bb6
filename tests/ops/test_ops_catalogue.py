"""The metrics catalogue matches the code, and every metric follows the conventions."""

from __future__ import annotations

import re

import pytest
from opskit import ROOT, metric_names
from prometheus_client.parser import text_string_to_metric_families

from dialer.metrics import HOPPER_EMPTY_REASONS, Metrics
from dialer.metrics.catalogue import NOTES, UNITS, catalogue, exported_names, render

ALLOWED_LABELS = {"campaign", "outcome", "state", "reason", "command", "operation", "trunk"}


def test_committed_catalogue_is_generated_from_the_code() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == render(catalogue()), (
        "docs/metrics.md is stale: python -m dialer.metrics.catalogue > docs/metrics.md"
    )


def test_catalogue_lists_every_registered_family_once() -> None:
    metrics = Metrics()
    families = {f.name for f in metrics.registry.collect()}
    entries = catalogue(metrics)
    bases = {e.name.removesuffix("_total").removesuffix("_info") for e in entries}
    assert bases == families
    assert len(entries) == len(families)


@pytest.mark.parametrize("entry", catalogue(), ids=lambda e: e.name)
def test_metric_follows_the_conventions(entry: object) -> None:
    from dialer.metrics.catalogue import Entry

    assert isinstance(entry, Entry)
    assert entry.name.startswith("dialer_")
    assert (entry.type == "counter") == entry.name.endswith("_total")
    assert set(entry.labels) <= ALLOWED_LABELS, entry.labels
    assert not re.search(r"_(ms|milliseconds|minutes|hours|percent)\b", entry.name)
    assert entry.help.strip(), "every metric says what it means"
    if entry.type == "histogram":
        assert entry.name.endswith("_seconds")


def test_answer_to_bridge_has_a_bucket_at_exactly_two_seconds() -> None:
    metrics = Metrics()
    metrics.answer_to_bridge.labels("c1").observe(1.9)
    text = metrics.exposition().decode()
    assert 'dialer_answer_to_bridge_seconds_bucket{campaign="c1",le="2.0"} 1.0' in text


def test_issue_metrics_exist() -> None:
    names = exported_names()
    required = {
        "dialer_build_info",
        "dialer_event_loop_lag_seconds_bucket",
        "dialer_trunk_registered",
        "dialer_calls_originated_total",
        "dialer_trunk_calls_per_second_limit",
        "dialer_db_pool_checked_out_connections",
        "dialer_db_pool_max_connections",
        "dialer_hopper_cases",
        "dialer_hopper_empty_reason",
        "dialer_abandon_rate_ratio",
        "dialer_abandon_budget_remaining_ratio",
        "dialer_abandon_cap_ratio",
        "dialer_answer_to_bridge_seconds_bucket",
        "dialer_occupancy_ratio",
        "dialer_reassignments_total",
    }
    assert required <= names


def test_notes_and_units_name_real_metrics() -> None:
    names = {e.name for e in catalogue()}
    assert set(NOTES) <= names
    assert set(UNITS) <= names


def test_hopper_empty_reason_sets_one_reason_and_clears_the_rest() -> None:
    metrics = Metrics()
    metrics.set_hopper_empty("c1", "attempt_cap")
    metrics.set_hopper_empty("c1", "outside_calling_hours")
    metrics.set_hopper_empty("c2", "something new")
    values = {
        (s.labels["campaign"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        if family.name == "dialer_hopper_empty_reason"
        for s in family.samples
    }
    assert {k for k, v in values.items() if v == 1} == {
        ("c1", "outside_calling_hours"),
        ("c2", "other"),
    }
    assert len(values) == 2 * len(HOPPER_EMPTY_REASONS)
    metrics.set_hopper_empty("c1", None)
    text = metrics.exposition().decode()
    assert 'dialer_hopper_empty_reason{campaign="c1",reason="outside_calling_hours"} 0.0' in text


def test_promql_name_parser() -> None:
    expr = (
        'sum by (campaign, le) (rate(dialer_x_bucket{campaign=~"$campaign",le="2.0"}'
        "[$__rate_interval])) * 60 / on (campaign) group_left campaign:y:ratio > 0.5e3 "
        "and label_values(dialer_z, campaign)"
    )
    assert metric_names(expr) == {"dialer_x_bucket", "campaign:y:ratio", "dialer_z"}
