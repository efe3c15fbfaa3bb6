"""Duration distributions shared by the pacer and the simulator.

Every distribution is an immutable value (hashable, compared by parameters) so that the
availability model can cache tables per distribution. ``cdf``/``sf``/``log_sf`` are
vectorised and return float64 arrays of the input's shape (0-d for a scalar). Durations are
non-negative, so every support starts at 0 or above. Reading one from settings or a
scenario file is :mod:`dialer.pacing.distribution_spec`.
"""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, overload

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "Distribution",
    "Exponential",
    "Fixed",
    "FloatArray",
    "Gamma",
    "LogNormal",
    "Mixture",
    "SurvivalModel",
    "Uniform",
]

WEIGHT_TOLERANCE = 1e-6


def _arr(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _f64(x: object) -> FloatArray:
    # scipy is untyped; this keeps mypy --strict honest about what comes back.
    return np.asarray(x, dtype=np.float64)


def _check(name: str, value: float, *, positive: bool) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if not positive and v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


class SurvivalModel(Protocol):
    """Anything with a vectorised cdf and survival function (distributions, empirical fits)."""

    def cdf(self, x: npt.ArrayLike) -> FloatArray: ...

    def sf(self, x: npt.ArrayLike) -> FloatArray: ...


class Distribution(ABC):
    """A non-negative duration distribution."""

    __slots__ = ()

    @overload
    def sample(self, rng: np.random.Generator, size: None = None) -> float: ...

    @overload
    def sample(self, rng: np.random.Generator, size: int) -> FloatArray: ...

    def sample(self, rng: np.random.Generator, size: int | None = None) -> float | FloatArray:
        """One float when ``size`` is None, else an array of ``size`` draws."""
        if size is None:
            return self._sample_one(rng)
        return self.sample_array(rng, size)

    @abstractmethod
    def _sample_one(self, rng: np.random.Generator) -> float: ...

    @abstractmethod
    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray: ...

    @abstractmethod
    def mean(self) -> float: ...

    @abstractmethod
    def variance(self) -> float: ...

    def cv(self) -> float:
        """Coefficient of variation (std / mean); 0 for a zero-mean distribution."""
        m = self.mean()
        return math.sqrt(self.variance()) / m if m > 0 else 0.0

    @abstractmethod
    def sf(self, x: npt.ArrayLike) -> FloatArray:
        """P(X > x)."""

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        """P(X <= x)."""
        return 1.0 - self.sf(x)

    def log_sf(self, x: npt.ArrayLike) -> FloatArray:
        """log P(X > x); -inf beyond the support. Overridden where the tail needs precision."""
        with np.errstate(divide="ignore"):
            return np.log(self.sf(x))

    @abstractmethod
    def key(self) -> tuple[object, ...]: ...

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Distribution) or type(other) is not type(self):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.key()))})"


