"""Inbound return calls in the engine: routing, the queue, the offer, the record."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from enginekit import Driver, login, make_engine, supply, target

from dialer.compliance.guard import ProfileGuard
from dialer.compliance.profiles import load_profile
from dialer.domain.agents import CollectorState
from dialer.domain.commands import (
    Bridge,
    CaseDeferred,
    Hangup,
    InboundFinished,
    OfferCallback,
    Originate,
    PlaySafeHarbor,
    QueueInbound,
)
from dialer.domain.events import (
    CallAnswered,
    CallHungUp,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorReady,
    InboundCallArrived,
    InboundCallerChose,
)
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.domain.model import ContactOutcome
from dialer.engine import Engine, EngineConfig
from dialer.engine.inbound import inbound_contact
from dialer.pacing.policies import make_pacer

NUMBER = "+12125550042"


def arrive(d: Driver, call_id: str, now: float, **case: object) -> None:
    tgt = target("case-42", **case)  # type: ignore[arg-type]
    d.send(InboundCallArrived(call_id, NUMBER, tgt), now)


def finished(d: Driver) -> list[InboundFinished]:
    return [c for c in d.commands if isinstance(c, InboundFinished)]


def test_owner_free_takes_the_call_at_once() -> None:
    d = Driver(make_engine("preview"))
    login(d, "a", "owner", "b", team="east")
    arrive(d, "in1", 1.0, owner="owner")
    bridges = d.of(Bridge)
    assert [(b.call_id, b.collector_id) for b in bridges] == [("in1", "owner")]
    assert d.engine.collectors["owner"].state is CollectorState.ON_CALL
    assert d.engine.call_direction("in1") == "inbound"
    assert not d.of(QueueInbound)


def test_owner_busy_goes_to_the_team_before_anyone() -> None:
    d = Driver(make_engine("preview"))
    login(d, "other", now=0.0, team="west")
    login(d, "mate", now=0.5, team="east")
    login(d, "owner", now=1.0, team="east")
    arrive(d, "in0", 2.0, owner="owner")  # busies the owner
    arrive(d, "in1", 3.0, owner="owner")
    bridges = {b.call_id: b.collector_id for b in d.of(Bridge)}
    # "other" has been idle longest, but the owner's team comes first.
    assert bridges == {"in0": "owner", "in1": "mate"}


def test_unknown_caller_goes_to_the_longest_idle() -> None:
    d = Driver(make_engine("preview"))
    login(d, "x", now=0.0)
    login(d, "y", now=1.0)
    d.send(InboundCallArrived("in1", NUMBER, None), 2.0)
    assert [(b.call_id, b.collector_id) for b in d.of(Bridge)] == [("in1", "x")]


def test_no_one_free_queues_then_the_first_free_collector_takes_the_head() -> None:
    d = Driver(make_engine("preview", inbound_max_wait=60.0))
    login(d, "a")
    arrive(d, "in0", 1.0)  # takes a
    arrive(d, "in1", 2.0)
    arrive(d, "in2", 3.0)
    assert [q.call_id for q in d.of(QueueInbound)] == ["in1", "in2"]
    assert d.engine.inputs(3.0).inbound_queued == 2
    d.send(CallHungUp("in0"), 10.0)
    assert d.engine.collectors["a"].state is CollectorState.WRAP_UP
    d.send(CollectorReady("a"), 15.0)
    last = d.of(Bridge)[-1]
    assert (last.call_id, last.collector_id) == ("in1", "a")
    assert last.answer_to_bridge == 13.0
    assert d.engine.inputs(15.0).inbound_queued == 1
    done = finished(d)
    assert [f.call.outcome for f in done] == [InboundOutcome.ANSWERED]
    assert done[0].call.talk_seconds == 9.0


def test_an_answered_outbound_call_wins_a_collector_coming_free() -> None:
    d = Driver(make_engine("progressive"))
    login(d, "a")
    supply(d, 5, now=0.0)
    dial = d.of(Originate)[0]
    arrive(d, "in1", 0.5)  # a is still free: the inbound caller takes a at once
    assert d.of(Bridge)[-1].call_id == "in1"
    arrive(d, "in2", 0.6)  # queued
    login(d, "b", now=0.8)  # b is free: takes the queued inbound caller
    assert d.of(Bridge)[-1].call_id == "in2"
    d.send(CallAnswered(dial.call_id), 1.0)  # the outbound answer waits (grace 2 s)
    arrive(d, "in3", 1.1)  # queued behind it
    d.send(CallHungUp("in1"), 1.5)
    d.send(CollectorReady("a"), 1.6)
    assert (d.of(Bridge)[-1].call_id, d.of(Bridge)[-1].collector_id) == (dial.call_id, "a")
    assert not d.of(PlaySafeHarbor)
    assert d.engine.inputs(1.6).inbound_queued == 1


def test_after_the_longest_wait_the_caller_is_offered_a_callback() -> None:
    d = Driver(make_engine("preview", inbound_max_wait=30.0))
    login(d, "a")
    arrive(d, "in0", 0.0)
    arrive(d, "in1", 1.0)
    assert d.engine.next_wakeup(1.0) <= 31.0
    d.tick(30.9)
    assert not d.of(OfferCallback)
    d.tick(31.0)
    assert [o.call_id for o in d.of(OfferCallback)] == ["in1"]
    # Offered, the caller is out of the queue: a collector coming free does not take them.
    d.send(CallHungUp("in0"), 32.0)
    d.send(CollectorReady("a"), 33.0)
    assert [b.call_id for b in d.of(Bridge)] == ["in0"]
    d.send(InboundCallerChose("in1", "callback"), 40.0)
    assert Hangup("in1") in d.commands
    last = finished(d)[-1].call
    assert (last.call_id, last.outcome, last.offered_at) == (
        "in1",
        InboundOutcome.CALLBACK_REQUESTED,
        31.0,
    )
    assert last.wait_seconds == 39.0
    # The caller's own hang-up after ours is expected: no error, nothing more.
    d.send(CallHungUp("in1"), 41.0)
    assert len(finished(d)) == 2


def test_voicemail_ends_when_the_caller_hangs_up() -> None:
    d = Driver(make_engine("preview", inbound_max_wait=5.0))
    arrive(d, "in1", 0.0)
    d.tick(5.0)
    d.send(InboundCallerChose("in1", "voicemail"), 8.0)
    assert not finished(d) and Hangup("in1") not in d.commands
    d.send(CallHungUp("in1"), 40.0)
    call = finished(d)[-1].call
    assert (call.outcome, call.ended_at) == (InboundOutcome.VOICEMAIL_LEFT, 40.0)


def test_a_queued_caller_who_hangs_up_is_an_inbound_abandon_only() -> None:
    d = Driver(make_engine("predictive"))
    login(d, "a")
    arrive(d, "in0", 0.0)
    arrive(d, "in1", 1.0)
    d.send(CallHungUp("in1"), 12.0)
    call = finished(d)[-1].call
    assert (call.outcome, call.wait_seconds) == (InboundOutcome.ABANDONED, 11.0)
    stats, inbound = d.engine.stats, d.engine.inbound_stats
    assert (stats.dials, stats.live_answers, stats.abandoned, stats.bridged) == (0, 0, 0, 0)
    assert (inbound.offered, inbound.answered, inbound.abandoned) == (2, 1, 1)
    pacer = d.engine.pacer
    assert pacer.ledger.totals(12.0) == (0, 0)  # type: ignore[attr-defined]
    assert d.engine.inputs(12.0).inbound_queued == 0


def test_a_collector_on_an_inbound_call_is_busy_for_the_pacer() -> None:
    d = Driver(make_engine("progressive"))
    login(d, "a", "b")
    arrive(d, "in1", 0.0)
    inputs = d.engine.inputs(0.0)
    assert (inputs.ready, inputs.on_call, inputs.inbound_on_call) == (1, 1, 1)
    supply(d, 5, now=0.1)
    assert len(d.of(Originate)) == 1  # one ready collector: one progressive dial
    d.send(CallHungUp("in1"), 60.0)
    assert d.engine.inputs(60.0).inbound_on_call == 0
    assert d.engine.collectors["a"].state is CollectorState.WRAP_UP


def test_the_outbound_talk_model_does_not_see_an_inbound_talk() -> None:
    """A return call is no evidence of when an outbound talk ends: the model-based pacer
    reads only outbound talks (and every wrap-up)."""
    d = Driver(make_engine("progressive"))
    login(d, "a", "b")
    arrive(d, "in1", 0.0)
    supply(d, 1, now=0.1)
    (dial,) = d.of(Originate)
    d.send(CallAnswered(dial.call_id), 5.0)
    elapsed, in_wrap = d.engine.busy_elapsed(30.0)
    assert elapsed.tolist() == [25.0] and in_wrap.tolist() == [False]
    d.send(CallHungUp("in1"), 40.0)
    elapsed, in_wrap = d.engine.busy_elapsed(50.0)
    pairs = sorted(zip(in_wrap.tolist(), elapsed.tolist(), strict=True))
    assert pairs == [(False, 45.0), (True, 10.0)]


def test_a_conversation_on_an_inbound_call_locks_out_outbound_dials() -> None:
    """Reg F: a conversation on the debtor's call is a conversation: no dial for 7 days."""
    guard = ProfileGuard(load_profile("us_tsr_regf"))
    engine = Engine(
        EngineConfig(campaign="t"), make_pacer("progressive"), np.random.default_rng(1), guard
    )
    d = Driver(engine)
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()  # 10:00 in New York
    d.send(CollectorLoggedIn("a"), now)
    tgt = target("case-42")
    d.send(InboundCallArrived("in1", tgt.number, tgt), now)
    d.send(CallHungUp("in1"), now + 120)
    assert finished(d)[-1].call.case_ref == "case-42"
    d.send(CollectorReady("a"), now + 130)
    d.send(CasesSupplied((tgt, target("case-7"))), now + 131)
    assert [o.case_ref for o in d.of(Originate)] == ["case-7"]
    deferred = [c for c in d.of(CaseDeferred) if c.case_ref == "case-42"]
    assert deferred and deferred[0].reasons == ("post_conversation_lockout",)


