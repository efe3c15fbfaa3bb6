"""Distributions from their YAML/JSON spec (settings, scenario files).

``{dist: lognormal, mean: 180, cv: 1.1}``, ``{dist: exponential, mean: 15}``, mixtures of
weighted components, ...: each error is a :class:`DistributionError` whose ``path`` names
the offending key (``talk.mean``), so the settings and scenario loaders can name the file
and the key. Apart from the distribution family itself because it is the one piece that
reads user input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dialer.pacing.distributions import (
    WEIGHT_TOLERANCE,
    Distribution,
    Exponential,
    Fixed,
    Gamma,
    LogNormal,
    Mixture,
    Uniform,
)

__all__ = ["DistributionError", "parse_distribution"]


class DistributionError(ValueError):
    """A distribution spec is invalid; ``path`` names the offending key (``talk.mean``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "exponential": ("mean",),
    "uniform": ("low", "high"),
    "lognormal": ("mean", "cv"),
    "gamma": ("mean", "cv"),
    "mixture": ("components",),
}


def _number(spec: Mapping[str, object], key: str, path: str, *, positive: bool) -> float:
    value = spec[key]
    where = f"{path}.{key}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DistributionError(where, f"must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise DistributionError(where, "must be finite")
    if positive and v <= 0:
        raise DistributionError(where, "must be > 0")
    if not positive and v < 0:
        raise DistributionError(where, "must be >= 0")
    return v


def parse_distribution(spec: object, path: str = "distribution") -> Distribution:
    """Build a distribution from a YAML-style mapping such as ``{dist: exponential, mean: 15}``.

    Mixtures list components, each a distribution mapping with a ``weight``. Errors raise
    :class:`DistributionError` naming the key path, e.g. ``talk.components[1].weight``.
    """
    return _parse(spec, path, extra=())


def _parse(spec: object, path: str, extra: tuple[str, ...]) -> Distribution:
    if not isinstance(spec, Mapping):
        raise DistributionError(path, f"must be a mapping, got {type(spec).__name__}")
    if "dist" not in spec:
        raise DistributionError(f"{path}.dist", "missing required key")
    kind = spec["dist"]
    if not isinstance(kind, str) or kind.lower() not in _PARAMS:
        raise DistributionError(
            f"{path}.dist", f"unknown distribution {kind!r} (expected one of {sorted(_PARAMS)})"
        )
    kind = kind.lower()
    params = _PARAMS[kind]
    allowed = {"dist", *params, *extra}
    for key in spec:
        if key not in allowed:
            raise DistributionError(
                f"{path}.{key}", f"unknown key for dist {kind} (allowed: {', '.join(params)})"
            )
    for key in params:
        if key not in spec:
            raise DistributionError(f"{path}.{key}", "missing required key")

    if kind == "fixed":
        return Fixed(_number(spec, "value", path, positive=False))
    if kind == "exponential":
        return Exponential(_number(spec, "mean", path, positive=True))
    if kind == "uniform":
        low = _number(spec, "low", path, positive=False)
        high = _number(spec, "high", path, positive=False)
        if high <= low:
            raise DistributionError(f"{path}.high", f"must be > low ({low:g})")
        return Uniform(low, high)
    if kind in ("lognormal", "gamma"):
        mean = _number(spec, "mean", path, positive=True)
        cv = _number(spec, "cv", path, positive=True)
        return LogNormal(mean, cv) if kind == "lognormal" else Gamma(mean, cv)
    return _parse_mixture(spec["components"], f"{path}.components")


def _parse_mixture(raw: object, path: str) -> Mixture:
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise DistributionError(path, "must be a non-empty list of components")
    comps: list[tuple[float, Distribution]] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, Mapping) and "weight" not in item:
            raise DistributionError(f"{where}.weight", "missing required key")
        dist = _parse(item, where, extra=("weight",))
        assert isinstance(item, Mapping)  # _parse has checked it
        comps.append((_number(item, "weight", where, positive=True), dist))
    total = math.fsum(w for w, _ in comps)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise DistributionError(path, f"weights sum to {total:g}, must sum to 1")
    return Mixture(comps)
