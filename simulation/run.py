"""One replication: a scenario, a pacer and a seed in, the shift's metrics out.

Replication ``r`` of a run with seed ``s`` draws from ``SeedSequence(s, spawn_key=(r,))``,
whatever the pacer: every pacer meets the same debtors and collectors in replication r
(common random numbers), which sharpens comparisons, and replications can run in any order
or process and still give the same numbers.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from dialer.domain.agents import CollectorState
from dialer.engine import Engine, EngineConfig
from dialer.pacing.base import Pacer
from dialer.pacing.blending import ErlangReservation, FixedReservation, InboundReservation
from dialer.pacing.policies import make_pacer
from simulation.blind import BlindPacer
from simulation.inbound import InboundMetrics
from simulation.loop import EPOCH, Simulator
from simulation.scenario import Scenario

__all__ = [
    "ReplicationMetrics",
    "build_engine",
    "build_pacer",
    "check_pacer",
    "default_jobs",
    "measure",
    "process_pool",
    "run_replication",
    "run_replications",
]

# The blind dialer must not be limited by the engine's line cap.
_BLIND_MAX_LINES = 1000.0


@dataclass(frozen=True, slots=True)
class ReplicationMetrics:
    """One shift's results, measured over the shift (calls still up at its end are cut)."""

    occupancy: float  # (talk + wrap) / logged-in time; pauses count as logged in
    talk_minutes_per_collector_hour: float
    connects_per_collector_hour: float  # calls bridged to a collector
    abandon_rate: float  # abandoned / live answers
    dials: int
    live_answers: int
    abandoned: int
    # Scenarios with machines (simulation.machines); 0 elsewhere. `abandon_rate` is then
    # the rate as the profile counts it: with a counted AMD false-positive rate, the
    # estimate (that rate x machine verdicts) added to abandons and live answers alike.
    machine_verdicts: int = 0
    false_positives: int = 0  # people AMD called machines (the truth the estimate stands for)
    misrouted_machines: int = 0  # machines put through to a collector
    messages_left: int = 0
    true_abandon_rate: float = 0.0  # (abandoned + false positives) / (live + false positives)
    inbound: InboundMetrics | None = None  # blended scenarios only
    has_machines: bool = False  # the scenario has a machines section

    def as_dict(self) -> dict[str, float | int | dict[str, float | int]]:
        """The issue's fixed shape; the machine figures only for scenarios with machines,
        the inbound ones only for blended scenarios."""
        out: dict[str, float | int | dict[str, float | int]] = {
            "occupancy": self.occupancy,
            "talk_minutes_per_collector_hour": self.talk_minutes_per_collector_hour,
            "connects_per_collector_hour": self.connects_per_collector_hour,
            "abandon_rate": self.abandon_rate,
            "dials": self.dials,
            "live_answers": self.live_answers,
            "abandoned": self.abandoned,
        }
        if self.has_machines:
            out |= {
                "machine_verdicts": self.machine_verdicts,
                "false_positives": self.false_positives,
                "misrouted_machines": self.misrouted_machines,
                "messages_left": self.messages_left,
                "true_abandon_rate": self.true_abandon_rate,
            }
        if self.inbound is not None:
            out["inbound"] = self.inbound.as_dict()
        return out


BLENDED = "predictive+inbound"  # predictive keeping an Erlang-C reservation for inbound
FIXED_RESERVE = "predictive+reserve:"  # predictive keeping K collectors free for inbound


def _reservation(spec: str, scenario: Scenario) -> InboundReservation:
    inbound = scenario.inbound
    if inbound is None:
        raise ValueError(f"pacer {spec!r} needs a scenario with inbound calls")
    if spec == BLENDED:
        return ErlangReservation(inbound.service_level, inbound.answer_within)
    try:
        return FixedReservation(int(spec.removeprefix(FIXED_RESERVE)))
    except ValueError as exc:
        raise ValueError(f"pacer {spec!r}: {exc}") from None


def build_pacer(spec: str, scenario: Scenario) -> Pacer:
    """A pacer by name: manual, preview, progressive, ratio:K, adaptive, predictive (when
    installed), blind:RATE, and on a blended scenario predictive+inbound (the Erlang-C
    reservation) or predictive+reserve:K (K collectors kept free); raises ValueError naming
    the spec. Plain predictive on a blended scenario ignores inbound."""
    if spec == BLENDED or spec.startswith(FIXED_RESERVE):
        return make_pacer(
            "predictive", abandon_cap=scenario.abandon_cap, inbound=_reservation(spec, scenario)
        )
    name, _, arg = spec.partition(":")
    if name.strip().lower() == "blind":
        try:
            return BlindPacer(float(arg))
        except ValueError as exc:
            raise ValueError(f"pacer {spec!r}: {exc}") from None
    options = {}
    counted = _counted_false_positive_rate(scenario)
    if counted and name.strip().lower() == "predictive":
        options["machine_false_positive_rate"] = counted
    try:
        return make_pacer(spec, abandon_cap=scenario.abandon_cap, **options)
    except ImportError as exc:  # predictive before its module exists
        raise ValueError(f"pacer {spec!r} is not available: {exc}") from None


def _counted_false_positive_rate(scenario: Scenario) -> float:
    return scenario.amd.counted_false_positive_rate if scenario.amd is not None else 0.0


def check_pacer(spec: str, scenario: Scenario) -> None:
    """Fail early (ValueError) on a pacer name that cannot be built."""
    build_pacer(spec, scenario)


