"""Presence in the engine: a watched collector not seen by their deadline is never routed a
call (checked before every routing decision, tick or not), is paused `disconnected`, keeps
or loses the call in hand as configured; actions that wait for the end of a call; the
wrap-up limit."""

from __future__ import annotations

import pytest
from enginekit import Driver, login, make_engine, supply

from dialer.domain.agents import DISCONNECTED, CollectorState
from dialer.domain.calls import CallState
from dialer.domain.commands import Bridge, Cancel, Hangup, Originate, PresenceLost
from dialer.domain.errors import IllegalTransition
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
    CollectorSeen,
)

_S = CollectorState


def _driver(pacer: str = "ratio:3", **config: object) -> Driver:
    return Driver(make_engine(pacer, **config))


def _calls(d: Driver) -> list[str]:
    return [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]


def _state(d: Driver, collector: str) -> tuple[CollectorState, str | None]:
    c = d.engine.collectors[collector]
    return c.state, c.pause_reason


def _two_ready(d: Driver) -> list[str]:
    """alice (watched, seen at 0 for 15 s, longest idle) and bob (not watched)."""
    d.send(CollectorSeen("alice", 15.0), 0.0)
    login(d, "alice", now=0.0)
    login(d, "bob", now=1.0)
    supply(d, 10, now=1.0)
    return _calls(d)


def test_unwatched_collectors_are_never_paused() -> None:
    d = _driver()
    login(d, "a", now=0.0)
    supply(d, 5)
    for t in range(1, 200, 7):
        d.tick(float(t))
    assert _state(d, "a") == (_S.READY, None)
    assert d.of(PresenceLost) == []


def test_present_until_the_deadline_the_call_goes_to_her() -> None:
    d = _driver()
    calls = _two_ready(d)
    d.send(CallAnswered(calls[0]), 14.9)
    assert d.of(Bridge)[-1].collector_id == "alice"  # type: ignore[attr-defined]


def test_at_the_deadline_no_routing_decision_picks_her_even_without_a_tick() -> None:
    d = _driver()
    calls = _two_ready(d)
    # No tick ran at 15.0: the answer itself is the first step at the deadline.
    d.send(CallAnswered(calls[0]), 15.0)
    assert [b.collector_id for b in d.of(Bridge)] == ["bob"]  # type: ignore[attr-defined]
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
    assert d.of(PresenceLost) == [PresenceLost("alice")]
    assert d.engine.present("alice", 15.0) is False
    assert d.engine.present("bob", 15.0) is None  # not watched


def test_a_tick_is_asked_for_at_the_deadline_and_pauses_her() -> None:
    d = _driver()
    _two_ready(d)
    assert d.engine.next_wakeup(2.0) <= 15.0
    d.tick(14.99)
    assert _state(d, "alice") == (_S.READY, None)
    d.tick(15.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)


def test_heartbeats_keep_her_present_and_a_late_one_does_not_ready_her() -> None:
    d = _driver()
    _two_ready(d)
    for t in (10.0, 20.0, 30.0):
        d.send(CollectorSeen("alice", 15.0), t)
        d.tick(t + 0.5)
    assert _state(d, "alice") == (_S.READY, None)
    d.tick(45.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
    d.send(CollectorSeen("alice", 15.0), 50.0)  # the console is back
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED), "she presses Ready herself"
    d.send(CollectorPaused("bob", "break"), 51.0)
    d.send(CollectorReady("alice"), 51.0)
    assert _state(d, "alice") == (_S.READY, None)
    d.send(CallAnswered(_calls(d)[-1]), 52.0)
    assert d.of(Bridge)[-1].collector_id == "alice"  # type: ignore[attr-defined]


def test_paused_for_her_own_reason_she_keeps_it() -> None:
    d = _driver()
    _two_ready(d)
    d.send(CollectorPaused("alice", "lunch"), 5.0)
    d.tick(20.0)
    assert _state(d, "alice") == (_S.PAUSED, "lunch")
    assert d.of(PresenceLost) == []


def test_a_login_after_the_deadline_is_paused_at_once() -> None:
    d = _driver()
    d.send(CollectorSeen("alice", 15.0), 0.0)  # seen, then her login waited (her phone)
    d.tick(16.0)
    supply(d, 5, now=16.0)
    login(d, "alice", now=20.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
    assert d.of(Originate) == [], "nobody present: nothing dialed"


def test_on_a_call_with_a_phone_she_keeps_it_and_is_paused_when_it_ends() -> None:
    d = _driver(auto_ready_after_wrap=5.0)
    calls = _two_ready(d)
    d.send(CallAnswered(calls[0]), 2.0)
    assert d.of(Bridge)[-1].collector_id == "alice"  # type: ignore[attr-defined]
    d.tick(15.0)
    assert _state(d, "alice") == (_S.ON_CALL, None)
    assert d.of(Hangup) == [], "the phone carries the call: it goes on"
    assert d.of(PresenceLost) == [PresenceLost("alice", calls[0], False)]
    d.send(CallHungUp(calls[0]), 100.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED), "no wrap-up, no ready"
    d.tick(106.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)


def test_back_during_the_call_she_wraps_up_as_usual() -> None:
    d = _driver()
    calls = _two_ready(d)
    d.send(CallAnswered(calls[0]), 2.0)
    d.tick(15.0)
    d.send(CollectorSeen("alice", 15.0), 20.0)
    d.send(CallHungUp(calls[0]), 25.0)
    assert _state(d, "alice") == (_S.WRAP_UP, None)


def test_without_a_phone_her_call_is_hung_up() -> None:
    d = _driver(hang_up_when_absent=True)
    calls = _two_ready(d)
    d.send(CallAnswered(calls[0]), 2.0)
    d.tick(15.0)
    assert d.of(Hangup) == [Hangup(calls[0])]
    assert d.of(PresenceLost) == [PresenceLost("alice", calls[0], True)]
    d.send(CallHungUp(calls[0]), 15.2)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)


