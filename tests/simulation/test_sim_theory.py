"""The simulator against theory: progressive occupancy h/(h + d/p), manual dialing, and the
blind Poisson dialer's abandon rate against Erlang B."""

from __future__ import annotations

import pytest
from sim_helpers import make_scenario

from dialer.pacing.erlang import erlang_b
from simulation.report import mean_ci
from simulation.run import run_replication
from simulation.scenario import Scenario
from simulation.theory import (
    blind_abandon_rate,
    manual_occupancy,
    manual_overhead_for_gain,
    progressive_occupancy,
    progressive_occupancy_finite,
)


def _occupancies(scenario: Scenario, pacer: str, reps: int, seed: int = 11) -> list[float]:
    return [run_replication(scenario, pacer, seed, r).occupancy for r in range(reps)]


def test_closed_forms_by_hand() -> None:
    s1 = make_scenario()
    steady = progressive_occupancy(s1)
    assert steady == pytest.approx(180 / 230)
    assert manual_occupancy(s1) == pytest.approx(180 / (180 + 25 / 0.3))
    assert blind_abandon_rate(s1, 0.1) == pytest.approx(erlang_b(5, 0.1 * 0.3 * 180))
    # The transient (everyone idle at login) costs a little over a short shift only.
    assert steady is not None and progressive_occupancy_finite(s1, hours=8) < steady + 1e-12
    assert progressive_occupancy_finite(s1, hours=8) == pytest.approx(180 / 230, rel=2e-3)
    assert progressive_occupancy(make_scenario(ring_timeout=30)) is None
    assert progressive_occupancy(make_scenario(answer_probability=[0.3])) is not None


def test_progressive_matches_the_closed_form_exponential() -> None:
    scenario = make_scenario(collectors=20, shift_hours=8)
    ci = mean_ci(_occupancies(scenario, "progressive", reps=8))
    closed = progressive_occupancy(scenario)
    assert closed is not None and closed == pytest.approx(0.7826, abs=1e-4)
    assert ci.low <= closed <= ci.high, (ci, closed)
    expected = progressive_occupancy_finite(scenario)
    assert ci.low <= expected <= ci.high, (ci, expected)
    assert ci.half_width < 0.006  # the check means something


def test_progressive_closed_form_holds_for_general_delays() -> None:
    # b1's shapes: bimodal answer delays, a fixed 25 s no-answer, lognormal talk, gamma wrap.
    scenario = make_scenario(
        collectors=20,
        shift_hours=4,
        answer_delay={
            "dist": "mixture",
            "components": [
                {"weight": 0.7, "dist": "uniform", "low": 6, "high": 10},
                {"weight": 0.3, "dist": "uniform", "low": 18, "high": 22},
            ],
        },
        failure_delay={
            "dist": "mixture",
            "components": [
                {"weight": 0.4, "dist": "fixed", "value": 25},
                {"weight": 0.6, "dist": "exponential", "mean": 3},
            ],
        },
        talk={"dist": "lognormal", "mean": 150, "cv": 1.0},
        wrap={"dist": "gamma", "mean": 30, "cv": 0.5},
        connect_grace=2,
    )
    ci = mean_ci(_occupancies(scenario, "progressive", reps=8))
    closed = progressive_occupancy(scenario)
    assert closed is not None
    # Half a talk's worth of transient per collector at login: allow 0.3% below.
    assert ci.low - 0.003 <= closed <= ci.high + 1e-9, (ci, closed)


def test_manual_dialing_matches_its_closed_form() -> None:
    scenario = make_scenario(collectors=10, shift_hours=8)
    ci = mean_ci(_occupancies(scenario, "manual", reps=6))
    closed = manual_occupancy(scenario)
    assert closed is not None
    # Same transient as progressive (about 0.15% low over 8 h).
    assert ci.low - 0.002 <= closed <= ci.high, (ci, closed)


@pytest.mark.parametrize(("collectors", "load"), [(5, 4.0), (10, 8.0)])
def test_blind_poisson_dialer_abandons_at_erlang_b(collectors: int, load: float) -> None:
    scenario = make_scenario(collectors=collectors, shift_hours=4)
    rate = load / (0.30 * 180)  # dials per second for `load` Erlangs of live answers
    runs = [run_replication(scenario, f"blind:{rate}", 5, r) for r in range(8)]
    # Pool the shifts: abandons / live answers over all of them, with a CI over shifts.
    ci = mean_ci([m.abandon_rate for m in runs])
    expected = erlang_b(collectors, load)
    assert blind_abandon_rate(scenario, rate) == pytest.approx(expected)
    assert ci.low <= expected <= ci.high, (ci, expected)
    assert ci.half_width < 0.25 * expected


def test_manual_overhead_for_the_field_claim() -> None:
    s1 = make_scenario()
    overhead = manual_overhead_for_gain(s1, 180 / 230, 0.5)
    assert overhead == pytest.approx(0.3 * 180 * (1.5 * 230 / 180 - 1) - 15)
    assert overhead is not None
    slower = make_scenario(manual_dial_overhead=overhead)
    assert manual_occupancy(slower) == pytest.approx((180 / 230) / 1.5)
