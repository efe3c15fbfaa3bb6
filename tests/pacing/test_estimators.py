import math

import numpy as np
import pytest
from scipy import stats

from dialer.pacing.distributions import Exponential, Fixed, Gamma, LogNormal
from dialer.pacing.estimators import (
    BetaAnswerRate,
    CensoredLogNormal,
    EmpiricalDelay,
    GammaFit,
    HourlyAnswerRate,
    fit_gamma,
)
from dialer.pacing.talkmodel import TalkModel


def test_beta_update_is_exact_without_forgetting() -> None:
    b = BetaAnswerRate(2.0, 3.0)
    for answered in (True, False, True):
        b.update(answered)
    assert (b.alpha, b.beta) == (4.0, 4.0)
    assert b.mean == 0.5
    assert b.n_effective == 3.0
    assert b.variance == pytest.approx(16 / (64 * 9))
    for q in (0.05, 0.5, 0.95):
        assert b.quantile(q) == pytest.approx(stats.beta.ppf(q, 4.0, 4.0), abs=1e-12)


def test_beta_forgetting_discounts_observations_not_the_prior() -> None:
    b = BetaAnswerRate(1.0, 1.0, forgetting=0.5)
    b.update(True)  # s = 1
    b.update(True)  # s = 0.5 + 1
    b.update(False)  # s = 0.75, f = 1
    assert b.alpha == pytest.approx(1.75)
    assert b.beta == pytest.approx(2.0)
    assert b.n_effective == pytest.approx(1.75)
    for _ in range(200):
        b.update(False)
    assert b.n_effective == pytest.approx(2.0)  # bounded by 1 / (1 - forgetting)
    assert b.alpha == pytest.approx(1.0)  # old successes forgotten, the prior stays
    assert b.mean == pytest.approx(1.0 / 4.0)


def test_beta_forgetting_tracks_a_change_in_answer_rate() -> None:
    rng = np.random.default_rng(7)
    fast = BetaAnswerRate(forgetting=0.99)
    slow = BetaAnswerRate()
    for p in (0.8, 0.2):
        for answered in rng.random(2000) < p:
            fast.update(bool(answered))
            slow.update(bool(answered))
    assert fast.mean == pytest.approx(0.2, abs=0.07)
    assert slow.mean == pytest.approx(0.5, abs=0.05)


def test_beta_validation() -> None:
    with pytest.raises(ValueError, match="prior_a"):
        BetaAnswerRate(0.0, 1.0)
    with pytest.raises(ValueError, match="forgetting"):
        BetaAnswerRate(forgetting=1.5)
    with pytest.raises(ValueError, match="q must be"):
        BetaAnswerRate().quantile(1.1)


def test_hourly_uses_the_hour_once_it_has_enough_data() -> None:
    h = HourlyAnswerRate(min_obs=10)
    for _ in range(30):
        h.update(False, hour=9)
    for _ in range(5):
        h.update(True, hour=18)
    # Hour 18 has 5 < 10 observations: falls back to the global posterior.
    assert h.posterior(18) is h.global_
    assert h.mean(18) == pytest.approx(6 / 37)
    assert h.posterior(9) is h.hours[9]
    assert h.mean(9) == pytest.approx(1 / 32)
    assert h.quantile(9, 0.5) < h.quantile(18, 0.5)
    with pytest.raises(ValueError, match="hour"):
        h.update(True, hour=24)