def build_engine(
    scenario: Scenario, spec: str, rng: np.random.Generator, cap_guard: bool = False
) -> Engine:
    """The production engine configured for this scenario and pacer (no compliance guard:
    the simulated cases are all callable). The rival pacers run unguarded by default: the
    abandon-cap guard the daemon always installs (dialer.engine.cap_guard) is off, so the
    suite measures each pacer on its own; ``cap_guard`` puts it on, over the shift, at the
    scenario's cap."""
    pacer = build_pacer(spec, scenario)
    manual = spec.strip().lower() == "manual"
    # Keep the hopper well ahead of the largest burst a pacer may launch at once.
    low_water = max(20, 4 * scenario.collectors)
    config = EngineConfig(
        campaign=scenario.name,
        connect_grace=scenario.connect_grace,
        ring_timeout=scenario.ring_timeout,
        max_lines_per_collector=_BLIND_MAX_LINES if isinstance(pacer, BlindPacer) else 3.0,
        hopper_low_water=low_water,
        hopper_batch=2 * low_water,
        preview_dial_delay=scenario.manual_dial_overhead if manual else 0.0,
        abandon_cap=scenario.abandon_cap if cap_guard else None,
        on_machine="hangup" if scenario.amd is None else scenario.amd.on_machine,
        machine_false_positive_rate=_counted_false_positive_rate(scenario),
        inbound_max_wait=60.0 if scenario.inbound is None else scenario.inbound.max_wait,
    )
    return Engine(config, pacer, rng)


def run_replication(
    scenario: Scenario, pacer: str, seed: int, replication: int = 0, cap_guard: bool = False
) -> ReplicationMetrics:
    """Simulate one shift and measure it (unguarded unless ``cap_guard``: build_engine)."""
    # A fourth child for who answers (simulation.machines), a fifth for inbound callers:
    # the first three are the same whatever the count, so scenarios without machines or
    # inbound calls draw what they always drew.
    engine_seq, carrier_seq, agent_seq, answer_seq, inbound_seq = np.random.SeedSequence(
        seed, spawn_key=(replication,)
    ).spawn(5)
    engine = build_engine(scenario, pacer, np.random.default_rng(engine_seq), cap_guard)
    sim = Simulator(
        scenario,
        engine,
        carrier_rng=np.random.default_rng(carrier_seq),
        agent_rng=np.random.default_rng(agent_seq),
        start=EPOCH,
        answer_rng=np.random.default_rng(answer_seq),
        inbound_rng=np.random.default_rng(inbound_seq),
    )
    sim.run()
    metrics = measure(engine, sim.end)
    if sim.inbound is not None:
        metrics = replace(metrics, inbound=sim.inbound.metrics())
    if sim.world is None:
        return metrics
    return with_machines(metrics, engine, sim, _counted_false_positive_rate(scenario))


def with_machines(
    metrics: ReplicationMetrics, engine: Engine, sim: Simulator, counted_rate: float
) -> ReplicationMetrics:
    """The shift's metrics with what machines did: the abandon rate as the profile counts
    it (the estimated false positives in both terms), and the true one beside it."""
    assert sim.world is not None
    world = sim.world.stats
    stats = engine.stats
    estimate = counted_rate * stats.machine_verdicts
    live, drops = stats.live_answers + estimate, stats.abandoned + estimate
    true_live = stats.live_answers + world.false_positives
    true_drops = stats.abandoned + world.false_positives
    return replace(
        metrics,
        abandon_rate=drops / live if live else 0.0,
        machine_verdicts=stats.machine_verdicts,
        false_positives=world.false_positives,
        misrouted_machines=world.misrouted,
        messages_left=world.messages_left,
        true_abandon_rate=true_drops / true_live if true_live else 0.0,
        has_machines=True,
    )


def measure(engine: Engine, now: float) -> ReplicationMetrics:
    """The metrics of the shift so far, from the engine's collectors and counters."""
    talk = wrap = logged = 0.0
    for collector in engine.collectors.values():
        seconds = collector.seconds
        talk += seconds.get("on_call", 0.0)
        wrap += seconds.get("wrap_up", 0.0)
        logged += sum(seconds.values())
        if collector.state is not CollectorState.LOGGED_OUT:
            current = now - collector.since  # the state still running at the end
            logged += current
            if collector.state is CollectorState.ON_CALL:
                talk += current
            elif collector.state is CollectorState.WRAP_UP:
                wrap += current
    stats = engine.stats
    hours = logged / 3600.0
    return ReplicationMetrics(
        occupancy=(talk + wrap) / logged if logged > 0 else 0.0,
        talk_minutes_per_collector_hour=talk / 60.0 / hours if hours > 0 else 0.0,
        connects_per_collector_hour=stats.bridged / hours if hours > 0 else 0.0,
        abandon_rate=stats.abandoned / stats.live_answers if stats.live_answers else 0.0,
        dials=stats.dials,
        live_answers=stats.live_answers,
        abandoned=stats.abandoned,
    )


def run_replications(
    scenario: Scenario,
    pacer: str,
    replications: int,
    seed: int,
    pool: Executor | None = None,
) -> list[ReplicationMetrics]:
    """Replications 0..R-1 in order, in this process or spread over ``pool`` (a process
    pool: the result is the same either way)."""
    if replications < 1:
        raise ValueError(f"replications must be >= 1, got {replications}")
    check_pacer(pacer, scenario)
    if pool is None:
        return [run_replication(scenario, pacer, seed, r) for r in range(replications)]
    futures = [pool.submit(run_replication, scenario, pacer, seed, r) for r in range(replications)]
    return [f.result() for f in futures]


def process_pool(jobs: int | None = None) -> Executor | None:
    """A process pool of ``jobs`` workers (default: one per core), or None for one job."""
    jobs = default_jobs() if jobs is None else jobs
    return ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None


def default_jobs() -> int:
    """Worker processes for batch runs: one per core."""
    return max(1, os.cpu_count() or 1)
