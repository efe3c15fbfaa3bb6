import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.pacing.availability import (
    ResidualModel,
    free_count_pmf,
    poisson_binomial_cdf_normal,
    poisson_binomial_pmf,
    prob_free_at_least,
    residual_free_probability,
    residual_model,
    ring_answer_probabilities,
)
from dialer.pacing.distributions import (
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Mixture,
    Uniform,
)
from dialer.pacing.estimators import EmpiricalDelay

ELAPSED = np.array([0.0, 5.0, 60.0, 170.0, 900.0, 5000.0])
NO = np.zeros(ELAPSED.size, dtype=bool)
YES = np.ones(ELAPSED.size, dtype=bool)


def test_exponential_talk_is_memoryless() -> None:
    p = residual_free_probability(ELAPSED, 15.0, Exponential(100.0), Fixed(0.0), NO)
    np.testing.assert_allclose(p, 1.0 - math.exp(-0.15), rtol=1e-12)


def test_exponential_talk_and_wrap_is_hypoexponential_at_any_elapsed() -> None:
    h, l1, l2 = 15.0, 1 / 100.0, 1 / 20.0
    expected = 1.0 - (l2 * math.exp(-l1 * h) - l1 * math.exp(-l2 * h)) / (l2 - l1)
    p = residual_free_probability(ELAPSED, h, Exponential(100.0), Exponential(20.0), NO)
    np.testing.assert_allclose(p, expected, atol=1e-5)


def test_fixed_talk_is_exact() -> None:
    talk = Fixed(180.0)
    p = residual_free_probability([170.0, 100.0, 165.0, 400.0], 15.0, talk, Fixed(0.0), NO[:4])
    np.testing.assert_array_equal(p, [1.0, 0.0, 1.0, 1.0])
    # 10 s of talk left plus a 10 s wrap-up does not fit in 15 s; 4 s left does.
    p = residual_free_probability([170.0, 176.0], 15.0, talk, Fixed(10.0), NO[:2])
    np.testing.assert_array_equal(p, [0.0, 1.0])
    # Remaining 10 s, then an exponential wrap-up must end within the other 5 s.
    p = residual_free_probability([170.0], 15.0, talk, Exponential(20.0), NO[:1])
    assert p[0] == pytest.approx(1.0 - math.exp(-5.0 / 20.0))


def test_fixed_wrap_is_exact() -> None:
    talk = LogNormal(180.0, 1.0)
    a = np.array([0.0, 100.0, 1000.0])
    p = residual_free_probability(a, 15.0, talk, Fixed(5.0), NO[:3])
    expected = 1.0 - talk.sf(a + 10.0) / talk.sf(a)
    np.testing.assert_allclose(p, expected, rtol=1e-10)
    assert np.all(residual_free_probability(a, 4.0, talk, Fixed(5.0), NO[:3]) == 0.0)


def test_collectors_in_wrap_up() -> None:
    wrap = Uniform(0.0, 60.0)
    p = residual_free_probability([30.0, 50.0, 0.0], 15.0, LogNormal(180.0, 1.0), wrap, YES[:3])
    np.testing.assert_allclose(p, [0.5, 1.0, 0.25])
    p = residual_free_probability(ELAPSED, 15.0, LogNormal(180.0, 1.0), Exponential(20.0), YES)
    np.testing.assert_allclose(p, 1.0 - math.exp(-0.75), rtol=1e-12)


def test_overdue_past_a_bounded_support_counts_as_finishing() -> None:
    talk = Uniform(60.0, 120.0)
    p = residual_free_probability([200.0, 200.0], 15.0, talk, Exponential(20.0), [False, True])
    assert p[0] == pytest.approx(1.0 - math.exp(-0.75), rel=1e-9)  # only the wrap-up is left
    assert p[1] == pytest.approx(1.0 - math.exp(-0.75), rel=1e-9)  # memoryless wrap-up
    p = residual_free_probability([70.0], 15.0, Uniform(0.0, 60.0), Fixed(0.0), [True])
    assert p[0] == 1.0


