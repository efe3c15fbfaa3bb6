"""The drop-risk model: busy collectors' residual life, ringing calls, the n-th new call.

The Poisson-binomial itself is checked against brute-force enumeration in
test_availability.py (test_poisson_binomial_matches_enumeration); the Beta update and the
censored log-normal recovery in test_estimators.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing.availability import ring_answer_probabilities
from dialer.pacing.distributions import Exponential, Gamma, LogNormal
from dialer.pacing.risk import BusyTable, RingModel, horizon_nodes, node_weights, risk_curve


def test_residual_life_hand_computed() -> None:
    # Talk exponential (rate a = 1/100), wrap-up exponential (rate b = 1/20), grace 2 s.
    # Talking: the rest of the talk (memoryless) plus a whole wrap-up must fit in t + 2:
    #   P(T + W <= h) = 1 - (b e^(-a h) - a e^(-b h)) / (b - a)
    # In wrap-up: 1 - e^(-b h), whatever the elapsed time.
    a, b = 1.0 / 100.0, 1.0 / 20.0
    nodes = np.array([5.0, 20.0])
    table = BusyTable(Exponential(100.0), Exponential(20.0), 2.0, nodes)
    p = table(np.array([0.0, 300.0, 3.0]), np.array([False, False, True]))
    for k, t in enumerate(nodes):
        h = t + 2.0
        talking = 1.0 - (b * math.exp(-a * h) - a * math.exp(-b * h)) / (b - a)
        assert p[0, k] == pytest.approx(talking, abs=2e-4)
        assert p[1, k] == pytest.approx(talking, abs=2e-4)
        assert p[2, k] == pytest.approx(1.0 - math.exp(-b * h), abs=2e-4)
    # h = 7: 1 - (0.05 e^-0.07 - 0.01 e^-0.35) / 0.04 = 0.010680...
    assert p[0, 0] == pytest.approx(0.010680, abs=2e-4)


def test_residual_table_matches_the_direct_model() -> None:
    from dialer.pacing.availability import residual_free_probability

    talk, wrap = LogNormal(150.0, 1.0), Gamma(30.0, 0.5)
    nodes = horizon_nodes()
    table = BusyTable(talk, wrap, 2.0, nodes)
    elapsed = np.array([0.0, 5.0, 40.0, 150.0, 600.0, 2.0, 25.0, 70.0])
    in_wrap = np.array([False] * 5 + [True] * 3)
    got = table(elapsed, in_wrap)
    for k, t in enumerate(nodes):
        want = residual_free_probability(elapsed, round(2 * (t + 2.0)) / 2, talk, wrap, in_wrap)
        np.testing.assert_allclose(got[:, k], want, atol=5e-3)


def test_ring_model_matches_the_availability_primitive() -> None:
    nodes = horizon_nodes()
    answer, failure = Exponential(15.0), Exponential(10.0)
    ring = RingModel(answer, failure, nodes)
    elapsed = np.array([0.0, 3.0, 12.5, 40.0])
    got = ring(elapsed, 0.3)
    for k, t in enumerate(nodes):
        _, within = ring_answer_probabilities(elapsed, 0.3, answer, failure, float(t))
        np.testing.assert_allclose(got[:, k], within, atol=1e-9)
    np.testing.assert_allclose(ring.new_call(0.3), got[0])


def test_node_weights_are_the_answer_delay_distribution() -> None:
    w = node_weights(Exponential(15.0))
    assert w.sum() == pytest.approx(1.0)
    assert w[0] == pytest.approx(1.0 - math.exp(-2.0 / 15.0))


def brute_force_risk(busy_free: list[float], ring: list[float], pi: float, c: int, m: int) -> float:
    """P(still-busy + ringing answered + other new calls answered >= c), by enumeration."""
    probs = [1.0 - q for q in busy_free] + list(ring) + [pi] * m
    total = 0.0
    for outcome in itertools.product((0, 1), repeat=len(probs)):
        weight = math.prod(p if o else 1.0 - p for p, o in zip(probs, outcome, strict=True))
        if sum(outcome) >= c:
            total += weight
    return total


@pytest.mark.parametrize("idle", [0, 1, 3])
def test_exact_risk_against_enumeration(idle: int) -> None:
    rng = np.random.default_rng(idle)
    busy = rng.random((4, 2))
    ring = rng.random((3, 2)) * 0.4
    pi = np.array([0.1, 0.25])
    w = np.array([0.3, 0.7])
    waiting = 1
    c = idle + 4 - waiting
    curve = risk_curve(1.0 - busy, ring, pi, w, c, candidates=4)
    assert curve.exact
    for m in range(4):
        want = sum(
            w[k] * brute_force_risk(list(busy[:, k]), list(ring[:, k]), pi[k], c, m)
            for k in range(2)
        )
        assert curve.risk[m] == pytest.approx(want, abs=1e-12)


def test_refined_normal_is_close_to_exact_for_a_large_team() -> None:
    rng = np.random.default_rng(7)
    nodes = 6
    busy = rng.random((120, nodes))
    ring = rng.random((200, nodes)) * 0.3
    pi = np.full(nodes, 0.15)
    w = np.full(nodes, 1.0 / nodes)
    c = int(np.mean((1 - busy).sum(0) + ring.sum(0))) + 10
    exact = risk_curve(busy, ring, pi, w, c, 30, exact_max=10_000)
    approx = risk_curve(busy, ring, pi, w, c, 30, exact_max=0)
    assert exact.exact and not approx.exact
    np.testing.assert_allclose(approx.risk, exact.risk, atol=0.01)


def test_no_capacity_means_certain_drop() -> None:
    curve = risk_curve(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(2), np.ones(2) / 2, 0, 3)
    assert list(curve.risk) == [1.0, 1.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(
    busy=st.integers(0, 12),
    ringing=st.integers(0, 20),
    idle=st.integers(0, 5),
    seed=st.integers(0, 2**16),
    exact_max=st.sampled_from([0, 1000]),
)
def test_risk_never_falls_as_calls_are_added(
    busy: int, ringing: int, idle: int, seed: int, exact_max: int
) -> None:
    rng = np.random.default_rng(seed)
    k = 4
    curve = risk_curve(
        rng.random((busy, k)),
        rng.random((ringing, k)) * 0.5,
        rng.random(k) * 0.3,
        np.full(k, 0.25),
        idle + busy,
        15,
        exact_max=exact_max,
    )
    assert np.all(np.diff(curve.risk) >= -1e-12)
    assert np.all((curve.risk >= 0) & (curve.risk <= 1))
