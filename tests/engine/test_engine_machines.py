"""Answering machines in the engine: hang up or leave the campaign's message, never a
collector; `notsure` routes as a human; the connect deadline runs from the reported answer;
the outcomes compliance reads (dialer.engine.machines)."""

from __future__ import annotations

import pytest
from enginekit import Driver, login, make_engine, supply

from dialer.domain.calls import AmdVerdict, CallOutcome, CallState
from dialer.domain.commands import (
    AttemptFinished,
    Bridge,
    Hangup,
    LeaveVoicemail,
    Originate,
    PlaySafeHarbor,
)
from dialer.domain.events import CallAnswered, CallHungUp, CollectorReady, VoicemailLeft
from dialer.domain.model import ContactOutcome
from dialer.engine import EngineConfig, contact_outcome


def _dialed(on_machine: str = "voicemail_drop", collectors: int = 1) -> tuple[Driver, list[str]]:
    d = Driver(make_engine("progressive", on_machine=on_machine))
    login(d, *[f"c{i}" for i in range(collectors)], now=0.0)
    supply(d, 5, now=0.0)
    return d, [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]


def _machine(call_id: str) -> CallAnswered:
    return CallAnswered(call_id, machine=True, amd=AmdVerdict.MACHINE, amd_seconds=3.1)


def _finished(d: Driver) -> list[AttemptFinished]:
    return d.of(AttemptFinished)  # type: ignore[return-value]


def test_hangup_campaign_hangs_up_on_a_machine_and_records_the_verdict() -> None:
    d, calls = _dialed("hangup")
    d.send(_machine(calls[0]), 9.0)
    assert [c.call_id for c in d.of(Hangup)] == [calls[0]]  # type: ignore[attr-defined]
    assert d.of(Bridge) == [] and d.of(LeaveVoicemail) == []
    (done,) = _finished(d)
    assert done.call.outcome is CallOutcome.MACHINE
    assert (done.call.amd, done.call.amd_seconds) == (AmdVerdict.MACHINE, 3.1)
    assert contact_outcome(done.call) is ContactOutcome.MACHINE
    assert d.engine.stats.machine_verdicts == 1
    assert d.engine.stats.live_answers == 0


def test_voicemail_drop_holds_the_line_without_a_collector_until_left() -> None:
    d, calls = _dialed()
    d.send(_machine(calls[0]), 9.0)
    assert [c.call_id for c in d.of(LeaveVoicemail)] == [calls[0]]  # type: ignore[attr-defined]
    assert d.of(Hangup) == [] and d.of(Bridge) == [] and _finished(d) == []
    call = d.engine.calls[calls[0]]
    assert call.state is CallState.VOICEMAIL
    assert d.engine.collectors["c0"].state.value == "ready", "a machine holds no collector"
    counts = d.engine.counts()
    assert counts["call_voicemail"] == 1
    inputs = d.engine.inputs(9.0)
    assert inputs.waiting == 0, "a machine is not an answered call waiting for a collector"
    # The ready collector is free to take the next live answer meanwhile.
    second = d.of(Originate)[-1].call_id  # type: ignore[attr-defined]
    d.send(CallAnswered(second), 10.0)
    assert [b.call_id for b in d.of(Bridge)] == [second]  # type: ignore[attr-defined]
    d.send(VoicemailLeft(calls[0], left=True), 40.0)
    (done,) = _finished(d)
    assert done.call.outcome is CallOutcome.MACHINE_MESSAGE_LEFT
    assert contact_outcome(done.call) is ContactOutcome.MACHINE_MESSAGE_LEFT
    assert not done.call.is_live_answer
    assert done.call.answered_at == 9.0 and done.call.ended_at == 40.0
    assert calls[0] not in d.engine.calls
    assert d.engine.stats.live_answers == 1  # the human only


@pytest.mark.parametrize("how", ["not_left", "hung_up"])
def test_a_message_not_left_stays_machine(how: str) -> None:
    d, calls = _dialed()
    d.send(_machine(calls[0]), 9.0)
    if how == "not_left":
        d.send(VoicemailLeft(calls[0], left=False, reason="no_greeting_end"), 30.0)
    else:
        d.send(CallHungUp(calls[0]), 12.0)
    (done,) = _finished(d)
    assert done.call.outcome is CallOutcome.MACHINE
    assert contact_outcome(done.call) is ContactOutcome.MACHINE


