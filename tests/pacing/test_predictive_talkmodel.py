"""The talk-time model: censored fits, log-normal or gamma by likelihood."""

from __future__ import annotations

import numpy as np
import pytest

from dialer.pacing.distributions import Exponential, Gamma, LogNormal
from dialer.pacing.talkmodel import TalkModel, censored_gamma_fit


def test_censored_gamma_recovers_parameters() -> None:
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 60.0, 4000)
    cut = rng.uniform(0, 400, x.size)  # observation stops at `cut` for some talks
    done = x <= cut
    k, theta, _ = censored_gamma_fit(x[done], cut[~done])
    assert k == pytest.approx(2.0, rel=0.1)
    assert theta == pytest.approx(60.0, rel=0.1)


@pytest.mark.parametrize(
    ("true", "family"),
    [(Exponential(180.0), "gamma"), (LogNormal(150.0, 1.0), "lognormal")],
)
def test_the_better_family_is_chosen(true: Exponential | LogNormal, family: str) -> None:
    rng = np.random.default_rng(2)
    model = TalkModel(LogNormal(100.0, 1.0), window=1000)
    assert model.distribution() == LogNormal(100.0, 1.0)  # the prior before 30 talks
    for x in true.sample(rng, 1000):
        model.observe(float(x))
    fit = model.distribution(true.sample(rng, 20) * 0.5)
    assert model.family == family
    assert fit.mean() == pytest.approx(true.mean(), rel=0.15)
    if family == "gamma":
        assert isinstance(fit, Gamma)
        assert fit.cv() == pytest.approx(1.0, abs=0.1)  # the exponential is gamma shape 1


def test_an_early_fit_is_refitted_as_the_evidence_doubles() -> None:
    # Fitted on the first 30 talks, it refits at 60 (not only at refit_every = 100): a fit
    # from 30 talks is too noisy to keep for another 100.
    rng = np.random.default_rng(7)
    model = TalkModel(LogNormal(100.0, 1.0), window=1000, refit_every=100, min_complete=30)
    for x in rng.exponential(60.0, 30):
        model.observe(float(x))
    first = model.distribution()
    for x in rng.exponential(600.0, 29):
        model.observe(float(x))
    assert model.distribution() is first  # 29 since the fit on 30: kept
    model.observe(600.0)
    second = model.distribution()
    assert second.mean() > 2.0 * first.mean()  # refitted on all 60
    for x in rng.exponential(600.0, 59):
        model.observe(float(x))
    assert model.distribution() is second  # next at 60 + 60 = 120 talks
    model.observe(600.0)
    assert model.distribution() is not second
