import math

import numpy as np
import pytest
from scipy import stats

from dialer.pacing.erlang import (
    erlang_a,
    erlang_b,
    erlang_b_load_for_blocking,
    erlang_c,
)


def erlang_b_textbook(n: int, a: float) -> float:
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms)


def test_erlang_b_published_value() -> None:
    assert erlang_b(10, 5.0) == pytest.approx(0.01838457, abs=5e-9)


@pytest.mark.parametrize(("n", "a"), [(1, 0.5), (5, 3.0), (20, 17.5), (40, 60.0)])
def test_erlang_b_matches_textbook_formula(n: int, a: float) -> None:
    assert erlang_b(n, a) == pytest.approx(erlang_b_textbook(n, a), rel=1e-12)


def test_erlang_b_edge_cases_and_large_systems() -> None:
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(7, 0.0) == 0.0
    big = erlang_b(5000, 4900.0)  # factorials would overflow here
    assert 0.0 < big < 0.05


def test_load_for_one_percent_blocking_with_15_servers() -> None:
    load = erlang_b_load_for_blocking(15, 0.01)
    assert round(load, 3) == 8.108
    assert erlang_b(15, load) == pytest.approx(0.01, rel=1e-10)


@pytest.mark.parametrize(("n", "target"), [(1, 0.5), (30, 0.02), (200, 0.001)])
def test_load_for_blocking_round_trip(n: int, target: float) -> None:
    assert erlang_b(n, erlang_b_load_for_blocking(n, target)) == pytest.approx(target, rel=1e-9)


def test_erlang_c_published_value() -> None:
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-12)


def test_erlang_c_against_closed_form_and_saturation() -> None:
    n, a = 8, 6.5
    top = a**n / math.factorial(n) * n / (n - a)
    expected = top / (sum(a**k / math.factorial(k) for k in range(n)) + top)
    assert erlang_c(n, a) == pytest.approx(expected, rel=1e-12)
    assert erlang_c(4, 4.0) == 1.0
    assert erlang_c(4, 9.0) == 1.0


def test_erlang_a_with_patience_equal_to_service_is_poisson() -> None:
    # theta == mu makes every state's death rate k mu: M/M/inf, Poisson(lambda/mu) states.
    n, lam, mu = 6, 5.0, 0.8
    res = erlang_a(n, lam, mu, mu)
    pois = stats.poisson(lam / mu)
    k = np.arange(0, 400)
    mean_queue = float(np.sum(np.maximum(k - n, 0) * pois.pmf(k)))
    assert res.p_wait == pytest.approx(pois.sf(n - 1), rel=1e-10)
    assert res.mean_queue == pytest.approx(mean_queue, rel=1e-10)
    assert res.p_abandon == pytest.approx(mu * mean_queue / lam, rel=1e-10)


@pytest.mark.parametrize(("n", "lam", "mu"), [(3, 2.0, 1.0), (10, 9.0, 1.0), (25, 2.0, 0.1)])
def test_erlang_a_approaches_erlang_c_as_patience_vanishes(n: int, lam: float, mu: float) -> None:
    res = erlang_a(n, lam, mu, 1e-9)
    c = erlang_c(n, lam / mu)
    assert res.p_wait == pytest.approx(c, rel=1e-6)
    assert res.mean_wait == pytest.approx(c / (n * mu - lam), rel=1e-5)
    assert res.p_abandon < 1e-6
    exact = erlang_a(n, lam, mu, 0.0)
    assert exact.p_wait == pytest.approx(c, rel=1e-10)
    assert exact.p_abandon == 0.0


def generator_solution(n: int, lam: float, mu: float, theta: float, states: int) -> np.ndarray:
    # Independent check: solve pi Q = 0 for the truncated chain by linear algebra.
    q = np.zeros((states, states))
    for k in range(states):
        if k + 1 < states:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, n) * mu + max(k - n, 0) * theta
        q[k, k] = -q[k].sum()
    # Balance equations are rank-deficient by one: swap one for the normalisation.
    a = q.T.copy()
    a[-1] = 1.0
    b = np.zeros(states)
    b[-1] = 1.0
    return np.linalg.solve(a, b)


@pytest.mark.parametrize(("n", "lam", "mu", "theta"), [(5, 7.0, 1.0, 0.5), (12, 10.0, 1.2, 2.0)])
def test_erlang_a_overloaded_matches_linear_algebra(
    n: int, lam: float, mu: float, theta: float
) -> None:
    pi = generator_solution(n, lam, mu, theta, 150)
    k = np.arange(pi.size)
    res = erlang_a(n, lam, mu, theta)
    assert res.p_wait == pytest.approx(pi[n:].sum(), rel=1e-8)
    queue = float(np.sum(np.maximum(k - n, 0) * pi))
    assert res.mean_queue == pytest.approx(queue, rel=1e-8)
    # Flow balance: accepted work equals completed work.
    busy = float(np.sum(np.minimum(k, n) * pi))
    assert lam * (1.0 - res.p_abandon) == pytest.approx(mu * busy, rel=1e-8)


def test_erlang_a_zero_servers_and_zero_arrivals() -> None:
    res = erlang_a(0, 3.0, 1.0, 0.5)
    assert res.p_wait == pytest.approx(1.0)
    assert res.p_abandon == pytest.approx(1.0)
    assert erlang_a(4, 0.0, 1.0, 0.0).p_wait == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: erlang_b(-1, 1.0), "servers must be >= 0"),
        (lambda: erlang_b(2.5, 1.0), "servers must be an integer"),  # type: ignore[arg-type]
        (lambda: erlang_b(True, 1.0), "servers must be an integer"),
        (lambda: erlang_b(3, -0.1), "load must be >= 0"),
        (lambda: erlang_c(3, math.nan), "load must be finite"),
        (lambda: erlang_b_load_for_blocking(10, 1.0), r"target must be in \(0, 1\)"),
        (lambda: erlang_b_load_for_blocking(0, 0.1), "servers must be >= 1"),
        (lambda: erlang_a(3, 1.0, 0.0, 1.0), "service_rate must be > 0"),
        (lambda: erlang_a(3, 1.0, 1.0, -1.0), "patience_rate must be >= 0"),
        (lambda: erlang_a(3, 4.0, 1.0, 0.0), "unstable"),
    ],
)
def test_invalid_input_raises_with_reason(call: object, match: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=match):
        call()
