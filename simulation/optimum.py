"""The exact optimum of the exponential reference model, by linear programming.

On the `s1-exp-nN` scenarios every clock is exponential (talk + wrap mean h, dial
resolution mean d, live answer with probability p, no connect grace), so the state is
(j busy collectors, k calls in flight) and a pacer is a rule for how many calls to add in
each state. The best non-anticipating pacer under an abandon cap is the solution of a
constrained Markov decision problem; after uniformisation its occupation measure x(s, a)
solves a linear programme (Altman, *Constrained Markov Decision Processes*, 1999, ch. 4):

    maximise    sum x(s, a) j(s) / N                       (occupancy)
    subject to  sum_a x(s', a) = sum_{s, a} x(s, a) P(s' | s, a)   for every s'
                sum x(s, a) = 1,  x >= 0
                sum x(s, a) (drops(s, a) - cap x live(s, a)) <= 0

where the action a raises the calls in flight from k to a (the post-decision state), a live
answer with every collector busy is a drop, and drops / live answers is the abandon rate.
The issue's optimum figures (N=5 0.8326, N=10 0.8616, N=20 0.8974, N=50 0.9387 at 3%)
come from this model; `optimal_policy` reproduces them and shows the optimal calls in
flight per busy count, against which a pacer's shape can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

__all__ = ["OptimalPolicy", "optimal_policy"]


@dataclass(frozen=True, slots=True)
class OptimalPolicy:
    """The optimum's occupancy and abandon rate, and ``target[j]``: the calls in flight it
    tops up to when j collectors are busy (mass-weighted over the states where it launches;
    0 where it never launches, NaN for a busy count the optimum never visits)."""

    occupancy: float
    abandon_rate: float
    target: tuple[float, ...]


def optimal_policy(
    collectors: int,
    cap: float,
    handle: float = 180.0,
    dial: float = 15.0,
    p: float = 0.30,
    max_in_flight: int | None = None,
) -> OptimalPolicy:
    """Solve the constrained MDP of the exponential model (see the module docstring).

    ``max_in_flight`` bounds the state space (default 3N + 10, well past what the optimum
    uses below cap 10%); raises ValueError on bad input or an infeasible programme."""
    n = int(collectors)
    if n < 1 or not 0.0 < cap < 1.0 or min(handle, dial) <= 0 or not 0.0 < p <= 1.0:
        raise ValueError("need collectors >= 1, 0 < cap < 1, handle, dial > 0, 0 < p <= 1")
    kmax = 3 * n + 10 if max_in_flight is None else int(max_in_flight)
    mu, r = 1.0 / handle, 1.0 / dial
    rate = n * mu + kmax * r  # uniformisation constant
    width = kmax + 1

    def index(j: int, k: int) -> int:
        return j * width + k

    states = (n + 1) * width
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    reward: list[float] = []
    cost: list[float] = []  # drops - cap x live answers, per unit of time
    pre_k: list[int] = []
    post_k: list[int] = []
    busy: list[int] = []
    var = 0
    for j in range(n + 1):
        for k in range(width):
            for a in range(k, width):  # post-decision calls in flight
                rows.append(index(j, k))
                cols.append(var)
                vals.append(1.0)
                moves = {index(j, a): 1.0 - (j * mu + a * r) / rate}
                if j > 0:
                    s = index(j - 1, a)
                    moves[s] = moves.get(s, 0.0) + j * mu / rate
                if a > 0:
                    answered = index(j + 1, a - 1) if j < n else index(j, a - 1)
                    moves[answered] = moves.get(answered, 0.0) + a * r * p / rate
                    fail = index(j, a - 1)
                    moves[fail] = moves.get(fail, 0.0) + a * r * (1.0 - p) / rate
                for s, prob in moves.items():
                    rows.append(s)
                    cols.append(var)
                    vals.append(-prob)
                answers = a * r * p
                reward.append(j / n)
                cost.append((answers if j == n else 0.0) - cap * answers)
                pre_k.append(k)
                post_k.append(a)
                busy.append(j)
                var += 1
    balance = sparse.csr_matrix((vals, (rows, cols)), shape=(states, var))
    a_eq = sparse.vstack([balance, sparse.csr_matrix(np.ones((1, var)))])
    b_eq = np.zeros(states + 1)
    b_eq[-1] = 1.0
    result = optimize.linprog(
        -np.asarray(reward),
        A_ub=np.asarray(cost)[None, :],
        b_ub=[0.0],
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        raise ValueError(f"the programme has no solution: {result.message}")
    x = np.asarray(result.x)
    answer_rate = np.asarray(post_k, dtype=np.float64) * r * p
    is_drop = np.asarray(busy) == n
    live_total = float(x @ answer_rate)
    drops = float(x[is_drop] @ answer_rate[is_drop])
    target = []
    pre = np.asarray(pre_k)
    post = np.asarray(post_k, dtype=np.float64)
    j_of = np.asarray(busy)
    for j in range(n + 1):
        seen = (j_of == j) & (x > 1e-7)  # below this: the solver's round-off, not a choice
        mask = seen & (post > pre)
        mass = float(x[mask].sum())
        if not seen.any():
            target.append(float("nan"))
        else:
            target.append(float(x[mask] @ post[mask]) / mass if mass > 0 else 0.0)
    abandon = drops / live_total if live_total > 0 else 0.0
    return OptimalPolicy(-float(result.fun), abandon, tuple(target))