def conditional_monte_carlo(
    talk: Distribution, wrap: Distribution, a: float, h: float, n: int = 400_000
) -> float:
    rng = np.random.default_rng(int(a) + 99)
    t = talk.sample(rng, n)
    t = t[t > a]
    w = wrap.sample(rng, t.size)
    return float(np.mean(t - a + w <= h))


@pytest.mark.parametrize("a", [0.0, 60.0, 200.0, 500.0])
def test_lognormal_talk_gamma_wrap_against_monte_carlo(a: float) -> None:
    talk, wrap, h = LogNormal(180.0, 0.8), Gamma(12.0, 0.6), 30.0
    p = float(residual_free_probability([a], h, talk, wrap, [False])[0])
    mc = conditional_monte_carlo(talk, wrap, a, h)
    assert p == pytest.approx(mc, abs=0.004)


@pytest.mark.parametrize(
    ("talk", "wrap"),
    [
        (LogNormal(180.0, 1.0), Gamma(20.0, 0.8)),
        (Gamma(150.0, 1.5), LogNormal(10.0, 0.5)),
        (Mixture([(0.3, Exponential(20.0)), (0.7, LogNormal(200.0, 0.6))]), Uniform(0.0, 30.0)),
    ],
    ids=["lognormal-gamma", "gamma-lognormal", "mixture-uniform"],
)
@pytest.mark.parametrize("h", [2.0, 12.0])
def test_tabulation_matches_direct_evaluation(
    talk: Distribution, wrap: Distribution, h: float
) -> None:
    model = ResidualModel(talk, wrap, h)
    fine = copy.copy(model)
    fine._quad = 1024  # reference: the direct convolution with a much finer quadrature
    a = np.concatenate([np.linspace(0.0, 20.0, 81), np.linspace(20.0, 4000.0, 400), [1e5, 1e7]])
    talking = model(a, np.zeros(a.size, dtype=bool))
    np.testing.assert_allclose(talking, fine._talking_direct(a), atol=2e-4)
    wrapping = model(a, np.ones(a.size, dtype=bool))
    np.testing.assert_allclose(wrapping, model._wrapping_direct(a), atol=2e-4)
    assert np.all((talking >= 0) & (talking <= 1))


def test_models_are_cached_by_value() -> None:
    a = residual_model(LogNormal(180.0, 1.0), Gamma(20.0, 0.8), 15.0)
    assert residual_model(LogNormal(180.0, 1.0), Gamma(20.0, 0.8), 15.0) is a
    assert residual_model(LogNormal(180.0, 1.0), Gamma(20.0, 0.8), 16.0) is not a


@settings(max_examples=40, deadline=None)
@given(
    talk_mean=st.floats(5.0, 600.0),
    talk_cv=st.floats(0.2, 2.5),
    wrap_mean=st.floats(1.0, 60.0),
    elapsed=st.lists(st.floats(0.0, 5000.0), min_size=1, max_size=20),
)
def test_free_probability_is_a_probability_and_grows_with_horizon(
    talk_mean: float, talk_cv: float, wrap_mean: float, elapsed: list[float]
) -> None:
    talk, wrap = LogNormal(talk_mean, talk_cv), Gamma(wrap_mean, 0.7)
    a = np.array(elapsed)
    for in_wrap in (False, True):
        short = residual_free_probability(a, 5.0, talk, wrap, in_wrap)
        long = residual_free_probability(a, 20.0, talk, wrap, in_wrap)
        assert np.all((short >= 0) & (short <= 1))
        assert np.all(long >= short - 1e-6)


