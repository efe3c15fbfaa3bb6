"""``dialer bench pacing``: every pacer on the standard scenarios, the report and the plots.

For each scenario it runs manual, progressive, adaptive, the best fixed ratio and, once
its module exists, predictive, over the same replications (common random numbers). The
best fixed ratio is the largest K on a grid over [1.0, 4.0] whose replications held the
cap in at least 95% of shifts: occupancy grows with K and so does the abandon rate, so a
bisection over the grid finds it in about five evaluations instead of thirty-one.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from simulation.report import PacerResult, results_json
from simulation.run import default_jobs, process_pool, run_replications
from simulation.scenario import Scenario, load_scenario, resolve_scenario
from simulation.theory import manual_overhead_for_gain

__all__ = [
    "SUITE",
    "BenchSettings",
    "ScenarioRun",
    "best_ratio",
    "field_rows",
    "ratio_grid",
    "ratio_spec",
    "run_scenario",
    "run_suite",
    "suite_pacers",
]

SUITE = ("s1-exp-n5", "s1-exp-n10", "s1-exp-n20", "s1-exp-n50", "b1", "b2", "b3", "b4")
CLAIMED_TALK_GAIN = 0.5  # the field claim: +50% effective talk time
HELD_TARGET = 0.95  # a setting "holds the cap" when >= 95% of its shifts stay under it
RATIO_LOW, RATIO_HIGH = 1.0, 4.0

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BenchSettings:
    replications: int = 20
    seed: int = 1
    ratio_step: float = 0.1
    quick: bool = False

    @classmethod
    def make(cls, replications: int, seed: int, quick: bool) -> BenchSettings:
        if quick:
            return cls(min(replications, 5), seed, 0.25, True)
        return cls(replications, seed, 0.1, False)


@dataclass(slots=True)
class ScenarioRun:
    scenario: Scenario
    results: list[PacerResult] = field(default_factory=list)
    best_ratio: float | None = None
    ratio_trials: dict[float, float] = field(default_factory=dict)  # K -> cap held share
    seconds: float = 0.0

    def result(self, pacer: str) -> PacerResult | None:
        return next((r for r in self.results if r.pacer == pacer), None)

    def automated(self) -> list[PacerResult]:
        return [r for r in self.results if r.pacer != "manual"]


def predictive_available() -> bool:
    return importlib.util.find_spec("dialer.pacing.predictive") is not None


def suite_pacers() -> list[str]:
    """The fixed pacers run on every scenario (the best ratio is searched separately)."""
    pacers = ["manual", "progressive", "adaptive"]
    if predictive_available():
        pacers.append("predictive")
    return pacers


def ratio_grid(step: float) -> list[float]:
    count = round((RATIO_HIGH - RATIO_LOW) / step)
    return [round(RATIO_LOW + i * step, 6) for i in range(count + 1)]


def best_ratio(
    evaluate: Callable[[float], PacerResult], grid: Sequence[float]
) -> tuple[float | None, dict[float, PacerResult]]:
    """The largest K in ``grid`` whose result holds the cap in >= 95% of shifts, by
    bisection (assumes holding is monotone in K), and every result computed."""
    tried: dict[float, PacerResult] = {}

    def holds(i: int) -> bool:
        k = grid[i]
        if k not in tried:
            tried[k] = evaluate(k)
        return tried[k].cap_held_fraction >= HELD_TARGET

    if not holds(0):
        return None, tried
    lo, hi = 0, len(grid)  # grid[lo] holds; grid[hi] (past the end) is taken to fail
    if holds(len(grid) - 1):
        lo = len(grid) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid
        else:
            hi = mid
    return grid[lo], tried


def ratio_spec(k: float) -> str:
    return f"ratio:{k:g}"


def run_scenario(
    scenario: Scenario,
    settings: BenchSettings,
    pool: Executor | None = None,
    progress: Progress | None = None,
    pacers: Sequence[str] | None = None,
) -> ScenarioRun:
    started = time.perf_counter()
    run = ScenarioRun(scenario)
    say = progress or (lambda _: None)
    done: dict[str, PacerResult] = {}

    def evaluate(spec: str) -> PacerResult:
        if spec in done:  # a fixed pacer the ratio search meets again
            return done[spec]
        if spec == ratio_spec(1.0) and "progressive" in done:
            # ceil(1.0 x ready) - in flight is progressive's rule: same seeds, same shifts.
            done[spec] = PacerResult(spec, scenario.abandon_cap, done["progressive"].replications)
            return done[spec]
        t0 = time.perf_counter()
        reps = run_replications(scenario, spec, settings.replications, settings.seed, pool)
        result = PacerResult(spec, scenario.abandon_cap, tuple(reps))
        say(
            f"  {scenario.name:<11} {spec:<12} occupancy {result.mean('occupancy'):.4f} "
            f"abandon {result.mean('abandon_rate'):.2%} held {result.cap_held_fraction:.0%} "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        done[spec] = result
        return result

    for spec in suite_pacers() if pacers is None else pacers:
        run.results.append(evaluate(spec))
    k, tried = best_ratio(lambda k: evaluate(ratio_spec(k)), ratio_grid(settings.ratio_step))
    run.ratio_trials = {key: r.cap_held_fraction for key, r in sorted(tried.items())}
    run.best_ratio = k
    if k is not None and tried[k] not in run.results:
        # Shown after the fixed baselines, before predictive.
        at = len(run.results) - (1 if run.result("predictive") else 0)
        run.results.insert(at, tried[k])
    run.seconds = time.perf_counter() - started
    return run


@dataclass(frozen=True, slots=True)
class FieldRow:
    """Manual dialing against one automated pacer on one scenario."""

    scenario: str
    pacer: str
    collectors: int
    manual_talk: float  # talk minutes per collector-hour
    talk: float
    manual_connects: float  # connects per collector-hour
    connects: float
    overhead_for_claim: float | None = None  # manual overhead (s) giving +50% talk

    @property
    def talk_gain(self) -> float:
        return self.talk / self.manual_talk - 1.0

    @property
    def connects_factor(self) -> float:
        return self.connects / self.manual_connects

    @property
    def collectors_needed(self) -> float:
        """Collectors this pacer needs for the connects per shift of the manual team,
        scaling connects per collector-hour linearly (conservative for the predictive
        pacers, whose efficiency grows with team size)."""
        return self.collectors * self.manual_connects / self.connects


def field_rows(runs: Sequence[ScenarioRun]) -> list[FieldRow]:
    rows = []
    for run in runs:
        manual = run.result("manual")
        if manual is None:
            continue
        for result in run.automated():
            rows.append(
                FieldRow(
                    run.scenario.name,
                    result.pacer,
                    run.scenario.collectors,
                    manual.mean("talk_minutes_per_collector_hour"),
                    result.mean("talk_minutes_per_collector_hour"),
                    manual.mean("connects_per_collector_hour"),
                    result.mean("connects_per_collector_hour"),
                    manual_overhead_for_gain(
                        run.scenario, result.mean("occupancy"), CLAIMED_TALK_GAIN
                    ),
                )
            )
    return rows


def run_suite(
    out: Path,
    *,
    replications: int = 20,
    seed: int = 1,
    quick: bool = False,
    jobs: int | None = None,
    scenarios: Sequence[str] = SUITE,
    pacers: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Path:
    """Run the suite and write ``pacing.md``, ``pacing.json`` and the plots into ``out``;
    returns the Markdown report's path. ``pacers`` replaces the fixed pacers of
    :func:`suite_pacers` (the best-ratio search always runs)."""
    from simulation.bench_report import write_markdown, write_plots

    settings = BenchSettings.make(replications, seed, quick)
    loaded = [load_scenario(resolve_scenario(name)) for name in scenarios]
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = default_jobs() if jobs is None else jobs
    pool = process_pool(jobs)
    runs: list[ScenarioRun] = []
    try:
        for scenario in loaded:
            runs.append(run_scenario(scenario, settings, pool, progress, pacers))
    finally:
        if pool is not None:
            pool.shutdown()
    wall = time.perf_counter() - started
    document = {
        "settings": {
            "replications": settings.replications,
            "seed": settings.seed,
            "ratio_step": settings.ratio_step,
            "quick": settings.quick,
        },
        "scenarios": [
            {
                **results_json(run.scenario.name, run.results),
                "best_ratio": run.best_ratio,
                "ratio_trials": {f"{k:g}": v for k, v in run.ratio_trials.items()},
            }
            for run in runs
        ],
    }
    (out / "pacing.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    plots = write_plots(out, runs)
    return write_markdown(out, runs, settings, plots, wall=wall, jobs=jobs)
