"""Answering machines in the simulator (simulation.machines): who answers, what AMD says,
that a machine AMD caught never holds a collector, that false positives are counted, and
that scenarios without machines draw exactly what they drew before."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sim_helpers import make_scenario

from simulation.run import run_replication
from simulation.scenario import ScenarioError, load_scenario, resolve_scenario

MACHINES: dict[str, Any] = {
    "share": 0.4,
    "greeting": {"dist": "uniform", "low": 6, "high": 12},
    "message_seconds": 20,
    "misrouted_talk": {"dist": "fixed", "value": 10},
}
AMD: dict[str, Any] = {
    "on_machine": "voicemail_drop",
    "human_decision": {"dist": "fixed", "value": 2.5},
    "machine_decision": {"dist": "fixed", "value": 3.5},
    "false_positive": 0.05,
    "false_negative": 0.1,
}


def _scenario(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "collectors": 6,
        "shift_hours": 2,
        "answer_probability": 0.5,
        "connect_grace": 2,
        "wrap": {"dist": "fixed", "value": 5},
        "machines": MACHINES,
        "amd": AMD,
    }
    base.update(overrides)
    return make_scenario(**{k: v for k, v in base.items() if v is not None})


def test_machines_and_amd_are_read_and_checked() -> None:
    scenario = _scenario()
    assert scenario.machines is not None and scenario.machines.share == 0.4
    assert scenario.amd is not None and scenario.amd.on_machine == "voicemail_drop"
    assert scenario.amd.counted_false_positive_rate == 0.0
    with pytest.raises(ScenarioError, match="amd: needs a 'machines' section"):
        _scenario(machines=None)
    with pytest.raises(ScenarioError, match=r"amd\.on_machine: must be hangup or voicemail_drop"):
        _scenario(amd={**AMD, "on_machine": "record"})
    with pytest.raises(ScenarioError, match=r"machines.share: must be in \[0, 1\)"):
        _scenario(machines={**MACHINES, "share": 1.0})
    with pytest.raises(ScenarioError, match=r"machines\.greeting: missing required key"):
        _scenario(machines={k: v for k, v in MACHINES.items() if k != "greeting"})
    with pytest.raises(ScenarioError, match=r"amd\.bogus: unknown key"):
        _scenario(amd={**AMD, "bogus": 1})


@pytest.mark.parametrize("on_machine", ["voicemail_drop", "hangup"])
def test_amd_keeps_caught_machines_from_collectors_and_counts_its_errors(on_machine: str) -> None:
    scenario = _scenario(amd={**AMD, "on_machine": on_machine})
    m = run_replication(scenario, "ratio:1.5", seed=4)
    assert m.dials > 500
    # Every machine verdict is a caught machine or a person taken for one.
    assert m.false_positives > 0 and m.misrouted_machines > 0
    assert m.machine_verdicts > m.false_positives
    if on_machine == "voicemail_drop":
        assert m.messages_left == m.machine_verdicts
    else:
        assert m.messages_left == 0
    # Only the people AMD let through (and the machines it missed) are live answers.
    assert m.true_abandon_rate > m.abandon_rate  # the false positives, uncounted under TSR
    assert m.abandon_rate == pytest.approx(m.abandoned / m.live_answers)


def test_without_amd_every_machine_reaches_a_collector() -> None:
    with_amd = run_replication(_scenario(), "progressive", seed=4)
    without = run_replication(_scenario(amd=None), "progressive", seed=4)
    assert without.machine_verdicts == 0 and without.false_positives == 0
    assert without.misrouted_machines > 5 * with_amd.misrouted_machines
    # Collectors listening to greetings talk less to people per hour.
    assert without.talk_minutes_per_collector_hour < with_amd.talk_minutes_per_collector_hour


def test_a_scenario_with_no_machines_draws_what_it_drew_without_the_section() -> None:
    plain = make_scenario(collectors=6, shift_hours=2, connect_grace=2)
    none = replace(plain, machines=replace(_scenario().machines, share=0.0))
    for pacer in ("progressive", "ratio:2"):
        a, b = run_replication(plain, pacer, seed=9), run_replication(none, pacer, seed=9)
        assert (a.occupancy, a.dials, a.live_answers, a.abandoned) == (
            b.occupancy,
            b.dials,
            b.live_answers,
            b.abandoned,
        )
    # The JSON keeps the shape without machines, and adds their figures with them.
    assert "false_positives" not in a.as_dict()
    assert b.as_dict()["machine_verdicts"] == 0 and "true_abandon_rate" in b.as_dict()


def test_the_cap_guard_holds_the_uk_cap_with_the_false_positive_estimate_in() -> None:
    """ratio:4 alone blows the cap; with the daemon's guard on, the rate the profile
    counts (estimated AMD false positives in both terms) stays under it, and the estimate
    really was counted (the plain rate is lower)."""
    scenario = replace(
        load_scenario(resolve_scenario("m40-uk")), shift_hours=3.0, answer_probability=(0.5,)
    )
    assert scenario.amd is not None and scenario.amd.counted_false_positive_rate == 0.01
    wild = run_replication(scenario, "ratio:4", seed=2)
    guarded = run_replication(scenario, "ratio:4", seed=2, cap_guard=True)
    assert wild.abandon_rate > 0.06
    assert guarded.abandon_rate <= scenario.abandon_cap
    assert guarded.machine_verdicts > 500
    plain = guarded.abandoned / guarded.live_answers
    assert plain < guarded.abandon_rate