def test_deep_tail_is_finite_and_hazard_like() -> None:
    talk = LogNormal(180.0, 1.0)
    a = np.array([1e4, 1e5, 1e6])
    p = residual_free_probability(a, 15.0, talk, Fixed(0.0), NO[:3])
    assert np.all(np.isfinite(p))
    # Log-normal hazard decays in the tail: long calls get ever less likely to end soon.
    assert np.all(np.diff(p) < 0) and p[-1] > 0


def test_mixed_states_match_separate_calls() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0.0, 600.0, 500)
    w = rng.random(500) < 0.4
    talk, wrap = LogNormal(180.0, 1.0), Gamma(20.0, 0.8)
    mixed = residual_free_probability(a, 10.0, talk, wrap, w)
    np.testing.assert_array_equal(mixed[w], residual_free_probability(a[w], 10.0, talk, wrap, True))
    np.testing.assert_array_equal(
        mixed[~w], residual_free_probability(a[~w], 10.0, talk, wrap, False)
    )


def test_shapes_are_preserved() -> None:
    talk, wrap = LogNormal(180.0, 1.0), Gamma(20.0, 0.8)
    scalar = residual_free_probability(100.0, 15.0, talk, wrap, False)
    assert scalar.shape == ()
    grid = residual_free_probability(np.full((2, 3), 50.0), 15.0, talk, wrap, True)
    assert grid.shape == (2, 3)
    assert residual_free_probability([], 15.0, talk, wrap, []).shape == (0,)


def test_residual_validation() -> None:
    with pytest.raises(ValueError, match="finite"):
        residual_free_probability([math.nan], 10.0, Exponential(1.0), Fixed(0.0), [False])
    with pytest.raises(ValueError, match="horizon"):
        residual_free_probability([1.0], -1.0, Exponential(1.0), Fixed(0.0), [False])
    zero = residual_free_probability([1.0, 2.0], 0.0, LogNormal(5.0, 1.0), Gamma(2.0, 1.0), NO[:2])
    np.testing.assert_array_equal(zero, 0.0)


def brute_force_pmf(p: np.ndarray) -> np.ndarray:
    out = np.zeros(p.size + 1)
    for bits in itertools.product((0, 1), repeat=p.size):
        b = np.array(bits, dtype=bool)
        out[b.sum()] += np.prod(np.where(b, p, 1.0 - p))
    return out


@pytest.mark.parametrize("n", range(11))
def test_poisson_binomial_matches_enumeration(n: int) -> None:
    rng = np.random.default_rng(n)
    p = rng.random(n)
    if n >= 4:
        p[:2] = [0.0, 1.0]  # certain outcomes take the shortcut
    expected = brute_force_pmf(p)
    np.testing.assert_allclose(poisson_binomial_pmf(p), expected, atol=1e-14)
    for idle in (0, 2):
        for k in range(idle + n + 2):
            tail = expected[max(k - idle, 0) :].sum() if k - idle <= n else 0.0
            assert prob_free_at_least(idle, p, k) == pytest.approx(tail, abs=1e-14)
        pmf = free_count_pmf(idle, p)
        assert pmf.size == idle + n + 1
        np.testing.assert_allclose(pmf[idle:], expected, atol=1e-14)


def test_normal_approximation_for_large_teams() -> None:
    p = np.random.default_rng(21).uniform(0.05, 0.6, 300)
    exact = np.cumsum(poisson_binomial_pmf(p))
    k = np.arange(301)
    approx = poisson_binomial_cdf_normal(p, k)
    assert np.max(np.abs(approx - exact)) < 0.01
    pmf = free_count_pmf(3, p)  # 300 > 64: approximated
    assert pmf.size == 304 and pmf.sum() == pytest.approx(1.0)
    assert np.all(pmf[:3] == 0.0)
    assert prob_free_at_least(3, p, 3 + 90) == pytest.approx(1 - exact[89], abs=0.01)
    assert float(poisson_binomial_cdf_normal([0.0, 1.0, 1.0], 1)) == 0.0
    assert float(poisson_binomial_cdf_normal([0.0, 1.0, 1.0], 2)) == 1.0


