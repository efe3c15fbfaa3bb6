"""No record, no call, in the engine: a hold stops launching until it is lifted, and a
launch that never left (`CallNotPlaced`) leaves no attempt and frees what it held."""

from __future__ import annotations

from enginekit import Driver, login, make_engine, supply

from dialer.domain.commands import AttemptFinished, Originate
from dialer.domain.events import CallNotPlaced, CallRinging


def test_a_hold_stops_launching_and_its_release_paces_at_once() -> None:
    d = Driver(make_engine("progressive"))
    supply(d, 10)
    d.engine.hold("store_unavailable", "the store cannot take writes")
    login(d, "a1", "a2")
    assert d.of(Originate) == [], "nothing is dialed while held"
    d.engine.release("store_unavailable")
    assert d.engine.next_wakeup(1.0) == 1.0, "a lifted hold asks for a tick at once"
    d.tick(1.0)
    assert len(d.of(Originate)) == 2, "one call per ready collector once released"
    assert d.engine.next_wakeup(1.0) > 1.0


def test_a_call_not_placed_is_no_attempt_and_its_case_comes_back() -> None:
    d = Driver(make_engine("progressive"))
    supply(d, 1)
    login(d, "a1")
    (first,) = d.of(Originate)
    dials = d.engine.stats.dials
    d.send(CallNotPlaced(first.call_id, "store_unavailable"), 0.5)
    assert first.call_id not in d.engine.calls
    assert d.engine.stats.dials == dials - 1
    assert d.of(AttemptFinished) == [], "no attempt is recorded for a call that never left"
    assert d.engine.counts().get("call_dialing", 0) == 0
    # The case is free again: offered once more, it is dialed again.
    supply(d, 1, now=1.0)
    assert len(d.of(Originate)) == 2


def test_call_not_placed_after_the_trunk_reported_is_ignored() -> None:
    d = Driver(make_engine("progressive"))
    supply(d, 1)
    login(d, "a1")
    (first,) = d.of(Originate)
    d.send(CallRinging(first.call_id), 0.2)
    d.send(CallNotPlaced(first.call_id, "store_unavailable"), 0.5)
    assert first.call_id in d.engine.calls, "a call that rings did leave"
