"""The drop risk of the n-th new call, from the agent-availability model (DESIGN §4).

A new call that turns into a live answer after t seconds is dropped when the live answers
that reach the collectors before it (calls already waiting, ringing calls answered within
t, the other new calls answered within t) use up every collector free by t + grace (the
idle ones and the busy ones whose talk and wrap-up end by then). Over the answer delay t of
a live answer (a fixed grid of horizon nodes weighted by the answer-delay distribution):

    risk(m) = sum_k w_k P(X_k + Bin(m, pi_k) >= c),   c = idle + busy - waiting

where X_k = sum over busy collectors of Bernoulli(1 - q_i(t_k + grace)) (still busy) plus
sum over ringing calls of Bernoulli(r_j(t_k)) (answered first), pi_k = p F_a(t_k) is a new
call's chance of being answered live within t_k, and m is the number of other new calls
launched with it. risk(n - 1) is the risk of the n-th new call.

X_k is a Poisson-binomial: computed exactly (dynamic programming truncated at c) for up to
``exact_max`` terms, by the refined normal approximation (normal with a skewness term,
Volkova 1996) beyond.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from dialer.pacing.availability import residual_model
from dialer.pacing.distributions import Distribution, FloatArray, SurvivalModel

__all__ = [
    "HORIZON_EDGES",
    "BusyTable",
    "Moments",
    "RingModel",
    "RiskCurve",
    "horizon_nodes",
    "idle_only_risk_curve",
    "risk_curve",
]

# Bins of the live-answer delay (seconds); each is represented by one node. Fixed, so the
# busy-collector tables are built once per fitted talk / wrap-up distribution.
HORIZON_EDGES = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 13.0, 17.0, 22.0, 30.0, 45.0, 75.0)
_NODES = np.array(
    [0.5 * (a + b) for a, b in itertools.pairwise(HORIZON_EDGES)] + [HORIZON_EDGES[-1] + 15.0]
)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
BoolArray = npt.NDArray[np.bool_]


def horizon_nodes() -> FloatArray:
    """The answer-delay node of every bin (the last bin is open-ended)."""
    return _NODES.copy()


def node_weights(answer_delay: SurvivalModel) -> FloatArray:
    """P(live-answer delay in each bin)."""
    cdf = np.asarray(answer_delay.cdf(np.asarray(HORIZON_EDGES[1:])), dtype=np.float64)
    return np.diff(cdf, prepend=0.0, append=1.0)


class BusyTable:
    """P(a busy collector is free within t_k + grace | elapsed a) for every node t_k, on a
    grid of elapsed times (uniform in sqrt(a), dense where the residual changes fast), so one
    lookup serves all nodes. Built from :func:`availability.residual_model` per node."""

    def __init__(
        self,
        talk: Distribution,
        wrap: Distribution,
        grace: float,
        nodes: FloatArray,
        points: int = 512,
    ) -> None:
        self.talk, self.wrap, self.grace = talk, wrap, grace
        span = _upper(talk) + _upper(wrap)
        root = np.linspace(0.0, math.sqrt(span), points)
        grid = root * root
        self._inv_step = (points - 1) / math.sqrt(span)
        self._last = points - 2
        self.talking = np.empty((points, nodes.size))
        self.wrapping = np.empty((points, nodes.size))
        for k, t in enumerate(nodes):
            # Horizons quantised to 0.5 s keep the residual model cache warm.
            model = residual_model(talk, wrap, round(2.0 * (float(t) + grace)) / 2.0)
            self.talking[:, k] = model(grid, False)
            self.wrapping[:, k] = model(grid, True)
        self._busy_talking = 1.0 - self.talking
        self._busy_wrapping = 1.0 - self.wrapping
        self._d_talking = np.diff(self.talking, axis=0)
        self._d_wrapping = np.diff(self.wrapping, axis=0)

    def moments(self, elapsed: FloatArray, in_wrap: BoolArray) -> Moments:
        """Sum over busy collectors of the moments of Bernoulli(still busy), per node, from
        counts per grid row (nearest row): O(busy + grid) for large teams."""
        x = np.minimum(np.sqrt(np.maximum(elapsed, 0.0)) * self._inv_step, self._last + 1.0)
        i = np.rint(x).astype(np.intp)
        rows = self.talking.shape[0]
        talking = np.bincount(i[~in_wrap], minlength=rows).astype(np.float64)
        wrapping = np.bincount(i[in_wrap], minlength=rows).astype(np.float64)
        return _moments_of(self._busy_talking, talking) + _moments_of(self._busy_wrapping, wrapping)

    def __call__(self, elapsed: FloatArray, in_wrap: BoolArray) -> FloatArray:
        """(busy, nodes) array of P(free by node + grace); beyond the grid, the last row."""
        x = np.minimum(np.sqrt(np.maximum(elapsed, 0.0)) * self._inv_step, self._last + 1.0)
        i = np.minimum(x.astype(np.intp), self._last)
        f = (x - i)[:, None]
        out: FloatArray = self.talking[i] + self._d_talking[i] * f
        if in_wrap.any():
            w = np.flatnonzero(in_wrap)
            out[w] = self.wrapping[i[w]] + self._d_wrapping[i[w]] * f[w]
        return out


def _upper(dist: Distribution) -> float:
    """A point past nearly all the mass (the table's last row serves beyond it)."""
    m = dist.mean()
    if m <= 0:
        return 1.0
    x = max(m, 1.0)
    for _ in range(60):
        if float(dist.sf(x)) < 1e-4:
            break
        x *= 1.5
    return x


class RingModel:
    """For a call that has rung e seconds: P(live answer within each node t_k | ringing),

        p (F_a(e + t_k) - F_a(e)) / (p S_a(e) + (1 - p) S_f(e)),

    from the answer and failure delay curves tabulated on a grid of e (0.25 s steps) when
    the delay estimates change; the answer probability p is applied per decision."""

    STEP = 0.25

    def __init__(
        self,
        answer_delay: SurvivalModel,
        failure_delay: SurvivalModel,
        nodes: FloatArray,
        max_elapsed: float = 120.0,
    ) -> None:
        e = np.arange(0.0, max_elapsed + self.STEP, self.STEP)
        self._sa = np.asarray(answer_delay.sf(e), dtype=np.float64)
        self._sf = np.asarray(failure_delay.sf(e), dtype=np.float64)
        fa_h = np.asarray(answer_delay.cdf(e[:, None] + nodes[None, :]), dtype=np.float64)
        self._gain = np.maximum(fa_h - (1.0 - self._sa)[:, None], 0.0)
        self._new = np.asarray(answer_delay.cdf(nodes), dtype=np.float64)
        self._last = e.size - 1

    def new_call(self, p: float) -> FloatArray:
        """pi_k = p F_a(t_k): a call not yet dialed."""
        out: FloatArray = p * self._new
        return out

    def _rows(self, elapsed: FloatArray) -> npt.NDArray[np.intp]:
        return np.minimum(
            (np.maximum(elapsed, 0.0) * (1.0 / self.STEP)).astype(np.intp), self._last
        )

    def _within(self, i: npt.NDArray[np.intp] | slice, p: float) -> FloatArray:
        ringing = p * self._sa[i] + (1.0 - p) * self._sf[i]
        alive = ringing > 0.0
        scale = np.where(alive, p / np.where(alive, ringing, 1.0), 0.0)
        out: FloatArray = np.minimum(self._gain[i] * scale[:, None], 1.0)
        return out

    def __call__(self, elapsed: FloatArray, p: float) -> FloatArray:
        """(ringing, nodes) array of P(live answer within node | still ringing)."""
        return self._within(self._rows(elapsed), p)

    def moments(self, elapsed: FloatArray, p: float) -> Moments:
        """Sum over ringing calls of the moments of Bernoulli(answered within node)."""
        counts = np.bincount(self._rows(elapsed), minlength=self._last + 1).astype(np.float64)
        return _moments_of(self._within(slice(None), p), counts)


@dataclass(slots=True)
class Moments:
    """Mean, variance and third central moment (per node) of a sum of Bernoullis."""

    mean: FloatArray
    var: FloatArray
    third: FloatArray

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.mean + other.mean, self.var + other.var, self.third + other.third)

    @classmethod
    def of(cls, p: FloatArray) -> Moments:
        """Moments of the sum over rows of Bernoulli(p[row, node])."""
        return _moments_of(p, None)


