"""Confidence intervals, the best-ratio search and the field-results arithmetic."""

from __future__ import annotations

import math

import pytest

from simulation.bench import FieldRow, best_ratio, ratio_grid
from simulation.report import PacerResult, format_table, mean_ci, wilson_interval
from simulation.run import ReplicationMetrics


def _rep(occupancy: float, abandon: float) -> ReplicationMetrics:
    return ReplicationMetrics(occupancy, 60 * occupancy, 20 * occupancy, abandon, 100, 30, 1)


def test_mean_ci_is_student_t() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    # t(0.975, 2) = 4.3027; sd = 1; half = 4.3027 / sqrt(3)
    assert ci.mean == 2.0
    assert ci.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert math.isinf(mean_ci([5.0]).half_width)


def test_wilson_interval_stays_in_range() -> None:
    all_held = wilson_interval(20, 20)
    assert all_held.mean == 1.0 and all_held.high == 1.0
    assert all_held.low == pytest.approx(0.8389, abs=1e-3)
    none_held = wilson_interval(0, 5)
    assert none_held.low == 0.0 and 0 < none_held.high < 0.5


def test_cap_held_and_table() -> None:
    result = PacerResult("ratio:2", 0.03, (_rep(0.8, 0.01), _rep(0.9, 0.03), _rep(0.85, 0.05)))
    assert result.cap_held == 2 and result.cap_held_fraction == pytest.approx(2 / 3)
    table = format_table("demo", [result])
    assert table.splitlines()[0].startswith("demo: 3 replication(s)")
    assert "ratio:2" in table and "0.8500 ±" in table and "67%" in table


def test_best_ratio_bisects_the_grid() -> None:
    grid = ratio_grid(0.1)
    assert grid[0] == 1.0 and grid[-1] == 4.0 and len(grid) == 31
    calls: list[float] = []

    def evaluate(k: float) -> PacerResult:
        calls.append(k)
        abandon = 0.0 if k <= 1.7 + 1e-9 else 0.05
        return PacerResult(f"ratio:{k:g}", 0.03, (_rep(0.8, abandon),))

    best, tried = best_ratio(evaluate, grid)
    assert best == pytest.approx(1.7)
    assert len(calls) <= 7 and len(set(calls)) == len(calls)
    assert set(tried) == set(calls)


def test_best_ratio_none_and_top() -> None:
    always = best_ratio(lambda k: PacerResult("r", 0.03, (_rep(0.8, 0.0),)), [1.0, 2.0, 3.0])
    assert always[0] == 3.0
    never = best_ratio(lambda k: PacerResult("r", 0.03, (_rep(0.8, 0.5),)), [1.0, 2.0])
    assert never[0] is None


def test_field_row_arithmetic() -> None:
    row = FieldRow(
        "b1", "predictive", 20, manual_talk=30.0, talk=45.0, manual_connects=10.0, connects=20.0
    )
    assert row.talk_gain == pytest.approx(0.5)
    assert row.connects_factor == pytest.approx(2.0)
    assert row.collectors_needed == pytest.approx(10.0)
