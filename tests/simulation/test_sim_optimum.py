"""The exact CMDP optimum of the exponential model reproduces the issue's figures."""

from __future__ import annotations

import itertools
import math

import pytest

from simulation.optimum import optimal_policy
from simulation.theory import S1_OPTIMUM_AT_CAP


@pytest.mark.parametrize("collectors", [5, 10])
def test_reproduces_the_published_optimum(collectors: int) -> None:
    optimum = optimal_policy(collectors, 0.03)
    assert optimum.occupancy == pytest.approx(S1_OPTIMUM_AT_CAP[collectors], abs=5e-5)
    # The cap binds: a better policy would always spend the whole allowance.
    assert optimum.abandon_rate == pytest.approx(0.03, abs=1e-6)


def test_structure_of_the_optimum() -> None:
    optimum = optimal_policy(10, 0.03)
    visited = [t for t in optimum.target if not math.isnan(t)]
    # Nothing launched with every collector busy; more calls the more collectors are idle.
    assert optimum.target[10] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(visited))


def test_a_tighter_cap_costs_occupancy_but_never_below_progressive() -> None:
    loose, tight = optimal_policy(5, 0.05), optimal_policy(5, 0.01)
    assert tight.occupancy < optimal_policy(5, 0.03).occupancy < loose.occupancy
    # Progressive (one call per idle collector) never drops a call: the optimum at any cap
    # is at least its closed form h / (h + d / p) = 180 / 230.
    assert tight.occupancy > 180.0 / 230.0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        optimal_policy(0, 0.03)
    with pytest.raises(ValueError):
        optimal_policy(5, 1.5)
