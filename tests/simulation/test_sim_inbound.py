"""Blended scenarios: inbound callers in the simulator, driving the same engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sim_helpers import make_scenario

from dialer.domain.commands import Bridge, InboundFinished, OfferCallback, QueueInbound
from dialer.pacing.blending import ErlangReservation, FixedReservation
from dialer.pacing.predictive import PredictivePacer
from simulation.loop import Simulator
from simulation.run import build_engine, build_pacer, run_replication
from simulation.scenario import Scenario, ScenarioError, load_scenario, resolve_scenario

INBOUND: dict[str, Any] = {
    "calls_per_hour": [30, 90],
    "talk": {"dist": "exponential", "mean": 200},
    "patience": {"dist": "exponential", "mean": 60},
    "max_wait": 45,
}


def blended(**inbound: Any) -> Scenario:
    return make_scenario(collectors=4, shift_hours=2, inbound={**INBOUND, **inbound})


class Recorder(Simulator):
    """Keeps the engine's inbound commands as the world executes them."""

    seen: list[Any]

    def _execute(self, commands: list[Any], now: float) -> None:
        self.seen.extend(
            c
            for c in commands
            if isinstance(c, Bridge | QueueInbound | OfferCallback | InboundFinished)
        )
        super()._execute(commands, now)


def simulate(scenario: Scenario, pacer: str = "progressive") -> Recorder:
    rngs = [np.random.default_rng(np.random.SeedSequence(5, spawn_key=(i,))) for i in range(4)]
    sim = Recorder(
        scenario, build_engine(scenario, pacer, rngs[0]), rngs[1], rngs[2], inbound_rng=rngs[3]
    )
    sim.seen = []
    sim.run()
    return sim


def test_the_inbound_section_is_validated_with_its_key() -> None:
    scenario = blended()
    assert scenario.inbound is not None
    assert scenario.inbound.rate_at(0) == pytest.approx(30 / 3600)
    assert scenario.inbound.rate_at(5) == pytest.approx(90 / 3600)  # the last hour holds
    with pytest.raises(ScenarioError, match=r"inbound\.calls_per_hour\[1\]: must be >= 0"):
        blended(calls_per_hour=[10, -1])
    with pytest.raises(ScenarioError, match=r"inbound\.calls_per_hour: has 1 values"):
        blended(calls_per_hour=[10])
    with pytest.raises(ScenarioError, match=r"inbound\.patience: missing required key"):
        make_scenario(inbound={"calls_per_hour": 5, "talk": {"dist": "fixed", "value": 1}})
    with pytest.raises(ScenarioError, match=r"inbound\.wait: unknown key"):
        blended(wait=3)


def test_every_inbound_caller_is_accounted_for_and_outbound_counts_are_untouched() -> None:
    sim = simulate(blended())
    assert sim.inbound is not None
    m = sim.inbound.metrics()
    assert m.offered > 100  # about 120 expected over the two hours
    finished = [c.call for c in sim.seen if isinstance(c, InboundFinished)]
    up = len(sim.engine.inbound_calls)
    assert len(finished) + up == m.offered
    by_outcome = {
        o: sum(1 for c in finished if c.outcome == o) for o in {c.outcome for c in finished}
    }
    assert by_outcome.get("abandoned", 0) == m.abandoned > 0
    assert by_outcome.get("callback_requested", 0) == m.callbacks
    # Queued callers were offered the callback after max_wait, never later.
    for call in finished:
        if call.offered_at is not None:
            assert call.offered_at - call.arrived_at == pytest.approx(45.0)
    # No inbound call is a dial, a live answer or an outbound abandon.
    stats = sim.engine.stats
    outbound_bridges = sum(
        1 for c in sim.seen if isinstance(c, Bridge) and not c.call_id.startswith("in")
    )
    assert stats.bridged == outbound_bridges
    assert stats.dials == sim.stats.attempts_finished + len(sim.engine.calls)
    assert sim.engine.inbound_stats.offered == m.offered


def test_service_level_and_wait_come_from_the_bridges() -> None:
    sim = simulate(blended())
    assert sim.inbound is not None
    m = sim.inbound.metrics()
    waits = [
        c.answer_to_bridge for c in sim.seen if isinstance(c, Bridge) and c.call_id.startswith("in")
    ]
    assert m.answered == len(waits)
    assert m.service_level == pytest.approx(sum(w <= 20.0 for w in waits) / m.offered)
    assert m.mean_wait == pytest.approx(sum(waits) / len(waits))


def test_a_reservation_trades_outbound_occupancy_for_inbound_service() -> None:
    scenario = blended(calls_per_hour=[60, 60])
    plain = run_replication(scenario, "predictive", 2, 0)
    kept = run_replication(scenario, "predictive+reserve:2", 2, 0)
    assert plain.inbound is not None and kept.inbound is not None
    assert kept.inbound.mean_wait < plain.inbound.mean_wait
    assert kept.dials < plain.dials


def test_blended_pacer_specs() -> None:
    scenario = blended()
    erlang = build_pacer("predictive+inbound", scenario)
    fixed = build_pacer("predictive+reserve:3", scenario)
    assert isinstance(erlang, PredictivePacer) and isinstance(erlang.inbound, ErlangReservation)
    assert isinstance(fixed, PredictivePacer) and isinstance(fixed.inbound, FixedReservation)
    assert fixed.inbound.collectors == 3
    assert isinstance(build_pacer("predictive", scenario), PredictivePacer)
    assert build_pacer("predictive", scenario).inbound is None  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="needs a scenario with inbound"):
        build_pacer("predictive+inbound", make_scenario())
    with pytest.raises(ValueError, match="predictive\\+reserve:x"):
        build_pacer("predictive+reserve:x", scenario)


def test_the_shipped_blended_scenarios_load() -> None:
    for name in ("bl1", "bl2"):
        scenario = load_scenario(resolve_scenario(name))
        assert scenario.inbound is not None and len(scenario.inbound.calls_per_hour) == 8
