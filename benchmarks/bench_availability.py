"""Timings of the pacer's availability primitives (not a test).

    python benchmarks/bench_availability.py

Prints the warm per-decision cost of residual_free_probability for a 1000-collector team,
the one-off table build per (talk, wrap, horizon), and the free-count distribution, with
the naive baseline (direct convolution, no table) measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np

from dialer.pacing.availability import (
    ResidualModel,
    free_count_pmf,
    residual_free_probability,
)
from dialer.pacing.distributions import Distribution, Gamma, LogNormal


def best_of(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Best mean seconds per call over ``repeat`` runs of ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    elapsed = rng.uniform(0.0, 600.0, n)
    in_wrap = rng.random(n) < 0.3
    horizon = 15.0
    cases: list[tuple[str, Distribution, Distribution]] = [
        ("lognormal talk, gamma wrap", LogNormal(180.0, 1.0), Gamma(20.0, 0.8)),
        ("gamma talk, lognormal wrap", Gamma(150.0, 1.5), LogNormal(10.0, 0.5)),
    ]
    print(f"residual_free_probability, {n} collectors, horizon {horizon:g} s")
    for name, talk, wrap in cases:
        start = time.perf_counter()
        model = ResidualModel(talk, wrap, horizon)
        build = time.perf_counter() - start
        residual_free_probability(elapsed, horizon, talk, wrap, in_wrap)  # warm the cache
        warm = best_of(
            partial(residual_free_probability, elapsed, horizon, talk, wrap, in_wrap), 200
        )
        naive = best_of(partial(model._talking_direct, elapsed[~in_wrap]), 5)
        print(
            f"  {name:28s} warm {warm * 1e6:7.1f} us   table build {build * 1e3:6.1f} ms   "
            f"baseline (direct, talking only) {naive * 1e6:9.1f} us"
        )
    p = rng.random(n)
    for size in (20, 64, n):
        t = best_of(partial(free_count_pmf, 5, p[:size]), 200)
        kind = "exact DP" if size <= 64 else "normal approx"
        print(f"free_count_pmf, {size:4d} busy ({kind:13s}) {t * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