@pytest.mark.parametrize("keep", [False, True])
def test_reserved_for_a_preview_call(keep: bool) -> None:
    d = _driver("preview", hang_up_when_absent=not keep)
    d.send(CollectorSeen("alice", 15.0), 0.0)
    login(d, "alice", now=0.0)
    supply(d, 3, now=0.0)
    (call,) = _calls(d)
    assert _state(d, "alice")[0] is _S.RESERVED
    d.tick(15.0)
    if keep:
        assert d.of(Cancel) == []
        assert _state(d, "alice")[0] is _S.RESERVED
        d.send(CallFailed(call, d.engine.calls[call].outcome or _no_answer()), 20.0)
        assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
        return
    assert d.of(Cancel) == [Cancel(call)]
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
    d.send(CallAnswered(call), 15.1)  # answered before the cancel landed
    assert d.of(Bridge) == [], "never bridged to her"
    assert d.engine.calls[call].state is CallState.ANSWERED


def _no_answer():  # type: ignore[no-untyped-def]
    from dialer.domain.calls import CallOutcome

    return CallOutcome.NO_ANSWER


def test_a_pause_after_the_call() -> None:
    d = _driver(auto_ready_after_wrap=5.0)
    login(d, "bob", now=0.0)
    supply(d, 5)
    call = _calls(d)[0]
    d.send(CallAnswered(call), 1.0)
    with pytest.raises(IllegalTransition):  # as before: a plain pause on a call is refused
        d.send(CollectorPaused("bob", "break"), 2.0)
    d.send(CollectorPaused("bob", "manager", after_call=True), 2.0)
    assert _state(d, "bob") == (_S.ON_CALL, None)
    assert d.engine.after_call("bob") == ("pause", "manager")
    d.send(CallHungUp(call), 30.0)
    assert _state(d, "bob") == (_S.PAUSED, "manager")
    d.tick(36.0)
    assert _state(d, "bob") == (_S.PAUSED, "manager"), "no automatic ready after it"
    d.send(CollectorPaused("bob", "break", after_call=True), 40.0)  # free: at once
    assert _state(d, "bob") == (_S.PAUSED, "break")


def test_a_logout_after_the_call_wins_over_a_pause() -> None:
    d = _driver()
    login(d, "bob", now=0.0)
    supply(d, 5)
    call = _calls(d)[0]
    d.send(CallAnswered(call), 1.0)
    d.send(CollectorLoggedOut("bob", after_call=True), 2.0)
    d.send(CollectorPaused("bob", "manager", after_call=True), 3.0)
    assert d.engine.after_call("bob") == ("logout", None)
    d.send(CallHungUp(call), 30.0)
    assert _state(d, "bob") == (_S.LOGGED_OUT, None)
    assert d.engine.after_call("bob") is None


def test_wrap_up_ends_at_the_limit_ready_when_present() -> None:
    d = _driver(max_wrap=120.0)
    d.send(CollectorSeen("alice", 15.0), 0.0)
    login(d, "alice", now=0.0)
    supply(d, 5)
    call = _calls(d)[0]
    d.send(CallAnswered(call), 1.0)
    d.send(CallHungUp(call), 10.0)
    collector = d.engine.collectors["alice"]
    assert d.engine.wrap_ends_at(collector) == 130.0
    t = 10.0
    while t < 125.0:  # her console keeps beating
        t += 5.0
        d.send(CollectorSeen("alice", 15.0), t)
    d.tick(129.9)
    assert _state(d, "alice")[0] is _S.WRAP_UP
    assert d.engine.next_wakeup(129.9) <= 130.0
    d.tick(130.0)
    assert _state(d, "alice") == (_S.READY, None)


def test_wrap_up_limit_without_presence_and_the_sooner_setting_wins() -> None:
    d = _driver(max_wrap=120.0, auto_ready_after_wrap=30.0)
    login(d, "bob", now=0.0)
    supply(d, 5)
    call = _calls(d)[0]
    d.send(CallAnswered(call), 1.0)
    d.send(CallHungUp(call), 10.0)
    d.tick(39.9)
    assert _state(d, "bob")[0] is _S.WRAP_UP
    d.tick(40.0)
    assert _state(d, "bob") == (_S.READY, None)


def test_gone_during_wrap_up_she_is_paused_not_made_ready() -> None:
    d = _driver(max_wrap=120.0)
    d.send(CollectorSeen("alice", 15.0), 0.0)
    login(d, "alice", now=0.0)
    supply(d, 5)
    call = _calls(d)[0]
    d.send(CallAnswered(call), 1.0)
    d.send(CallHungUp(call), 10.0)  # she was still there (seen until 15)
    assert _state(d, "alice")[0] is _S.WRAP_UP
    d.tick(15.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)
    d.tick(130.0)
    assert _state(d, "alice") == (_S.PAUSED, DISCONNECTED)


def test_max_wrap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_wrap"):
        make_engine(max_wrap=0.0)
