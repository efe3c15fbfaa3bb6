"""Closed forms the simulator must reproduce, and the published optima it is compared with.

Progressive keeps one dial in flight per ready collector, so each idle collector is matched
by a chain of dials that ends at the first live answer; that chain lasts d/p on average,
where d = p E[answer delay] + (1 - p) E[failure delay], for any delay distributions. By
Little's law the busy and idle collectors then stand in the ratio h : d/p (h the mean
talk + wrap), so occupancy = h / (h + d/p). Manual dialing adds the hand-dialing overhead
o to every attempt: h / (h + (o + d)/p). Both need a constant answer probability, no ring
timeout (it would censor answers) and no pauses.
"""

from __future__ import annotations

import math

from dialer.pacing.erlang import erlang_b
from simulation.scenario import Scenario

__all__ = [
    "S1_OPTIMUM_AT_CAP",
    "blind_abandon_rate",
    "handle_time",
    "manual_occupancy",
    "manual_overhead_for_gain",
    "mean_dial_resolution",
    "progressive_occupancy",
    "progressive_occupancy_finite",
]

# The best occupancy any non-anticipating policy reaches at a 3% abandon cap on the
# exponential s1 scenarios (issue 5: the constrained Markov decision problem solved
# exactly), by team size. Gain capture G = (occupancy - progressive) / (optimum -
# progressive).
S1_OPTIMUM_AT_CAP: dict[int, float] = {5: 0.8326, 10: 0.8616, 20: 0.8974, 50: 0.9387}


def handle_time(scenario: Scenario) -> float:
    """h: mean talk + wrap-up seconds."""
    return scenario.talk.mean() + scenario.wrap.mean()


def mean_dial_resolution(scenario: Scenario, p: float) -> float:
    """d: mean seconds from dial to a live answer or a failure."""
    return p * scenario.answer_delay.mean() + (1.0 - p) * scenario.failure_delay.mean()


def _constant_p(scenario: Scenario) -> float | None:
    probs = set(scenario.answer_probability)
    if len(probs) != 1 or math.isfinite(scenario.ring_timeout):
        return None
    if scenario.pauses is not None or (scenario.breaks and scenario.breaks.probability > 0):
        return None
    if scenario.machines is not None:  # machines and AMD delays: no closed form here
        return None
    return probs.pop()


def progressive_occupancy(scenario: Scenario) -> float | None:
    """h / (h + d/p) in steady state, or None when the scenario breaks its assumptions."""
    p = _constant_p(scenario)
    if p is None:
        return None
    h = handle_time(scenario)
    return h / (h + mean_dial_resolution(scenario, p) / p)


def manual_occupancy(scenario: Scenario) -> float | None:
    """h / (h + (o + d)/p): every attempt also costs the hand-dialing overhead o."""
    p = _constant_p(scenario)
    if p is None:
        return None
    h = handle_time(scenario)
    return h / (h + (scenario.manual_dial_overhead + mean_dial_resolution(scenario, p)) / p)


def manual_overhead_for_gain(scenario: Scenario, occupancy: float, gain: float) -> float | None:
    """The hand-dialing overhead per attempt at which a pacer reaching ``occupancy`` would
    give ``gain`` more talk time than manual dialing (talk share is proportional to
    occupancy for both): solve h / (h + (o + d)/p) = occupancy / (1 + gain) for o. None
    without a closed form; negative when no overhead is small enough."""
    p = _constant_p(scenario)
    if p is None or occupancy <= 0:
        return None
    h = handle_time(scenario)
    return p * h * ((1.0 + gain) / occupancy - 1.0) - mean_dial_resolution(scenario, p)


def progressive_occupancy_finite(scenario: Scenario, hours: float | None = None) -> float:
    """Expected occupancy over a shift that starts with everyone idle, for the exponential
    model (exponential talk, no wrap, exponential delays): each collector is then a
    two-state Markov chain with rates a = p/d (idle -> busy) and b = 1/h, and the mean of
    the busy indicator over [0, T] is pi (1 - (1 - e^{-(a+b)T}) / ((a+b)T))."""
    p = _constant_p(scenario)
    if p is None:
        raise ValueError(f"{scenario.name}: no closed form (answer rate varies or pauses)")
    h = handle_time(scenario)
    d = mean_dial_resolution(scenario, p)
    rate = p / d + 1.0 / h
    t = scenario.shift_seconds if hours is None else hours * 3600.0
    steady = h / (h + d / p)
    return steady * (1.0 - (1.0 - math.exp(-rate * t)) / (rate * t))


def blind_abandon_rate(scenario: Scenario, dial_rate: float) -> float:
    """Erlang B for a blind Poisson dialer: n collectors, offered load rate x p x h."""
    p = _constant_p(scenario)
    if p is None:
        raise ValueError(f"{scenario.name}: no closed form (answer rate varies or pauses)")
    return erlang_b(scenario.collectors, dial_rate * p * handle_time(scenario))