@given(st.lists(st.floats(0.0, 1.0), max_size=40))
def test_poisson_binomial_moments(p: list[float]) -> None:
    pmf = poisson_binomial_pmf(p)
    k = np.arange(pmf.size)
    assert np.all(pmf >= -1e-15)
    assert pmf.sum() == pytest.approx(1.0)
    assert float(k @ pmf) == pytest.approx(sum(p), abs=1e-9)


def test_poisson_binomial_validation() -> None:
    with pytest.raises(ValueError, match="probabilities"):
        poisson_binomial_pmf([0.5, 1.2])
    with pytest.raises(ValueError, match="idle"):
        free_count_pmf(-1, [0.5])


def test_ring_probabilities_with_exponential_delays() -> None:
    p, ma, mf, h = 0.3, 8.0, 20.0, 5.0
    e = np.array([0.0, 4.0, 15.0, 40.0])
    eventually, within = ring_answer_probabilities(e, p, Exponential(ma), Exponential(mf), h)
    sa, sf = np.exp(-e / ma), np.exp(-e / mf)
    ringing = p * sa + (1 - p) * sf
    np.testing.assert_allclose(eventually, p * sa / ringing, rtol=1e-12)
    np.testing.assert_allclose(within, p * sa * (1 - math.exp(-h / ma)) / ringing, rtol=1e-12)
    # Long-ringing calls are mostly the ones that will end without an answer.
    assert np.all(np.diff(eventually) < 0)
    assert eventually[0] == pytest.approx(p)


def test_ring_probabilities_against_monte_carlo() -> None:
    rng = np.random.default_rng(5)
    n, p, h, e = 400_000, 0.25, 6.0, 10.0
    answer, failure = Gamma(9.0, 0.5), Uniform(5.0, 30.0)
    live = rng.random(n) < p
    end = np.where(live, answer.sample(rng, n), failure.sample(rng, n))
    ringing = end > e
    mc_eventually = live[ringing].mean()
    mc_within = (live & ringing & (end <= e + h)).sum() / ringing.sum()
    eventually, within = ring_answer_probabilities([e], p, answer, failure, h)
    assert eventually[0] == pytest.approx(mc_eventually, abs=0.006)
    assert within[0] == pytest.approx(mc_within, abs=0.006)


@given(
    e=st.lists(st.floats(0.0, 120.0), min_size=1, max_size=10),
    p=st.floats(0.0, 1.0),
    h=st.floats(0.0, 30.0),
)
def test_ring_within_never_exceeds_eventually(e: list[float], p: float, h: float) -> None:
    eventually, within = ring_answer_probabilities(e, p, LogNormal(8.0, 0.6), Exponential(20.0), h)
    assert np.all(within <= eventually + 1e-12)
    assert np.all((eventually >= 0) & (eventually <= 1))


def test_ring_probabilities_with_empirical_delays_and_exhausted_support() -> None:
    answer, failure = EmpiricalDelay(), EmpiricalDelay()
    for x in (3.0, 5.0, 7.0, 9.0):
        answer.observe(x)
    for x in (10.0, 20.0):
        failure.observe(x)
    eventually, within = ring_answer_probabilities(
        [0.0, 6.0, 12.0, 25.0], 0.5, answer, failure, 2.0
    )
    # At 6 s: S_a = 0.5, S_f = 1 -> ringing 0.75; answers at 7 within 2 s: mass 0.25.
    np.testing.assert_allclose(eventually, [0.5, 0.25 / 0.75, 0.0, 0.0])
    # Nobody answers before 3 s, so a new call gets no answer within 2 s.
    np.testing.assert_allclose(within, [0.0, 0.125 / 0.75, 0.0, 0.0])
    with pytest.raises(ValueError, match="p_answer"):
        ring_answer_probabilities([0.0], 1.5, answer, failure, 2.0)
