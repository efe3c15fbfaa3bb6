"""The blended pacing benchmark: predictive with its Erlang-C reservation against a fixed
reservation and against no reservation, over the same shifts (common random numbers).

For a scenario with inbound calls it runs ``predictive+inbound`` (the reservation sized by
Erlang C with its tuned aim, dialer.pacing.blending), the fixed reservations
``predictive+reserve:K`` for K = 1, 2, ... up to the smallest whose shifts hold the inbound
service level in at least 95% of them, and ``predictive`` ignoring inbound (no
reservation, queued callers not counted). A shift holds the abandon cap when its outbound
abandon rate is at most the cap, and the service level when its share of inbound calls
answered within the target time (over all offered, early hang-ups included) is at least
the target. ``paired``: the occupancy of the Erlang-C pacer minus the fixed one's, shift by
shift.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from scipy import stats

from simulation.report import PacerResult
from simulation.run import BLENDED, FIXED_RESERVE, run_replication, run_replications
from simulation.scenario import Scenario

__all__ = ["HELD_TARGET", "blended_summary", "run_blended"]

HELD_TARGET = 0.95
NO_RESERVATION = "predictive"

Progress = Callable[[str], None]


def sl_held(result: PacerResult) -> float:
    """Share of shifts that held the inbound service level."""
    held = [r.inbound.held for r in result.replications if r.inbound is not None]
    return sum(held) / len(held) if held else 0.0


def _inbound_mean(result: PacerResult, key: str) -> float:
    values = [float(getattr(r.inbound, key)) for r in result.replications if r.inbound]
    return math.fsum(values) / len(values) if values else math.nan


def line(scenario: Scenario, result: PacerResult, seconds: float) -> str:
    """One progress line; pacing_suite's `table` reads its head like the others'."""
    assert scenario.inbound is not None
    offered = _inbound_mean(result, "offered")
    abandoned = _inbound_mean(result, "abandoned")
    return (
        f"  {scenario.name:<11} {result.pacer:<12} occupancy {result.mean('occupancy'):.4f} "
        f"abandon {result.mean('abandon_rate'):.2%} held {result.cap_held_fraction:.0%} "
        f"inbound SL {_inbound_mean(result, 'service_level'):.3f} held {sl_held(result):.0%} "
        f"(target {scenario.inbound.service_level:.0%} in {scenario.inbound.answer_within:g} s) "
        f"wait {_inbound_mean(result, 'mean_wait'):.1f} s "
        f"inbound abandoned {abandoned / offered if offered else 0.0:.1%} ({seconds:.0f} s)"
    )


def paired(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, int, int]:
    """Mean occupancy of rows a - b per shift, its 95% Student-t half-width, shifts a is
    ahead in."""
    diff = [
        float(x["occupancy"]) - float(y["occupancy"])
        for x, y in zip(a["replications"], b["replications"], strict=True)
    ]
    n = len(diff)
    mean = math.fsum(diff) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diff) / (n - 1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else math.inf
    return mean, half, sum(d > 0 for d in diff), n


def run_blended(
    scenario: Scenario,
    replications: int,
    seed: int,
    pool: Executor | None = None,
    progress: Progress | None = None,
    max_reserve: int | None = None,
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every pacer of the module doc on ``scenario``; returns the JSON-ready summary.

    ``earlier``: this scenario's summary from an earlier run; a baseline's row is taken
    from it, instead of running its shifts again, when it has as many shifts and its first
    and last shifts are reproduced exactly here (same seed, same code), so a change to the
    Erlang-C pacer alone is measured against baselines it cannot have changed.
    """
    if scenario.inbound is None:
        raise ValueError(f"scenario {scenario.name!r} has no inbound calls")
    say = progress or (lambda _: None)
    rows: dict[str, dict[str, Any]] = {}
    kept = {row["pacer"]: row for row in (earlier or {}).get("results", ())}

    def evaluate(spec: str) -> float:
        """Runs (or reuses) ``spec``; returns the share of shifts holding the SL."""
        old = kept.get(spec)
        if (
            spec != BLENDED
            and old is not None
            and len(old.get("replications") or ()) == replications
            and _reproduced(old, scenario, spec, seed, pool)
        ):
            rows[spec] = old
            say(
                f"  {scenario.name:<11} {spec:<12} reused from the earlier run "
                f"(its shifts 1 and {replications} reproduced exactly)"
            )
            return float(old["service_level_held_fraction"])
        t0 = time.perf_counter()
        reps = run_replications(scenario, spec, replications, seed, pool)
        result = PacerResult(spec, scenario.abandon_cap, tuple(reps))
        say(line(scenario, result, time.perf_counter() - t0))
        rows[spec] = _row(result)
        return sl_held(result)

    evaluate(BLENDED)
    fixed: str | None = None
    for k in range(1, (max_reserve or scenario.collectors) + 1):
        spec = f"{FIXED_RESERVE}{k}"
        if evaluate(spec) >= HELD_TARGET:
            fixed = spec
            break
    evaluate(NO_RESERVATION)
    return blended_summary(scenario, rows, fixed, seed)