def censored_talks(
    rng: np.random.Generator, n: int, mu: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Talks starting uniformly over a window and observed at its end: those still going are
    censored at their elapsed time. The censoring time is independent of the duration, as the
    likelihood assumes (censoring at a fraction of the true duration would not be)."""
    talk = rng.lognormal(mu, sigma, n)
    window = 600.0  # puts ~30% of talks still in progress at the end
    start = rng.uniform(0.0, window, n)
    running = start + talk > window
    return talk[~running], window - start[running]


def test_censored_fit_recovers_parameters_where_naive_fits_are_biased() -> None:
    rng = np.random.default_rng(11)
    complete, censored = censored_talks(rng, 5000, 5.0, 0.6)
    share = censored.size / 5000
    assert 0.25 < share < 0.35
    mu, sigma = CensoredLogNormal.fit(complete, censored)
    assert mu == pytest.approx(5.0, abs=0.05)
    assert sigma == pytest.approx(0.6, abs=0.05)
    # Dropping the talks in progress keeps only the ones short enough to finish ...
    dropped = np.log(complete)
    assert 5.0 - dropped.mean() > 0.1
    # ... and counting them as finished at their elapsed time is worse.
    as_is = np.log(np.concatenate([complete, censored]))
    assert 5.0 - as_is.mean() > 0.2


def test_censored_fit_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(12)
    complete, censored = censored_talks(rng, 300, 5.0, 0.6)
    lc, lr = np.log(complete), np.log(censored)
    mu, log_s, eps = 4.8, math.log(0.7), 1e-6
    _, grad = CensoredLogNormal.neg_log_likelihood(mu, math.exp(log_s), lc, lr)

    def f(m: float, ls: float) -> float:
        return CensoredLogNormal.neg_log_likelihood(m, math.exp(ls), lc, lr)[0]

    d_mu = (f(mu + eps, log_s) - f(mu - eps, log_s)) / (2 * eps)
    d_ls = (f(mu, log_s + eps) - f(mu, log_s - eps)) / (2 * eps)
    np.testing.assert_allclose(grad, [d_mu, d_ls], rtol=1e-5)


def test_censored_fit_without_censoring_is_the_log_moments() -> None:
    x = np.random.default_rng(13).lognormal(3.0, 0.4, 1000)
    mu, sigma = CensoredLogNormal.fit(x, [0.0, -1.0])  # non-positive elapsed: no information
    assert mu == pytest.approx(np.log(x).mean())
    assert sigma == pytest.approx(np.log(x).std())
    with pytest.raises(ValueError, match="at least 2"):
        CensoredLogNormal.fit([1.0], [2.0])
    with pytest.raises(ValueError, match="> 0"):
        CensoredLogNormal.fit([1.0, 0.0], [])


def test_talk_model_uses_prior_then_refits_lazily() -> None:
    prior = LogNormal(120.0, 1.0)
    model = TalkModel(prior, window=500, refit_every=50, min_complete=30)
    rng = np.random.default_rng(14)
    for x in rng.lognormal(5.0, 0.6, 29):
        model.observe(float(x))
    assert model.distribution() is prior
    model.observe(150.0)
    first = model.distribution()
    assert first is not prior
    model.observe(150.0)
    assert model.distribution() is first  # no refit until refit_every new observations
    complete, censored = censored_talks(rng, 2000, 5.0, 0.6)
    for x in complete:
        model.observe(float(x))
    assert model.n_complete == 500
    fitted = model.distribution(in_progress=censored[: censored.size // 4])
    assert model.family == "lognormal"
    assert isinstance(fitted, LogNormal)
    assert fitted.mu == pytest.approx(5.0, abs=0.15)
    assert fitted.sigma == pytest.approx(0.6, abs=0.1)
    model.observe(0.0)  # instant hang-up: clamped to the floor, no crash
    for bad in ({"window": 1}, {"refit_every": 0}, {"floor": 0.0}):
        with pytest.raises(ValueError):
            TalkModel(prior, **bad)  # type: ignore[arg-type]


def test_fit_gamma_recovers_parameters() -> None:
    x = np.random.default_rng(15).gamma(2.5, 8.0, 20_000)
    shape, scale = fit_gamma(x)
    assert shape == pytest.approx(2.5, rel=0.04)
    assert scale == pytest.approx(8.0, rel=0.04)
    mle = stats.gamma.fit(x, floc=0)
    assert shape == pytest.approx(mle[0], rel=1e-6)
    with_zeros = np.concatenate([x, [0.0]])
    shape0, scale0 = fit_gamma(with_zeros)  # method of moments
    assert shape0 * scale0 == pytest.approx(with_zeros.mean())
    with pytest.raises(ValueError, match="degenerate"):
        fit_gamma([3.0, 3.0, 3.0])


def test_gamma_fit_online() -> None:
    prior = Gamma(30.0, 1.0)
    fit = GammaFit(prior, window=1000, min_obs=30)
    assert fit.distribution() is prior
    for x in np.random.default_rng(16).gamma(4.0, 5.0, 3000):
        fit.observe(float(x))
    d = fit.distribution()
    assert isinstance(d, Gamma)
    assert fit.n == 1000
    assert d.mean() == pytest.approx(20.0, rel=0.05)
    assert d.cv() == pytest.approx(0.5, rel=0.08)
    zeros = GammaFit(prior, min_obs=2)
    for _ in range(5):
        zeros.observe(0.0)
    assert zeros.distribution() == Fixed(0.0)


def test_empirical_delay_step_function_with_ties() -> None:
    e = EmpiricalDelay(window=4)
    for x in (9.0, 1.0, 2.0, 2.0, 3.0):  # the 9 falls out of the window
        e.observe(x)
    assert e.n == 4
    np.testing.assert_allclose(
        e.cdf([0.5, 1.0, 1.999, 2.0, 3.0, 10.0]), [0, 0.25, 0.25, 0.75, 1, 1]
    )
    np.testing.assert_allclose(e.sf([0.0, 2.0, 2.5]), [1.0, 0.25, 0.25])
    assert e.mean() == 2.0
    e.observe(0.0)
    assert float(e.sf(1.5)) == 0.75  # the cached sort is refreshed


def test_empirical_delay_fallback_and_validation() -> None:
    e = EmpiricalDelay(fallback=Exponential(10.0), min_obs=3)
    e.observe(1.0)
    assert float(e.sf(10.0)) == pytest.approx(math.exp(-1.0))
    assert e.mean() == 10.0
    with pytest.raises(ValueError, match="no fallback"):
        EmpiricalDelay().cdf(1.0)
    with pytest.raises(ValueError, match="delay"):
        e.observe(-1.0)