def _moments_of(p: FloatArray, counts: FloatArray | None) -> Moments:
    v = p * (1.0 - p)
    t = v * (1.0 - 2.0 * p)
    if counts is None:
        return Moments(p.sum(axis=0), v.sum(axis=0), t.sum(axis=0))
    return Moments(counts @ p, counts @ v, counts @ t)


@dataclass(slots=True)
class RiskCurve:
    """risk[m] = drop risk of the (m + 1)-th new call, for m = 0 .. len - 1."""

    risk: FloatArray
    exact: bool


def risk_curve(
    still_busy: FloatArray | Moments,
    ring_within: FloatArray | Moments,
    new_within: FloatArray,
    weights: FloatArray,
    capacity: int,
    candidates: int,
    stop_at: float = math.inf,
    exact_max: int = 64,
) -> RiskCurve:
    """Risks of the first ``candidates`` new calls.

    ``still_busy`` (busy, K): P(still busy at node k + grace), or the moments of their sum;
    ``ring_within`` (ringing, K), or moments: P(answered within node k); ``new_within``
    (K,): pi_k; ``weights`` (K,): answer-delay mass per node; ``capacity``: idle + busy -
    waiting. Exact when arrays are given with at most ``exact_max`` rows in all; the exact
    computation stops once a risk reaches ``stop_at`` (later calls only have higher risk),
    but never before the second call."""
    if candidates <= 0:
        return RiskCurve(np.zeros(0), True)
    if capacity <= 0:
        return RiskCurve(np.ones(candidates), True)
    live = weights > 0
    w = weights[live] / weights[live].sum()
    pi = new_within[live]
    if (
        isinstance(still_busy, np.ndarray)
        and isinstance(ring_within, np.ndarray)
        and still_busy.shape[0] + ring_within.shape[0] <= exact_max
    ):
        rows = np.vstack((still_busy[:, live], ring_within[:, live]))
        return RiskCurve(_exact(rows, pi, w, capacity, candidates, stop_at), True)
    total = _as_moments(still_busy) + _as_moments(ring_within)
    total = Moments(total.mean[live], total.var[live], total.third[live])
    # Most decisions launch a few calls: evaluate a first block, the rest only if needed.
    first = min(candidates, 8)
    risk = _refined_normal(total, pi, w, capacity, 0, first)
    if first < candidates and risk[-1] < stop_at:
        rest = _refined_normal(total, pi, w, capacity, first, candidates)
        risk = np.maximum.accumulate(np.concatenate((risk, rest)))
    return RiskCurve(risk, False)


