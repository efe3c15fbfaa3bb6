"""How the engine records a dead call and a trunk failure.

A call the trunk tore down because its media stopped talks only until the media stopped,
frees its collector into wrap-up, and is a conversation for compliance only if the
debtor's audio flowed in the bridge. A trunk failure teaches the pacer nothing about
debtors and is an attempt no rule counts.
"""

from __future__ import annotations

from enginekit import Driver, login, make_engine, supply

from dialer.domain.agents import CollectorState
from dialer.domain.calls import CallOutcome
from dialer.domain.commands import AttemptFinished, Originate
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp, CallRinging
from dialer.domain.model import ContactOutcome
from dialer.engine.state import contact_outcome


def bridged_call(d: Driver) -> str:
    supply(d, 1)
    login(d, "a1")
    (originate,) = d.of(Originate)
    call_id = originate.call_id  # type: ignore[attr-defined]
    d.send(CallRinging(call_id), 1.0)
    d.send(CallAnswered(call_id), 5.0)  # bridged at once to the ready collector
    assert d.engine.calls[call_id].bridged_at == 5.0
    return str(call_id)


def finished(d: Driver) -> AttemptFinished:
    (done,) = d.of(AttemptFinished)
    assert isinstance(done, AttemptFinished)
    return done


def test_a_call_that_went_dead_after_talking_talks_until_its_media_stopped() -> None:
    d = Driver(make_engine("progressive"))
    call_id = bridged_call(d)
    d.send(CallHungUp(call_id, silent_for=34.0), 100.0)  # media stopped at 66
    call = finished(d).call
    assert call.outcome is CallOutcome.MEDIA_LOST
    assert call.talk_seconds == 61.0 and call.ended_at == 100.0
    assert contact_outcome(call) is ContactOutcome.CONVERSATION  # they did talk
    assert d.engine.stats.talk_seconds == 61.0
    assert d.engine.collectors["a1"].state is CollectorState.WRAP_UP  # freed, not on dead air


def test_a_call_dead_from_the_bridge_is_no_conversation() -> None:
    d = Driver(make_engine("progressive"))
    call_id = bridged_call(d)
    d.send(CallHungUp(call_id, silent_for=40.0), 41.0)  # silent since 1 s: before the bridge
    call = finished(d).call
    assert call.outcome is CallOutcome.MEDIA_LOST and call.talk_seconds == 0.0
    assert contact_outcome(call) is ContactOutcome.MEDIA_LOST
    assert not ContactOutcome.MEDIA_LOST.counts_as_conversation


def test_an_ordinary_hang_up_is_still_a_completed_conversation() -> None:
    d = Driver(make_engine("progressive"))
    call_id = bridged_call(d)
    d.send(CallHungUp(call_id), 50.0)
    call = finished(d).call
    assert call.outcome is CallOutcome.COMPLETED and call.talk_seconds == 45.0
    assert contact_outcome(call) is ContactOutcome.CONVERSATION


def test_a_trunk_failure_teaches_the_pacer_nothing_and_counts_toward_no_cap() -> None:
    d = Driver(make_engine("progressive"))
    supply(d, 2)
    login(d, "a1", "a2")
    first, second = (c.call_id for c in d.of(Originate))  # type: ignore[attr-defined]
    evidence: list[tuple[float, bool, float]] = []
    d.engine.pacer.observe_dial_resolved = lambda *a: evidence.append(a)  # type: ignore[method-assign]
    d.send(CallFailed(first, CallOutcome.TRUNK_FAILED, 503), 0.5)
    assert evidence == []  # a dead trunk says nothing of how debtors answer
    d.send(CallFailed(second, CallOutcome.FAILED, 404), 0.5)
    assert evidence == [(0.5, False, 0.5)]  # a debtor's failure does
    calls = {c.call.call_id: c.call for c in d.of(AttemptFinished)}  # type: ignore[attr-defined]
    assert calls[first].outcome is CallOutcome.TRUNK_FAILED
    assert contact_outcome(calls[first]) is ContactOutcome.TRUNK_FAILED
    assert not ContactOutcome.TRUNK_FAILED.reached_network
