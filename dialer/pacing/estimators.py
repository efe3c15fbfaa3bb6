"""Online estimators feeding the pacer: answer probability, wrap-up and ring delays (talk
times: :mod:`dialer.pacing.talkmodel`, built on :class:`CensoredLogNormal` here).

All are plain objects updated one observation at a time; none reads a clock (the caller
passes the hour of day where it matters).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from dialer.pacing.distributions import Distribution, Fixed, FloatArray, Gamma

__all__ = [
    "BetaAnswerRate",
    "CensoredLogNormal",
    "EmpiricalDelay",
    "GammaFit",
    "HourlyAnswerRate",
    "fit_gamma",
]


def check_positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class BetaAnswerRate:
    """Beta posterior for P(live answer) per dial, with exponential forgetting.

    Each update first multiplies the *observed* pseudo-counts by ``forgetting``, then adds
    the new outcome. The prior is not decayed: it stays a fixed regulariser, so the posterior
    never becomes improper, and the effective sample size is bounded by
    1 / (1 - forgetting).
    """

    __slots__ = ("_f", "_s", "forgetting", "prior_a", "prior_b")

    def __init__(self, prior_a: float = 1.0, prior_b: float = 1.0, forgetting: float = 1.0) -> None:
        self.prior_a = check_positive("prior_a", prior_a)
        self.prior_b = check_positive("prior_b", prior_b)
        f = float(forgetting)
        if not 0.0 < f <= 1.0:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting!r}")
        self.forgetting = f
        self._s = 0.0
        self._f = 0.0

    def update(self, answered: bool) -> None:
        self._s *= self.forgetting
        self._f *= self.forgetting
        if answered:
            self._s += 1.0
        else:
            self._f += 1.0

    @property
    def alpha(self) -> float:
        return self.prior_a + self._s

    @property
    def beta(self) -> float:
        return self.prior_b + self._f

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> float:
        a, b = self.alpha, self.beta
        return a * b / ((a + b) ** 2 * (a + b + 1.0))

    @property
    def n_effective(self) -> float:
        """Discounted number of observations (prior excluded)."""
        return self._s + self._f

    def quantile(self, q: float) -> float:
        """Posterior quantile (the inverse regularised incomplete beta = beta.ppf)."""
        qq = float(q)
        if not 0.0 <= qq <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q!r}")
        return float(special.betaincinv(self.alpha, self.beta, qq))


class HourlyAnswerRate:
    """A global posterior plus one per hour of day; an hour's own posterior is used once it
    has ``min_obs`` effective observations, since answer rates swing through the day."""

    __slots__ = ("global_", "hours", "min_obs")

    def __init__(
        self,
        prior_a: float = 1.0,
        prior_b: float = 1.0,
        forgetting: float = 1.0,
        min_obs: float = 30.0,
    ) -> None:
        self.global_ = BetaAnswerRate(prior_a, prior_b, forgetting)
        self.hours = [BetaAnswerRate(prior_a, prior_b, forgetting) for _ in range(24)]
        m = float(min_obs)
        if not math.isfinite(m) or m < 0:
            raise ValueError(f"min_obs must be >= 0, got {min_obs!r}")
        self.min_obs = m

    @staticmethod
    def _hour(hour: int) -> int:
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
            raise ValueError(f"hour must be an integer in 0..23, got {hour!r}")
        return hour

    def update(self, answered: bool, hour: int) -> None:
        self.hours[self._hour(hour)].update(answered)
        self.global_.update(answered)

    def posterior(self, hour: int) -> BetaAnswerRate:
        own = self.hours[self._hour(hour)]
        return own if own.n_effective >= self.min_obs else self.global_

    def mean(self, hour: int) -> float:
        return self.posterior(hour).mean

    def quantile(self, hour: int, q: float) -> float:
        return self.posterior(hour).quantile(q)


class CensoredLogNormal:
    """Maximum-likelihood log-normal fit with right-censored observations.

    Talks still in progress are only known to last longer than their elapsed time; dropping
    them (or counting them as finished) biases the fit towards short calls, which makes the
    pacer expect collectors back too soon and over-dial.
    """

    @staticmethod
    def neg_log_likelihood(
        mu: float, sigma: float, log_complete: FloatArray, log_censored: FloatArray
    ) -> tuple[float, FloatArray]:
        """Negative log-likelihood in log space (the Jacobian of log x is constant) and its
        gradient with respect to (mu, log sigma)."""
        zc = (log_complete - mu) / sigma
        zr = (log_censored - mu) / sigma
        log_s = special.log_ndtr(-zr)
        nll = float(0.5 * zc @ zc + log_complete.size * math.log(sigma) - np.sum(log_s))
        # Inverse Mills ratio phi(z) / (1 - Phi(z)), computed in log space for large z.
        mills = np.exp(-0.5 * zr * zr - 0.5 * math.log(2.0 * math.pi) - log_s)
        d_mu = -float(np.sum(zc)) / sigma - float(np.sum(mills)) / sigma
        d_logsig = -float(zc @ zc) + log_complete.size - float(mills @ zr)
        return nll, np.array([d_mu, d_logsig])

    @staticmethod
    def fit(complete: npt.ArrayLike, censored: npt.ArrayLike = ()) -> tuple[float, float]:
        """(mu, sigma) of log duration. ``complete`` are finished durations (> 0);
        ``censored`` are elapsed times of unfinished ones (values <= 0 carry no information
        and are ignored)."""
        c = np.asarray(complete, dtype=np.float64).ravel()
        r = np.asarray(censored, dtype=np.float64).ravel()
        if c.size < 2:
            raise ValueError(f"need at least 2 complete durations, got {c.size}")
        if not np.all(np.isfinite(c)) or np.any(c <= 0):
            raise ValueError("complete durations must be finite and > 0")
        if not np.all(np.isfinite(r)):
            raise ValueError("censored durations must be finite")
        lc = np.log(c)
        lr = np.log(r[r > 0])
        mu0 = float(lc.mean())
        sig0 = max(float(lc.std()), 1e-2)
        if lr.size == 0:
            return mu0, max(float(lc.std()), 1e-3)
        scale = 1.0 / (c.size + lr.size)

        def objective(x: FloatArray) -> tuple[float, FloatArray]:
            nll, grad = CensoredLogNormal.neg_log_likelihood(
                float(x[0]), math.exp(float(x[1])), lc, lr
            )
            return nll * scale, grad * scale

        res = optimize.minimize(
            objective,
            np.array([mu0, math.log(sig0)]),
            jac=True,
            method="L-BFGS-B",
            bounds=[(None, None), (math.log(1e-3), math.log(20.0))],
            options={"gtol": 1e-9, "ftol": 1e-13},
        )
        x = np.asarray(res.x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"censored log-normal fit failed: {res.message}")
        return float(x[0]), math.exp(float(x[1]))


def fit_gamma(samples: npt.ArrayLike) -> tuple[float, float]:
    """(shape, scale) of a gamma fitted to ``samples``: maximum likelihood when every value is
    > 0 (Minka's starting point, then Newton), method of moments when zeros are present."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"need at least 2 samples, got {x.size}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("samples must be finite and >= 0")
    m = float(x.mean())
    v = float(x.var())
    if m <= 0 or v <= 0:
        raise ValueError("samples are degenerate (zero mean or zero variance)")
    if np.any(x == 0):
        shape = m * m / v
        return shape, m / shape
    s = math.log(m) - float(np.log(x).mean())
    if s <= 1e-12:
        raise ValueError("samples are degenerate (zero variance)")
    k = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(50):
        step = (math.log(k) - float(special.digamma(k)) - s) / (
            1.0 / k - float(special.polygamma(1, k))
        )
        k_new = k - step
        if k_new <= 0:
            k_new = k / 2.0
        if abs(k_new - k) < 1e-12 * k:
            k = k_new
            break
        k = k_new
    return k, m / k


class GammaFit:
    """Wrap-up time from a bounded window of recent observations, as a :class:`Gamma`
    (or :class:`Fixed` when every observation is the same, e.g. all zero)."""

    def __init__(
        self, prior: Distribution, window: int = 2000, refit_every: int = 50, min_obs: int = 30
    ) -> None:
        self.prior = prior
        self._window: deque[float] = deque(maxlen=check_count("window", window, 2))
        self.refit_every = check_count("refit_every", refit_every, 1)
        self.min_obs = check_count("min_obs", min_obs, 2)
        self._fit: Distribution | None = None
        self._since_fit = 0

    @property
    def n(self) -> int:
        return len(self._window)

    def observe(self, duration: float) -> None:
        d = float(duration)
        if not math.isfinite(d) or d < 0:
            raise ValueError(f"duration must be finite and >= 0, got {duration!r}")
        self._window.append(d)
        self._since_fit += 1

    def distribution(self) -> Distribution:
        if self.n < self.min_obs:
            return self.prior
        if self._fit is None or self._since_fit >= self.refit_every:
            self._since_fit = 0
            x = np.fromiter(self._window, np.float64)
            m = float(x.mean())
            if m <= 0 or float(x.std()) <= 1e-9 * max(m, 1.0):
                self._fit = Fixed(m)
            else:
                shape, scale = fit_gamma(x)
                self._fit = Gamma(shape * scale, 1.0 / math.sqrt(shape))
        return self._fit


class EmpiricalDelay:
    """Empirical distribution of a delay (answer delay, failure delay) over a bounded window.

    ``cdf``/``sf`` are right-continuous step functions: cdf(x) = #{d <= x} / n, so tied
    observations jump together. Below ``min_obs`` observations ``fallback`` is used.
    """

    def __init__(
        self, window: int = 2000, fallback: Distribution | None = None, min_obs: int = 1
    ) -> None:
        self._window: deque[float] = deque(maxlen=check_count("window", window, 1))
        self.fallback = fallback
        self.min_obs = check_count("min_obs", min_obs, 1)
        self._sorted: FloatArray | None = None

    @property
    def n(self) -> int:
        return len(self._window)

    def observe(self, delay: float) -> None:
        d = float(delay)
        if not math.isfinite(d) or d < 0:
            raise ValueError(f"delay must be finite and >= 0, got {delay!r}")
        self._window.append(d)
        self._sorted = None

    def _data(self) -> FloatArray | None:
        if self.n < self.min_obs:
            if self.fallback is None:
                raise ValueError(f"only {self.n} observations (< {self.min_obs}) and no fallback")
            return None
        if self._sorted is None:
            self._sorted = np.sort(np.fromiter(self._window, np.float64))
        return self._sorted

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        data = self._data()
        if data is None:
            assert self.fallback is not None
            return self.fallback.cdf(x)
        idx = np.searchsorted(data, np.asarray(x, dtype=np.float64), side="right")
        return np.asarray(idx / data.size, dtype=np.float64)

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return 1.0 - self.cdf(x)

    def mean(self) -> float:
        data = self._data()
        if data is None:
            assert self.fallback is not None
            return self.fallback.mean()
        return float(data.mean())
