"""The next-event loop's semantics: what the simulated world does with each command."""

from __future__ import annotations

import sys
import types
from typing import Any, ClassVar

import numpy as np
import pytest
from sim_helpers import make_scenario

from dialer.domain.agents import CollectorState
from dialer.pacing.policies import ProgressivePacer
from simulation.loop import EPOCH, Simulator
from simulation.run import build_engine, build_pacer, measure, run_replication
from simulation.scenario import Scenario


def _simulate(scenario: Scenario, pacer: str = "progressive", seed: int = 3) -> Simulator:
    rngs = [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))) for i in range(3)]
    engine = build_engine(scenario, pacer, rngs[0])
    sim = Simulator(scenario, engine, rngs[1], rngs[2])
    sim.run()
    return sim


def test_every_dial_is_accounted_for() -> None:
    sim = _simulate(
        make_scenario(collectors=6, wrap={"dist": "exponential", "mean": 20}), "ratio:2"
    )
    stats = sim.engine.stats
    assert stats.dials > 300
    in_flight = sum(1 for c in sim.engine.calls.values() if c.dialed_at is not None)
    assert sim.stats.attempts_finished + in_flight == stats.dials
    assert sum(stats.outcomes.values()) == sim.stats.attempts_finished
    assert stats.bridged + stats.abandoned <= stats.live_answers
    assert stats.live_answers - stats.bridged - stats.abandoned <= 6  # waiting at the end
    assert sim.now == EPOCH + 3600


def test_measure_counts_logged_in_time_over_the_shift() -> None:
    scenario = make_scenario(collectors=4, shift_hours=0.5)
    sim = _simulate(scenario)
    logged = 0.0
    for collector in sim.engine.collectors.values():
        logged += sum(collector.seconds.values()) + (sim.end - collector.since)
    assert logged == pytest.approx(4 * 1800)
    m = measure(sim.engine, sim.end)
    assert m.connects_per_collector_hour == pytest.approx(sim.engine.stats.bridged / 2.0)
    assert 0 < m.occupancy < 1
    assert m.talk_minutes_per_collector_hour == pytest.approx(60 * m.occupancy, rel=1e-9)


def test_grace_zero_abandons_at_once_and_grace_two_within_two_seconds() -> None:
    hard = make_scenario(collectors=3, answer_probability=0.9)
    sim = _simulate(hard, "ratio:3")
    assert sim.engine.stats.abandoned > 50
    assert sim.engine.stats.answer_to_bridge_max == 0.0
    graced = _simulate(
        make_scenario(collectors=3, answer_probability=0.9, connect_grace=2), "ratio:3"
    )
    assert 0.0 < graced.engine.stats.answer_to_bridge_max <= 2.0 + 1e-6
    assert graced.engine.stats.abandoned < sim.engine.stats.abandoned


def test_ring_timeout_cancels_slow_answers() -> None:
    scenario = make_scenario(
        collectors=3, ring_timeout=15, answer_delay={"dist": "fixed", "value": 20}
    )
    sim = _simulate(scenario)
    stats = sim.engine.stats
    assert stats.live_answers == 0 and stats.dials > 100
    # Our own CANCEL ends the call as no answer (487); busy/failed come from the carrier.
    assert stats.outcomes["no_answer"] > 0.3 * stats.dials


def test_manual_reserves_a_collector_from_hand_dialing_to_outcome() -> None:
    scenario = make_scenario(collectors=2, manual_dial_overhead=30)
    engine = build_engine(scenario, "manual", np.random.default_rng(0))
    assert engine.config.preview_dial_delay == 30
    sim = _simulate(scenario, "manual")
    stats = sim.engine.stats
    assert stats.abandoned == 0 and stats.live_answers == stats.bridged
    reserved = sum(c.seconds.get("reserved", 0.0) for c in sim.engine.collectors.values())
    # Each attempt holds a collector for the 30 s overhead plus the ring.
    assert reserved >= 30 * stats.dials


