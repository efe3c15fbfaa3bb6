"""Summaries of replications: means with 95% confidence intervals, the table printed by
``dialer simulate`` and its JSON document.

Means get Student-t intervals (replications are independent and each is an average over a
whole shift, so roughly normal); the share of replications that held the cap gets a
Wilson interval, which stays inside [0, 1] when every replication held it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

from simulation.run import ReplicationMetrics

__all__ = [
    "METRICS",
    "Interval",
    "PacerResult",
    "format_table",
    "mean_ci",
    "results_json",
    "wilson_interval",
]

# The headline metrics, in the order of the JSON "mean" object and the table.
METRICS = (
    "occupancy",
    "talk_minutes_per_collector_hour",
    "connects_per_collector_hour",
    "abandon_rate",
)


@dataclass(frozen=True, slots=True)
class Interval:
    mean: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and Student-t confidence interval; a single value has an infinite interval."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, -math.inf, math.inf)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(stats.t.ppf(0.5 + level / 2.0, n - 1)) * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Share of successes with the Wilson score interval."""
    if n <= 0:
        raise ValueError("no trials")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    share = successes / n
    denom = 1.0 + z * z / n
    centre = (share + z * z / (2 * n)) / denom
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / denom
    return Interval(share, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class PacerResult:
    """Every replication of one pacer on one scenario."""

    pacer: str
    abandon_cap: float
    replications: tuple[ReplicationMetrics, ...]

    def interval(self, metric: str) -> Interval:
        return mean_ci([float(getattr(r, metric)) for r in self.replications])

    def mean(self, metric: str) -> float:
        return math.fsum(float(getattr(r, metric)) for r in self.replications) / len(
            self.replications
        )

    @property
    def cap_held(self) -> int:
        return sum(r.abandon_rate <= self.abandon_cap for r in self.replications)

    @property
    def cap_held_fraction(self) -> float:
        return self.cap_held / len(self.replications)

    def cap_held_interval(self) -> Interval:
        return wilson_interval(self.cap_held, len(self.replications))


def results_json(scenario: str, results: Sequence[PacerResult]) -> dict[str, Any]:
    """The document ``dialer simulate --json`` writes (shape fixed by the issue)."""
    return {
        "scenario": scenario,
        "results": [
            {
                "pacer": result.pacer,
                "mean": {metric: result.mean(metric) for metric in METRICS},
                "cap_held_fraction": result.cap_held_fraction,
                "replications": [r.as_dict() for r in result.replications],
            }
            for result in results
        ],
    }


def _pm(interval: Interval, scale: float, digits: int) -> str:
    if not math.isfinite(interval.half_width):
        return f"{interval.mean * scale:.{digits}f}"
    return f"{interval.mean * scale:.{digits}f} ± {interval.half_width * scale:.{digits}f}"


def format_table(scenario: str, results: Sequence[PacerResult]) -> str:
    """A fixed-width table, one row per pacer, each figure with its 95% interval."""
    header = (
        "pacer",
        "occupancy",
        "talk min/coll-h",
        "connects/coll-h",
        "abandon %",
        "cap held (95% CI)",
    )
    rows = [header]
    for r in results:
        held = r.cap_held_interval()
        rows.append(
            (
                r.pacer,
                _pm(r.interval("occupancy"), 1.0, 4),
                _pm(r.interval("talk_minutes_per_collector_hour"), 1.0, 2),
                _pm(r.interval("connects_per_collector_hour"), 1.0, 2),
                _pm(r.interval("abandon_rate"), 100.0, 2),
                f"{held.mean:.0%} ({held.low:.0%}-{held.high:.0%})",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    reps = len(results[0].replications) if results else 0
    cap = results[0].abandon_cap if results else 0.0
    title = f"{scenario}: {reps} replication(s), mean ± 95% CI, abandon cap {cap:.1%}"
    return "\n".join([title, *lines])