def idle_only_risk_curve(
    in_flight: int,
    p: float,
    idle: int,
    candidates: int,
    stop_at: float = math.inf,
    exact_max: int = 64,
) -> RiskCurve:
    """An upper bound on the drop risks that needs neither the talk model nor the delay
    curves (the pacer's warm-up): only the ``idle`` collectors (less the calls waiting)
    are counted on, and each of the ``in_flight`` calls and the other new ones may be
    answered first with chance p: risk(m) = P(Bin(in_flight + m, p) >= idle). Busy
    collectors can only free up and calls can only fail or answer later, so the model's
    risk is never above it."""
    within = np.full((in_flight, 1), p)
    ringing: FloatArray | Moments = within if in_flight <= exact_max else Moments.of(within)
    return risk_curve(
        np.zeros((0, 1)), ringing, np.full(1, p), np.ones(1), idle, candidates, stop_at, exact_max
    )


def _as_moments(x: FloatArray | Moments) -> Moments:
    return x if isinstance(x, Moments) else Moments.of(x)


def _exact(
    p: FloatArray, pi: FloatArray, w: FloatArray, c: int, candidates: int, stop_at: float
) -> FloatArray:
    """Poisson-binomial DP per node, truncated at c (index c holds P(>= c))."""
    k = pi.size
    pmf = np.zeros((k, c + 1))
    pmf[:, 0] = 1.0
    for row in p:
        move = pmf * row[:, None]
        pmf -= move
        pmf[:, 1:] += move[:, :-1]
        pmf[:, c] += move[:, c]
    out = np.ones(candidates)
    pi_col = pi[:, None]
    for m in range(candidates):
        out[m] = float(w @ pmf[:, c])
        if out[m] >= stop_at and m >= 1:  # two points: the pacer extrapolates below the first
            break
        move = pmf * pi_col
        pmf -= move
        pmf[:, 1:] += move[:, :-1]
        pmf[:, c] += move[:, c]
    return out


def _refined_normal(
    x: Moments, pi: FloatArray, w: FloatArray, c: int, lo: int, hi: int
) -> FloatArray:
    """P(X + Bin(m, pi) >= c) by the normal approximation with a skewness correction."""
    m = np.arange(lo, hi, dtype=np.float64)[None, :]
    pv = (pi * (1.0 - pi))[:, None]
    mean = x.mean[:, None] + m * pi[:, None]
    var = x.var[:, None] + m * pv
    k3 = x.third[:, None] + m * pv * (1.0 - 2.0 * pi[:, None])
    sd = np.sqrt(np.maximum(var, 1e-12))
    z = (c - 0.5 - mean) / sd
    gamma = k3 / (sd * sd * sd)
    below = special.ndtr(z) + gamma * (1.0 - z * z) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI / 6.0
    tail = np.clip(1.0 - below, 0.0, 1.0)
    out: FloatArray = w @ tail
    # The skewness term can bend the curve slightly; risk must not fall as calls are added.
    return np.maximum.accumulate(out)