def test_a_late_voicemail_report_changes_nothing() -> None:
    d, calls = _dialed()
    d.send(_machine(calls[0]), 9.0)
    d.send(VoicemailLeft(calls[0], left=True), 30.0)
    with pytest.raises(KeyError):  # UnknownCall: the runner logs and drops it
        d.send(VoicemailLeft(calls[0], left=True), 31.0)
    assert len(_finished(d)) == 1


def test_notsure_routes_to_a_collector_as_a_human() -> None:
    d, calls = _dialed()
    d.send(CallAnswered(calls[0], machine=True, amd=AmdVerdict.NOTSURE, amd_seconds=4.0), 9.0)
    assert [(b.call_id, b.collector_id) for b in d.of(Bridge)] == [(calls[0], "c0")]  # type: ignore[attr-defined]
    assert d.of(LeaveVoicemail) == [] and d.of(Hangup) == []
    assert d.engine.stats.live_answers == 1 and d.engine.stats.machine_verdicts == 0
    d.send(CallHungUp(calls[0]), 60.0)
    (done,) = _finished(d)
    assert done.call.amd is AmdVerdict.NOTSURE
    assert contact_outcome(done.call) is ContactOutcome.CONVERSATION


def test_connect_grace_runs_from_the_reported_answer_not_the_200_ok() -> None:
    """US TSR: the 2 s count from the end of the greeting, which is AMD's decision for a
    human; the trunk reports `CallAnswered` then, 2.4 s after the 200 OK here. The call may
    still be bridged 1.9 s after the report (4.3 s after the 200 OK) and is abandoned at
    2 s after it, not at 2 s - 2.4 s."""
    d = Driver(make_engine("ratio:3", connect_grace=2.0))
    login(d, "busy", "late", now=0.0)
    supply(d, 9, now=0.0)
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    d.send(CallAnswered(calls[0]), 5.0)
    d.send(CallAnswered(calls[1]), 5.0)  # both collectors now busy
    d.send(CallAnswered(calls[2], amd=AmdVerdict.HUMAN, amd_seconds=2.4), 10.0)
    assert d.engine.next_wakeup(10.0) == pytest.approx(12.0)
    d.tick(11.9)
    assert d.of(PlaySafeHarbor) == []
    d.send(CallHungUp(calls[0]), 11.9)
    d.send(CollectorReady("busy"), 11.9)
    bridge = d.of(Bridge)[-1]
    assert bridge.call_id == calls[2]  # type: ignore[attr-defined]
    assert bridge.answer_to_bridge == pytest.approx(1.9)  # type: ignore[attr-defined]
    d.send(CallAnswered(calls[3], amd=AmdVerdict.HUMAN, amd_seconds=2.4), 20.0)
    d.tick(21.99)
    assert d.of(PlaySafeHarbor) == []
    d.tick(22.0)
    assert [p.call_id for p in d.of(PlaySafeHarbor)] == [calls[3]]  # type: ignore[attr-defined]


def test_machine_answer_is_resolved_not_live_for_the_pacer_at_the_reported_time() -> None:
    seen: list[tuple[float, bool]] = []
    machines: list[float] = []
    d, calls = _dialed(collectors=2)
    pacer = d.engine.pacer
    pacer.observe_dial_resolved = lambda delay, live, now: seen.append((delay, live))  # type: ignore[method-assign]
    pacer.observe_machine = lambda now: machines.append(now)  # type: ignore[method-assign]
    d.send(_machine(calls[0]), 12.5)
    d.send(CallAnswered(calls[1], amd=AmdVerdict.HUMAN, amd_seconds=2.0), 14.0)
    assert seen == [(12.5, False), (14.0, True)]
    assert machines == [12.5]


def test_bad_on_machine_is_refused() -> None:
    with pytest.raises(ValueError, match="on_machine"):
        EngineConfig(campaign="x", on_machine="record")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="machine_false_positive_rate"):
        EngineConfig(campaign="x", machine_false_positive_rate=1.0)


def test_a_drop_still_playing_at_the_drain_timeout_is_hung_up() -> None:
    d, calls = _dialed()
    d.send(_machine(calls[0]), 9.0)
    assert not d.engine.idle
    assert [c.call_id for c in d.engine.hang_up_all(20.0) if isinstance(c, Hangup)] == [calls[0]]
    d.send(CallHungUp(calls[0]), 20.1)
    assert _finished(d)[-1].call.outcome is CallOutcome.MACHINE
