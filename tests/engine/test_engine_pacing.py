"""The engine driven with scripted events and times: pacing, routing, deadlines, draining."""

from __future__ import annotations

import math

from enginekit import Driver, login, make_engine, supply

from dialer.domain.calls import CallOutcome
from dialer.domain.commands import (
    AttemptFinished,
    Bridge,
    Cancel,
    Hangup,
    NeedCases,
    Originate,
    PlaySafeHarbor,
)
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallRinging,
    CollectorPaused,
    CollectorReady,
    DrainRequested,
)


def test_no_collectors_no_dials(driver: Driver) -> None:
    supply(driver, 10)
    assert driver.of(Originate) == []


def test_all_paused_no_dials(driver: Driver) -> None:
    supply(driver, 10)
    login(driver, "a", "b")
    driver.commands.clear()
    # Pause both: the two calls already placed stay, but nothing new is launched.
    driver.send(CollectorPaused("a", "break"), 1.0)
    driver.send(CollectorPaused("b", "break"), 1.0)
    first = [c.call_id for c in driver.of(Originate)]  # type: ignore[attr-defined]
    assert first == []
    for t in range(2, 30):
        driver.tick(float(t))
    assert driver.of(Originate) == []


def test_progressive_keeps_one_call_per_ready_collector(driver: Driver) -> None:
    supply(driver, 20)
    login(driver, "a", "b", "c")
    originated = driver.of(Originate)
    assert len(originated) == 3
    # A failure frees a line: exactly one replacement call.
    driver.commands.clear()
    driver.send(CallFailed(originated[0].call_id, CallOutcome.BUSY, 486), 5.0)  # type: ignore[attr-defined]
    assert len(driver.of(Originate)) == 1
    assert len(driver.of(AttemptFinished)) == 1


def test_ratio_pacer_launches_k_per_ready() -> None:
    d = Driver(make_engine("ratio:2.5"))
    supply(d, 50)
    login(d, "a", "b")
    # ceil(2.5 x 2) = 5 calls in flight.
    assert len(d.of(Originate)) == 5


def test_max_lines_per_collector_caps_ratio() -> None:
    d = Driver(make_engine("ratio:5", max_lines_per_collector=2.0))
    supply(d, 50)
    login(d, "a", "b")
    assert len(d.of(Originate)) == 4


def test_hopper_asks_for_cases_and_never_dials_a_case_twice(driver: Driver) -> None:
    login(driver, "a")
    need = driver.of(NeedCases)
    assert need, "an empty hopper asks for cases"
    supply(driver, 1, now=1.0)
    supply(driver, 1, now=1.0)  # the same case again while it is on a call
    assert len(driver.of(Originate)) == 1
    assert driver.engine.hopper_size == 0


def test_answered_call_goes_to_longest_idle_collector(driver: Driver) -> None:
    supply(driver, 20)
    login(driver, "a", now=0.0)
    login(driver, "b", now=1.0)
    login(driver, "c", now=2.0)
    calls = [c.call_id for c in driver.of(Originate)]  # type: ignore[attr-defined]
    driver.send(CallRinging(calls[0]), 3.0)
    driver.send(CallAnswered(calls[0]), 4.0)
    bridges = driver.of(Bridge)
    assert [(b.call_id, b.collector_id) for b in bridges] == [(calls[0], "a")]  # type: ignore[attr-defined]
    driver.send(CallAnswered(calls[1]), 5.0)
    assert driver.of(Bridge)[-1].collector_id == "b"  # type: ignore[attr-defined]


def test_abandon_after_connect_grace_plays_safe_harbor() -> None:
    d = Driver(make_engine("ratio:3", connect_grace=2.0))
    supply(d, 20)
    login(d, "a")
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    assert len(calls) == 3
    d.send(CallAnswered(calls[0]), 10.0)  # bridged to a
    d.send(CallAnswered(calls[1]), 11.0)  # nobody free: waits
    assert d.engine.next_wakeup(11.0) == 13.0
    d.tick(12.999)
    assert d.of(PlaySafeHarbor) == []
    d.tick(13.0)
    assert [c.call_id for c in d.of(PlaySafeHarbor)] == [calls[1]]  # type: ignore[attr-defined]
    assert d.engine.stats.abandoned == 1
    d.send(CallHungUp(calls[1]), 20.0)
    finished = [c for c in d.of(AttemptFinished) if c.call.call_id == calls[1]]  # type: ignore[attr-defined]
    assert finished[0].call.outcome is CallOutcome.ABANDONED  # type: ignore[attr-defined]


def test_waiting_call_taken_by_collector_freed_within_grace() -> None:
    d = Driver(make_engine("ratio:3", connect_grace=2.0))
    supply(d, 20)
    login(d, "a")
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    d.send(CallAnswered(calls[0]), 10.0)
    d.send(CallAnswered(calls[1]), 11.0)
    d.send(CallHungUp(calls[0]), 12.0)  # a goes to wrap-up
    d.send(CollectorReady("a"), 12.5)  # and back: takes the waiting call
    assert [b.call_id for b in d.of(Bridge)] == calls[:2]  # type: ignore[attr-defined]
    assert d.of(Bridge)[-1].answer_to_bridge == 1.5  # type: ignore[attr-defined]
    d.tick(13.0)
    assert d.of(PlaySafeHarbor) == []


def test_zero_grace_abandons_at_once() -> None:
    d = Driver(make_engine("ratio:2", connect_grace=0.0))
    supply(d, 20)
    login(d, "a")
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    d.send(CallAnswered(calls[0]), 1.0)
    d.send(CallAnswered(calls[1]), 1.0)
    assert [c.call_id for c in d.of(PlaySafeHarbor)] == [calls[1]]  # type: ignore[attr-defined]


