"""Talk-time model for the predictive pacer: censored log-normal, or gamma when it fits better.

Both are fitted by maximum likelihood to a window of completed talks with the talks still
in progress as right-censored observations (dropping them biases the fit short). The
log-normal is the default family (:class:`estimators.CensoredLogNormal`); a gamma (whose
shape 1 is the exponential) is fitted alongside and used when its censored log-likelihood
is higher: log-normal residual life has a falling hazard, so forcing it on memoryless talk
times makes long talks look nearly endless and short ones about to end.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from dialer.pacing.distributions import Distribution, FloatArray, Gamma, LogNormal
from dialer.pacing.estimators import CensoredLogNormal, check_count, check_positive

__all__ = ["TalkModel", "censored_gamma_fit", "censored_lognormal_loglik"]


def censored_lognormal_loglik(
    mu: float, sigma: float, complete: FloatArray, censored: FloatArray
) -> float:
    lc = np.log(complete)
    z = (lc - mu) / sigma
    ll = -0.5 * float(z @ z) - complete.size * math.log(sigma * math.sqrt(2 * math.pi))
    ll -= float(lc.sum())  # the Jacobian: a density in x, comparable with the gamma's
    if censored.size:
        ll += float(special.log_ndtr(-(np.log(censored) - mu) / sigma).sum())
    return ll


def _gamma_loglik(k: float, theta: float, complete: FloatArray, censored: FloatArray) -> float:
    x = complete / theta
    ll = float(((k - 1.0) * np.log(x) - x).sum()) - complete.size * (
        math.log(theta) + float(special.gammaln(k))
    )
    if censored.size:
        q = special.gammaincc(k, censored / theta)
        ll += float(np.log(np.maximum(q, 1e-300)).sum())
    return ll


def censored_gamma_fit(complete: FloatArray, censored: FloatArray) -> tuple[float, float, float]:
    """(shape, scale, log-likelihood) of a gamma fitted with right-censoring."""
    m = float(complete.mean())
    v = float(complete.var())
    k0 = min(max(m * m / v if v > 0 else 1.0, 0.05), 50.0)
    x0 = np.array([math.log(k0), math.log(m / k0)])
    scale = 1.0 / (complete.size + censored.size)

    def nll(x: FloatArray) -> float:
        return -_gamma_loglik(math.exp(x[0]), math.exp(x[1]), complete, censored) * scale

    res = optimize.minimize(
        nll, x0, method="L-BFGS-B", bounds=[(math.log(0.05), math.log(50.0)), (None, None)]
    )
    k, theta = math.exp(float(res.x[0])), math.exp(float(res.x[1]))
    return k, theta, -float(res.fun) / scale


class TalkModel:
    """Window of completed talks; refitted with the talks in progress as censored data
    every ``refit_every`` completions, or sooner while the evidence is thin: once the
    completions since the last fit match those it was fitted on (at 30, 60, 120 ...), so
    an early fit from few talks is not kept for long. ``distribution`` is the prior until
    ``min_complete``."""

    def __init__(
        self,
        prior: Distribution,
        window: int = 2000,
        refit_every: int = 50,
        min_complete: int = 30,
        floor: float = 0.5,
    ) -> None:
        self.prior = prior
        self._window: deque[float] = deque(maxlen=check_count("window", window, 2))
        self.refit_every = check_count("refit_every", refit_every, 1)
        self.min_complete = check_count("min_complete", min_complete, 2)
        # Zero-second talks (instant hang-ups) would break the log; clamp to a floor.
        self.floor = check_positive("floor", floor)
        self._fit: Distribution | None = None
        self._since = 0
        self._fitted_on = 0  # completions in the window at the last fit
        self.family = "prior"

    @property
    def n_complete(self) -> int:
        return len(self._window)

    def observe(self, duration: float) -> None:
        d = float(duration)
        if not math.isfinite(d):
            raise ValueError(f"duration must be finite, got {duration!r}")
        self._window.append(max(d, self.floor))
        self._since += 1

    def distribution(self, in_progress: npt.ArrayLike = ()) -> Distribution:
        if self.n_complete < self.min_complete:
            return self.prior
        if self._fit is None or self._since >= min(self.refit_every, self._fitted_on):
            self._refit(np.asarray(in_progress, dtype=np.float64).ravel())
        assert self._fit is not None
        return self._fit

    def _refit(self, in_progress: FloatArray) -> None:
        self._since = 0
        self._fitted_on = self.n_complete
        complete = np.fromiter(self._window, np.float64)
        censored = np.maximum(in_progress[in_progress > 0], self.floor)
        best: tuple[float, Distribution, str] | None = None
        try:
            mu, sigma = CensoredLogNormal.fit(complete, censored)
            ll = censored_lognormal_loglik(mu, sigma, complete, censored)
            best = (ll, LogNormal.from_mu_sigma(mu, sigma), "lognormal")
        except ValueError:
            pass
        try:
            k, theta, ll = censored_gamma_fit(complete, censored)
            if math.isfinite(ll) and (best is None or ll > best[0]):
                best = (ll, Gamma(k * theta, 1.0 / math.sqrt(k)), "gamma")
        except (ValueError, FloatingPointError):
            pass
        if best is not None:  # a failed refit keeps the last good fit
            self._fit, self.family = best[1], best[2]
        elif self._fit is None:
            self._fit = self.prior