def test_the_inbound_contact_record_is_a_conversation_the_caps_do_not_count() -> None:
    tgt = target("case-42")
    call = InboundCall("in1", tgt.number, "case-42", arrived_at=100.0)
    assert inbound_contact(call) is None  # nobody talked: no record
    call.bridged_at, call.ended_at = 110.0, 200.0
    record = inbound_contact(call)
    assert record is not None
    assert (record.outcome, record.inbound, record.at.timestamp()) == (
        ContactOutcome.CONVERSATION,
        True,
        110.0,
    )
    assert inbound_contact(InboundCall("in2", tgt.number, None, bridged_at=1.0)) is None


def test_an_absent_collector_s_inbound_call_is_hung_up_and_they_are_paused() -> None:
    from dialer.domain.events import CollectorSeen

    d = Driver(make_engine("preview", hang_up_when_absent=True))
    login(d, "a")
    d.send(CollectorSeen("a", 10.0), 0.0)
    arrive(d, "in1", 1.0)
    d.tick(10.0)  # a's console is gone
    assert Hangup("in1") in d.commands
    d.send(CallHungUp("in1"), 10.5)
    assert d.engine.collectors["a"].state is CollectorState.PAUSED
    assert finished(d)[-1].call.outcome is InboundOutcome.ANSWERED


def test_drain_hangs_up_inbound_calls_and_waits_for_them() -> None:
    d = Driver(make_engine("preview"))
    arrive(d, "in1", 0.0)  # queued: no one logged in
    assert not d.engine.idle
    assert Hangup("in1") in d.engine.hang_up_all(5.0)
    d.send(CallHungUp("in1"), 6.0)
    assert d.engine.idle


def test_the_case_in_hand_of_a_collector_on_a_return_call_is_its_case() -> None:
    """The wallboard's and the roster's 'current case' (dialer.web.collector_control)."""
    from dialer.web.collector_control import case_in_hand

    d = Driver(make_engine("preview"))
    login(d, "a", "b")
    d.send(InboundCallArrived("in1", NUMBER, target("42")), 1.0)
    d.send(InboundCallArrived("in2", NUMBER, None), 1.5)  # an unknown caller: no case
    on_call = {b.collector_id: b.call_id for b in d.of(Bridge)}
    by_call = {call: d.engine.collectors[who] for who, call in on_call.items()}
    assert case_in_hand(d.engine, by_call["in1"]) == 42
    assert case_in_hand(d.engine, by_call["in2"]) is None