def test_ring_timeout_cancels_unanswered_call(driver: Driver) -> None:
    supply(driver, 5)
    login(driver, "a")
    call_id = driver.of(Originate)[0].call_id  # type: ignore[attr-defined]
    driver.send(CallRinging(call_id), 1.0)
    assert driver.engine.next_wakeup(1.0) == 25.0
    driver.tick(24.9)
    assert driver.of(Cancel) == []
    driver.tick(25.0)
    assert [c.call_id for c in driver.of(Cancel)] == [call_id]  # type: ignore[attr-defined]
    driver.tick(26.0)
    assert len(driver.of(Cancel)) == 1, "cancel is sent once"
    driver.send(CallFailed(call_id, CallOutcome.NO_ANSWER, 487), 25.1)
    assert driver.of(AttemptFinished)[-1].call.sip_code == 487  # type: ignore[attr-defined]


def test_ring_timeout_below_minimum_is_refused() -> None:
    try:
        make_engine(ring_timeout=10.0)
    except ValueError as exc:
        assert "ring_timeout" in str(exc)
    else:
        raise AssertionError("a 10 s ring timeout must be refused")
    make_engine(ring_timeout=math.inf)  # the simulator's "no timeout"


def test_collector_pauses_while_call_rings() -> None:
    d = Driver(make_engine("progressive", connect_grace=2.0))
    supply(d, 5)
    login(d, "a")
    call_id = d.of(Originate)[0].call_id  # type: ignore[attr-defined]
    d.send(CallRinging(call_id), 1.0)
    d.send(CollectorPaused("a", "break"), 2.0)
    d.send(CallAnswered(call_id), 3.0)
    assert d.of(Bridge) == []
    d.tick(5.0)
    assert [c.call_id for c in d.of(PlaySafeHarbor)] == [call_id]  # type: ignore[attr-defined]
    assert len(d.of(Originate)) == 1, "no new call while the only collector is paused"


def test_machine_answer_hangs_up_and_is_not_live(driver: Driver) -> None:
    supply(driver, 5)
    login(driver, "a")
    call_id = driver.of(Originate)[0].call_id  # type: ignore[attr-defined]
    driver.send(CallAnswered(call_id, machine=True), 4.0)
    assert [c.call_id for c in driver.of(Hangup)] == [call_id]  # type: ignore[attr-defined]
    assert driver.engine.stats.live_answers == 0
    assert driver.of(AttemptFinished)[0].call.outcome is CallOutcome.MACHINE  # type: ignore[attr-defined]


def test_drain_stops_new_dials_and_lets_live_calls_finish(driver: Driver) -> None:
    supply(driver, 10)
    login(driver, "a", "b")
    calls = [c.call_id for c in driver.of(Originate)]  # type: ignore[attr-defined]
    driver.send(CallAnswered(calls[0]), 2.0)
    driver.send(DrainRequested(), 3.0)
    driver.send(CallFailed(calls[1], CallOutcome.BUSY, 486), 4.0)
    assert len(driver.of(Originate)) == 2, "no new dial after the drain began"
    assert not driver.engine.idle
    driver.send(CallHungUp(calls[0]), 30.0)
    assert driver.engine.idle
    assert driver.of(NeedCases)[-1] is not None


def test_hang_up_all_at_drain_timeout(driver: Driver) -> None:
    supply(driver, 10)
    login(driver, "a", "b")
    calls = [c.call_id for c in driver.of(Originate)]  # type: ignore[attr-defined]
    driver.send(CallAnswered(calls[0]), 2.0)
    driver.send(DrainRequested(), 3.0)
    out = driver.engine.hang_up_all(4.0)
    assert {(type(c).__name__, c.call_id) for c in out} == {  # type: ignore[attr-defined]
        ("Hangup", calls[0]),
        ("Cancel", calls[1]),
    }


def test_preview_reserves_collector_and_dials_after_delay() -> None:
    d = Driver(make_engine("manual", preview_dial_delay=10.0))
    supply(d, 5)
    login(d, "a")
    assert d.of(Originate) == []
    assert d.engine.collectors["a"].state == "reserved"
    d.tick(10.0)
    call_id = d.of(Originate)[0].call_id  # type: ignore[attr-defined]
    d.send(CallFailed(call_id, CallOutcome.NO_ANSWER, 480), 30.0)
    # The collector is free again, and the next hand-dial begins.
    assert d.engine.collectors["a"].state == "reserved"
    d.tick(40.0)
    second = d.of(Originate)[1].call_id  # type: ignore[attr-defined]
    d.send(CallAnswered(second), 45.0)
    assert d.of(Bridge)[-1].collector_id == "a"  # type: ignore[attr-defined]


def test_own_history_is_pruned_after_the_longest_rule_window() -> None:
    from dialer.domain.guard import GuardVerdict
    from dialer.engine.state import HISTORY_KEEP

    d = Driver(make_engine())
    d.engine.guard = lambda target, history, now: GuardVerdict(True)
    supply(d, 5)
    login(d, "a")
    call_id = d.of(Originate)[0].call_id  # type: ignore[attr-defined]
    d.send(CallFailed(call_id, CallOutcome.BUSY, 486), 1.0)
    assert len(d.engine._own_history) == 1
    d.tick(HISTORY_KEEP / 2)
    assert len(d.engine._own_history) == 1, "still inside the window"
    d.tick(HISTORY_KEEP + 3600.0)
    assert "case-1" not in d.engine._own_history