def test_scheduled_pauses_take_the_share_of_collectors_off() -> None:
    scenario = make_scenario(
        collectors=4,
        shift_hours=2,
        pauses={"share": 0.5, "every": 3600, "duration": 600, "offset": 1200},
    )
    sim = _simulate(scenario, "manual")
    paused = [c.seconds.get("paused", 0.0) for c in sim.engine.collectors.values()]
    # Two collectors pause twice (they first finish the call in hand), the others never.
    assert paused[2:] == [0.0, 0.0]
    assert all(p == pytest.approx(1200) for p in paused[:2])


def test_breaks_after_calls_come_from_the_agent_model() -> None:
    scenario = make_scenario(
        collectors=3, breaks={"probability": 1.0, "duration": {"dist": "fixed", "value": 60}}
    )
    sim = _simulate(scenario)
    paused = sum(c.seconds.get("paused", 0.0) for c in sim.engine.collectors.values())
    assert paused == pytest.approx(60 * sim.engine.stats.bridged, abs=180)


def test_answer_probability_follows_the_hour() -> None:
    scenario = make_scenario(collectors=2, shift_hours=2, answer_probability=[0.9, 0.1])
    rngs = [np.random.default_rng(i) for i in range(3)]
    sim = Simulator(scenario, build_engine(scenario, "progressive", rngs[0]), rngs[1], rngs[2])
    seen: list[tuple[float, float]] = []
    draw = sim.carrier.draw

    def spy(p: float) -> Any:
        seen.append((sim.now - EPOCH, p))
        return draw(p)

    sim.carrier.draw = spy  # type: ignore[method-assign,assignment]
    sim.run()
    assert {p for t, p in seen if t < 3600} == {0.9}
    assert {p for t, p in seen if t >= 3600} == {0.1}


def test_ticks_only_when_the_engine_needs_them() -> None:
    quiet = _simulate(make_scenario(collectors=3), "progressive")
    assert quiet.stats.ticks <= 2  # no deadlines at all: no periodic ticks
    periodic = _simulate(make_scenario(collectors=3), "adaptive")
    assert 7190 <= periodic.stats.ticks <= 7200  # every 0.5 s, and no more


def test_a_simulator_runs_once() -> None:
    sim = _simulate(make_scenario(shift_hours=0.1))
    with pytest.raises(RuntimeError):
        sim.run()


class _FakePredictive(ProgressivePacer):
    built_with: ClassVar[list[float]] = []

    def __init__(self, abandon_cap: float, **options: Any) -> None:
        self.built_with.append(abandon_cap)


def test_predictive_is_built_by_name_with_the_scenario_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = types.ModuleType("dialer.pacing.predictive")
    fake.PredictivePacer = _FakePredictive  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dialer.pacing.predictive", fake)
    scenario = make_scenario(abandon_cap=0.02, shift_hours=0.2)
    result = run_replication(scenario, "predictive", seed=1)
    assert result.dials > 0
    assert _FakePredictive.built_with[-1] == 0.02


def test_unknown_pacers_are_refused_by_name() -> None:
    scenario = make_scenario()
    with pytest.raises(ValueError, match="'warp'"):
        build_pacer("warp", scenario)
    with pytest.raises(ValueError, match="blind"):
        build_pacer("blind:-1", scenario)
    assert build_pacer("adaptive", make_scenario(abandon_cap=0.05)).abandon_cap == 0.05  # type: ignore[attr-defined]


def test_paused_collectors_are_not_dialed_for() -> None:
    scenario = make_scenario(
        collectors=2, pauses={"share": 1.0, "every": 3000, "duration": 2900, "offset": 50}
    )
    sim = _simulate(scenario, "ratio:2")
    states = {c.state for c in sim.engine.collectors.values()}
    assert states <= {CollectorState.PAUSED, CollectorState.ON_CALL, CollectorState.WRAP_UP}
