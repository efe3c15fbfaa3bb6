"""Erlang B, C and A (M/M/n+M) formulas.

Loads are in Erlangs (arrival rate x mean service time). Every function validates its input
and raises ``ValueError`` saying which argument is wrong and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize

__all__ = [
    "ErlangAResult",
    "erlang_a",
    "erlang_b",
    "erlang_b_load_for_blocking",
    "erlang_c",
]

# Stop extending the truncated Erlang-A chain once the remaining tail is below this
# fraction of the mass already accumulated (in log space: e^-45 ~ 3e-20).
_LOG_TAIL = -45.0
_CHUNK = 4096
_MAX_STATES = 50_000_000


def _servers(servers: int) -> int:
    if isinstance(servers, bool) or not isinstance(servers, int | np.integer):
        raise ValueError(f"servers must be an integer, got {servers!r}")
    if servers < 0:
        raise ValueError(f"servers must be >= 0, got {servers}")
    return int(servers)


def _rate(name: str, value: float, *, positive: bool) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return v


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of M/M/n/n with ``load`` Erlangs offered.

    Uses the recursion B(k) = A B(k-1) / (k + A B(k-1)), which stays in [0, 1] and never
    forms the factorials of the textbook formula.
    """
    n = _servers(servers)
    a = _rate("load", load, positive=False)
    b = 1.0
    for k in range(1, n + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in M/M/n (infinite queue, no abandonment).

    Returns 1.0 when ``load >= servers``: the queue is unstable and everyone waits.
    """
    n = _servers(servers)
    a = _rate("load", load, positive=False)
    if a >= n:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1.0 - b))


def erlang_b_load_for_blocking(servers: int, target: float) -> float:
    """The offered load (Erlangs) at which ``servers`` trunks block with probability
    ``target``. Erlang B increases strictly in the load, so the root is unique."""
    n = _servers(servers)
    if n == 0:
        raise ValueError("servers must be >= 1: zero servers block everything at any load")
    t = float(target)
    if not 0.0 < t < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target!r}")
    hi = max(float(n), 1.0)
    while erlang_b(n, hi) < t:
        hi *= 2.0
    root = optimize.brentq(lambda a: erlang_b(n, a) - t, 0.0, hi, xtol=1e-12, rtol=1e-14)
    return float(root)


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Steady state of M/M/n+M.

    ``p_wait``: an arrival finds every server busy (PASTA). ``p_abandon``: an arrival
    abandons before service (= theta E[queue] / lambda, by rate balance). ``mean_wait``: mean
    time in queue over all arrivals, including those who abandon (Little). ``mean_queue``:
    mean number waiting.
    """

    p_wait: float
    p_abandon: float
    mean_wait: float
    mean_queue: float


def erlang_a(
    servers: int, arrival_rate: float, service_rate: float, patience_rate: float
) -> ErlangAResult:
    """Erlang-A (Palm / Garnett-Mandelbaum-Reiman) by truncating the birth-death chain.

    State k = customers in the system; birth rate lambda, death rate
    min(k, n) mu + max(k - n, 0) theta. Log-space products avoid overflow for large loads;
    the chain is extended until the tail is negligible. ``patience_rate == 0`` is Erlang C
    and needs lambda < n mu.
    """
    n = _servers(servers)
    lam = _rate("arrival_rate", arrival_rate, positive=False)
    mu = _rate("service_rate", service_rate, positive=True)
    theta = _rate("patience_rate", patience_rate, positive=False)
    if lam == 0.0:
        return ErlangAResult(0.0, 0.0, 0.0, 0.0)
    if theta == 0.0 and lam >= n * mu:
        raise ValueError(
            f"unstable: with patience_rate 0 the arrival_rate ({lam:g}) must be below "
            f"servers x service_rate ({n * mu:g})"
        )

    # States 0..n: log pi_k relative to pi_0.
    k = np.arange(1, n + 1, dtype=np.float64)
    log_low = np.concatenate(([0.0], np.cumsum(math.log(lam) - np.log(k * mu))))
    log_pn = float(log_low[-1])

    # States n+1, n+2, ...: built in chunks until the tail stops mattering.
    tails: list[npt.NDArray[np.float64]] = []
    last = log_pn
    peak = float(np.max(log_low))
    j0 = 0
    while True:
        j = np.arange(j0 + 1, j0 + _CHUNK + 1, dtype=np.float64)
        chunk = last + np.cumsum(math.log(lam) - np.log(n * mu + j * theta))
        tails.append(chunk)
        last = float(chunk[-1])
        j0 += _CHUNK
        # Past the mode the terms decrease, so once the last one is tiny the rest is too.
        decreasing = lam < n * mu + j0 * theta
        peak = max(peak, float(np.max(chunk)))
        if decreasing and last - peak < _LOG_TAIL:
            break
        if j0 > _MAX_STATES:
            raise ValueError("Erlang-A chain did not converge; patience_rate is too small")
    log_high = np.concatenate(tails)
    low = np.exp(log_low - peak)
    high = np.exp(log_high - peak)
    total = float(low.sum() + high.sum())
    p_wait = (float(low[-1]) + float(high.sum())) / total
    queue = np.arange(1, high.size + 1, dtype=np.float64)
    mean_queue = float(queue @ high) / total
    return ErlangAResult(
        p_wait=p_wait,
        p_abandon=theta * mean_queue / lam,
        mean_wait=mean_queue / lam,
        mean_queue=mean_queue,
    )