class Fixed(Distribution):
    """Always ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = _check("value", value, positive=False)

    def _sample_one(self, rng: np.random.Generator) -> float:
        return self.value

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        return np.full(size, self.value, dtype=np.float64)

    def mean(self) -> float:
        return self.value

    def variance(self) -> float:
        return 0.0

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return (_arr(x) >= self.value).astype(np.float64)

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return (_arr(x) < self.value).astype(np.float64)

    def key(self) -> tuple[object, ...]:
        return (self.value,)


class Exponential(Distribution):
    __slots__ = ("_mean",)

    def __init__(self, mean: float) -> None:
        self._mean = _check("mean", mean, positive=True)

    def _sample_one(self, rng: np.random.Generator) -> float:
        return float(rng.exponential(self._mean))

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.exponential(self._mean, size)

    def mean(self) -> float:
        return self._mean

    def variance(self) -> float:
        return self._mean**2

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return -np.expm1(-np.maximum(_arr(x), 0.0) / self._mean)

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return np.exp(self.log_sf(x))

    def log_sf(self, x: npt.ArrayLike) -> FloatArray:
        return -np.maximum(_arr(x), 0.0) / self._mean

    def key(self) -> tuple[object, ...]:
        return (self._mean,)


class Uniform(Distribution):
    __slots__ = ("high", "low")

    def __init__(self, low: float, high: float) -> None:
        self.low = _check("low", low, positive=False)
        self.high = _check("high", high, positive=False)
        if self.high <= self.low:
            raise ValueError(f"high must be > low ({low!r}), got {high!r}")

    def _sample_one(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size)

    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12.0

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return np.clip((_arr(x) - self.low) / (self.high - self.low), 0.0, 1.0)

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return np.clip((self.high - _arr(x)) / (self.high - self.low), 0.0, 1.0)

    def key(self) -> tuple[object, ...]:
        return (self.low, self.high)


class LogNormal(Distribution):
    """Log-normal given by its mean and coefficient of variation (what people can guess)."""

    __slots__ = ("_cv", "_mean", "mu", "sigma")

    def __init__(self, mean: float, cv: float) -> None:
        self._mean = _check("mean", mean, positive=True)
        self._cv = _check("cv", cv, positive=True)
        s2 = math.log1p(self._cv**2)
        self.sigma = math.sqrt(s2)
        self.mu = math.log(self._mean) - 0.5 * s2

    @classmethod
    def from_mu_sigma(cls, mu: float, sigma: float) -> LogNormal:
        """From the parameters of the underlying normal (log-space mean and std)."""
        sigma = _check("sigma", sigma, positive=True)
        mean = math.exp(float(mu) + 0.5 * sigma**2)
        return cls(mean, math.sqrt(math.expm1(sigma**2)))

    def _sample_one(self, rng: np.random.Generator) -> float:
        return float(rng.lognormal(self.mu, self.sigma))

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.lognormal(self.mu, self.sigma, size)

    def mean(self) -> float:
        return self._mean

    def variance(self) -> float:
        return (self._mean * self._cv) ** 2

    def cv(self) -> float:
        return self._cv

    def _z(self, x: npt.ArrayLike) -> FloatArray:
        a = _arr(x)
        with np.errstate(divide="ignore"):
            return (np.log(np.maximum(a, 0.0)) - self.mu) / self.sigma

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return _f64(special.ndtr(self._z(x)))

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return _f64(special.ndtr(-self._z(x)))

    def log_sf(self, x: npt.ArrayLike) -> FloatArray:
        return _f64(special.log_ndtr(-self._z(x)))

    def key(self) -> tuple[object, ...]:
        return (self._mean, self._cv)


class Gamma(Distribution):
    """Gamma given by its mean and coefficient of variation (shape = 1/cv^2)."""

    __slots__ = ("_cv", "_mean", "scale", "shape")

    def __init__(self, mean: float, cv: float) -> None:
        self._mean = _check("mean", mean, positive=True)
        self._cv = _check("cv", cv, positive=True)
        self.shape = 1.0 / self._cv**2
        self.scale = self._mean / self.shape

    def _sample_one(self, rng: np.random.Generator) -> float:
        return float(rng.gamma(self.shape, self.scale))

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.gamma(self.shape, self.scale, size)

    def mean(self) -> float:
        return self._mean

    def variance(self) -> float:
        return (self._mean * self._cv) ** 2

    def cv(self) -> float:
        return self._cv

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return _f64(special.gammainc(self.shape, np.maximum(_arr(x), 0.0) / self.scale))

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        return _f64(special.gammaincc(self.shape, np.maximum(_arr(x), 0.0) / self.scale))

    def log_sf(self, x: npt.ArrayLike) -> FloatArray:
        y = np.maximum(_arr(x), 0.0) / self.scale
        s = self.sf(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = np.log(s)
            # gammaincc underflows far in the tail; the leading asymptotic terms of the
            # upper incomplete gamma keep the hazard ratio finite there.
            k = self.shape
            asym = (k - 1.0) * np.log(y) - y - special.gammaln(k) + np.log1p((k - 1.0) / y)
        return np.where(s > 1e-300, direct, asym)

    def key(self) -> tuple[object, ...]:
        return (self._mean, self._cv)


class Mixture(Distribution):
    """Weighted mixture; weights must sum to 1 (within 1e-6) and are renormalised."""

    __slots__ = ("_cum", "_cum_list", "components", "weights")

    def __init__(self, components: Sequence[tuple[float, Distribution]]) -> None:
        if not components:
            raise ValueError("a mixture needs at least one component")
        weights = [float(w) for w, _ in components]
        for w in weights:
            if not math.isfinite(w) or w <= 0:
                raise ValueError(f"mixture weights must be > 0, got {w!r}")
        total = math.fsum(weights)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"mixture weights sum to {total:g}, must sum to 1")
        self.components: tuple[Distribution, ...] = tuple(d for _, d in components)
        self.weights = np.asarray(weights, dtype=np.float64) / total
        self._cum = np.cumsum(self.weights)
        self._cum[-1] = 1.0
        self._cum_list: list[float] = self._cum.tolist()

    def _sample_one(self, rng: np.random.Generator) -> float:
        i = bisect.bisect_right(self._cum_list, rng.random())
        return self.components[min(i, len(self.components) - 1)]._sample_one(rng)

    def sample_array(self, rng: np.random.Generator, size: int) -> FloatArray:
        idx = np.searchsorted(self._cum, rng.random(size), side="right")
        np.minimum(idx, len(self.components) - 1, out=idx)
        out = np.empty(size, dtype=np.float64)
        for i, comp in enumerate(self.components):
            mask = idx == i
            count = int(mask.sum())
            if count:
                out[mask] = comp.sample_array(rng, count)
        return out

    def mean(self) -> float:
        return float(sum(w * c.mean() for w, c in zip(self.weights, self.components, strict=True)))

    def variance(self) -> float:
        second = sum(
            w * (c.variance() + c.mean() ** 2)
            for w, c in zip(self.weights, self.components, strict=True)
        )
        return max(float(second) - self.mean() ** 2, 0.0)

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        a = _arr(x)
        return sum(
            (w * c.cdf(a) for w, c in zip(self.weights, self.components, strict=True)),
            np.zeros_like(a),
        )

    def sf(self, x: npt.ArrayLike) -> FloatArray:
        a = _arr(x)
        return sum(
            (w * c.sf(a) for w, c in zip(self.weights, self.components, strict=True)),
            np.zeros_like(a),
        )

    def log_sf(self, x: npt.ArrayLike) -> FloatArray:
        a = _arr(x)
        with np.errstate(divide="ignore"):
            logs = np.stack(
                [
                    math.log(w) + c.log_sf(a)
                    for w, c in zip(self.weights, self.components, strict=True)
                ]
            )
        top = logs.max(axis=0)
        safe = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            return np.where(
                np.isneginf(top), -np.inf, safe + np.log(np.exp(logs - safe).sum(axis=0))
            )

    def key(self) -> tuple[object, ...]:
        return tuple(zip(self.weights.tolist(), self.components, strict=True))