def _reproduced(
    old: dict[str, Any], scenario: Scenario, spec: str, seed: int, pool: Executor | None
) -> bool:
    shifts = old["replications"]
    last = len(shifts) - 1
    if pool is None:
        again = [run_replication(scenario, spec, seed, r) for r in (0, last)]
    else:
        futures = [pool.submit(run_replication, scenario, spec, seed, r) for r in (0, last)]
        again = [f.result() for f in futures]
    # JSON keeps a float's shortest repr, which reads back to the same float.
    return [a.as_dict() for a in again] == [shifts[0], shifts[last]]


def _row(result: PacerResult) -> dict[str, Any]:
    return {
        "pacer": result.pacer,
        "occupancy": result.mean("occupancy"),
        "abandon_rate": result.mean("abandon_rate"),
        "cap_held_fraction": result.cap_held_fraction,
        "service_level": _inbound_mean(result, "service_level"),
        "service_level_held_fraction": sl_held(result),
        "mean_wait": _inbound_mean(result, "mean_wait"),
        "replications": [r.as_dict() for r in result.replications],
    }


def blended_summary(
    scenario: Scenario, rows: dict[str, dict[str, Any]], fixed: str | None, seed: int
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": seed,
        "fixed": fixed,
        "results": list(rows.values()),
    }
    if fixed is not None:
        mean, half, ahead, n = paired(rows[BLENDED], rows[fixed])
        summary["paired_vs_fixed"] = {"mean": mean, "half_width": half, "ahead": ahead, "n": n}
    return summary


def write(out: Path, summaries: Sequence[dict[str, Any]]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "blended.json"
    path.write_text(json.dumps(list(summaries), indent=2) + "\n", encoding="utf-8")
    return path


def table(summaries: Sequence[dict[str, Any]]) -> str:
    """The Markdown table the README quotes."""
    lines = [
        "| scenario | pacer | occupancy | abandon (cap held) | inbound SL (held) | wait |",
        "|---|---|---|---|---|---|",
    ]
    for summary in summaries:
        for row in summary["results"]:
            name = row["pacer"]
            if name == summary["fixed"]:
                name += " (smallest fixed holding the SL)"
            lines.append(
                f"| {summary['scenario']} | {name} | {row['occupancy']:.4f} | "
                f"{row['abandon_rate']:.2%} ({row['cap_held_fraction']:.0%}) | "
                f"{row['service_level']:.3f} ({row['service_level_held_fraction']:.0%}) | "
                f"{row['mean_wait']:.1f} s |"
            )
        pair = summary.get("paired_vs_fixed")
        if pair:
            lines.append(
                f"\n{summary['scenario']}: predictive+inbound - {summary['fixed']} occupancy "
                f"{pair['mean']:+.4f} ± {pair['half_width']:.4f} (95% CI), ahead in "
                f"{pair['ahead']}/{pair['n']} shifts"
            )
    return "\n".join(lines)
