"""Every legal transition of the collector and call state machines, and the illegal ones."""

from __future__ import annotations

import pytest

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.calls import Call, CallOutcome, CallState
from dialer.domain.errors import IllegalCallTransition, IllegalCollectorTransition

S = CollectorState

COLLECTOR_EDGES = [
    (S.LOGGED_OUT, "log_in", S.READY),
    (S.READY, "ready", S.READY),
    (S.PAUSED, "ready", S.READY),
    (S.WRAP_UP, "ready", S.READY),
    (S.READY, "pause", S.PAUSED),
    (S.PAUSED, "pause", S.PAUSED),
    (S.WRAP_UP, "pause", S.PAUSED),
    (S.READY, "reserve", S.RESERVED),
    (S.RESERVED, "release", S.READY),
    (S.READY, "connect", S.ON_CALL),
    (S.RESERVED, "connect", S.ON_CALL),
    (S.ON_CALL, "hang_up", S.WRAP_UP),
    (S.READY, "log_out", S.LOGGED_OUT),
    (S.PAUSED, "log_out", S.LOGGED_OUT),
    (S.WRAP_UP, "log_out", S.LOGGED_OUT),
    (S.LOGGED_OUT, "log_out", S.LOGGED_OUT),
]
ACTIONS = sorted({a for _, a, _ in COLLECTOR_EDGES})


def _collector_in(state: CollectorState) -> Collector:
    c = Collector("a")
    path = {
        S.LOGGED_OUT: [],
        S.READY: [("log_in",)],
        S.PAUSED: [("log_in",), ("pause", "break")],
        S.RESERVED: [("log_in",), ("reserve", "call-1")],
        S.ON_CALL: [("log_in",), ("connect", "call-1")],
        S.WRAP_UP: [("log_in",), ("connect", "call-1"), ("hang_up",)],
    }[state]
    for action, *args in path:
        getattr(c, action)(*args, 0.0)
    assert c.state is state
    return c


def _do(c: Collector, action: str, now: float = 1.0) -> None:
    args = {"pause": ("lunch",), "reserve": ("call-1",), "connect": ("call-1",)}.get(action, ())
    getattr(c, action)(*args, now)


@pytest.mark.parametrize(("start", "action", "end"), COLLECTOR_EDGES)
def test_collector_legal_transition(
    start: CollectorState, action: str, end: CollectorState
) -> None:
    c = _collector_in(start)
    _do(c, action)
    assert c.state is end


@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("action", ACTIONS)
def test_collector_illegal_transition_raises(start: CollectorState, action: str) -> None:
    if any(s is start and a == action for s, a, _ in COLLECTOR_EDGES):
        return
    c = _collector_in(start)
    with pytest.raises(IllegalCollectorTransition) as info:
        _do(c, action)
    assert info.value.state == start
    assert c.state is start, "a refused transition changes nothing"


def test_collector_time_accounting() -> None:
    c = Collector("a")
    c.log_in(0.0)
    c.connect("x", 10.0)
    c.hang_up(70.0)
    c.ready(80.0)
    c.pause("break", 100.0)
    c.log_out(130.0)
    assert c.seconds == {"ready": 30.0, "on_call": 60.0, "wrap_up": 10.0, "paused": 30.0}


def test_reserved_collector_connects_only_to_its_call() -> None:
    c = _collector_in(S.RESERVED)
    with pytest.raises(IllegalCollectorTransition):
        c.connect("another-call", 1.0)


C = CallState


def _call_in(state: CallState) -> Call:
    call = Call("k", "case", "+12125550100")
    steps = {
        C.QUEUED: [],
        C.DIALING: ["dial"],
        C.RINGING: ["dial", "ring"],
        C.ANSWERED: ["dial", "ring", "answer"],
        C.BRIDGED: ["dial", "ring", "answer", "bridge"],
        C.ABANDONED: ["dial", "ring", "answer", "abandon"],
        C.VOICEMAIL: ["dial", "ring", "leave_voicemail"],
    }[state]
    for step in steps:
        if step == "bridge":
            call.bridge("a", 0.0)
        else:
            getattr(call, step)(0.0)
    return call


CALL_EDGES = [
    (C.QUEUED, "dial", C.DIALING),
    (C.DIALING, "ring", C.RINGING),
    (C.DIALING, "answer", C.ANSWERED),
    (C.RINGING, "answer", C.ANSWERED),
    (C.ANSWERED, "bridge", C.BRIDGED),
    (C.ANSWERED, "abandon", C.ABANDONED),
    (C.BRIDGED, "end", C.ENDED),
    (C.ANSWERED, "end", C.ENDED),
    (C.ABANDONED, "end", C.ENDED),
    (C.DIALING, "leave_voicemail", C.VOICEMAIL),
    (C.RINGING, "leave_voicemail", C.VOICEMAIL),
    (C.VOICEMAIL, "voicemail_left", C.ENDED),
    (C.VOICEMAIL, "voicemail_cut", C.ENDED),
]


def _call_do(call: Call, action: str) -> None:
    if action == "bridge":
        call.bridge("a", 1.0)
    elif action in ("voicemail_left", "voicemail_cut"):
        call.voicemail_ended(action == "voicemail_left", 1.0)
    elif action.startswith("fail:"):
        call.fail(CallOutcome(action[5:]), 1.0, 486)
    else:
        getattr(call, action)(1.0)


@pytest.mark.parametrize(("start", "action", "end"), CALL_EDGES)
def test_call_legal_transition(start: CallState, action: str, end: CallState) -> None:
    call = _call_in(start)
    _call_do(call, action)
    assert call.state is end


@pytest.mark.parametrize("start", [C.DIALING, C.RINGING])
@pytest.mark.parametrize("outcome", ["busy", "no_answer", "failed", "machine"])
def test_call_pre_answer_endings(start: CallState, outcome: str) -> None:
    call = _call_in(start)
    _call_do(call, f"fail:{outcome}")
    assert call.state is C.ENDED
    assert call.outcome == outcome
    assert call.sip_code == 486


def test_call_end_outcomes() -> None:
    bridged = _call_in(C.BRIDGED)
    bridged.end(5.0)
    assert bridged.outcome is CallOutcome.COMPLETED
    dropped = _call_in(C.ABANDONED)
    dropped.end(5.0)
    assert dropped.outcome is CallOutcome.ABANDONED
    machine = _call_in(C.ANSWERED)
    machine.fail(CallOutcome.MACHINE, 5.0)
    assert not machine.is_live_answer


CALL_ACTIONS = [
    "dial",
    "ring",
    "answer",
    "bridge",
    "abandon",
    "end",
    "fail:busy",
    "leave_voicemail",
    "voicemail_left",
]


@pytest.mark.parametrize("start", [s for s in C if s is not C.ENDED])
@pytest.mark.parametrize("action", CALL_ACTIONS)
def test_call_illegal_transition_raises(start: CallState, action: str) -> None:
    legal = {(s, a) for s, a, _ in CALL_EDGES} | {(s, "fail:busy") for s in (C.DIALING, C.RINGING)}
    if (start, action) in legal:
        return
    call = _call_in(start)
    with pytest.raises(IllegalCallTransition):
        _call_do(call, action)
    assert call.state is start


def test_voicemail_outcomes_are_machine_answers_never_live() -> None:
    left = _call_in(C.VOICEMAIL)
    assert left.answered_at == 0.0  # the machine answered: the line is up
    left.voicemail_ended(True, 30.0)
    assert (left.outcome, left.ended_at) == (CallOutcome.MACHINE_MESSAGE_LEFT, 30.0)
    assert not left.is_live_answer
    cut = _call_in(C.VOICEMAIL)
    cut.voicemail_ended(False, 4.0)
    assert cut.outcome is CallOutcome.MACHINE
    assert not cut.is_live_answer


def test_completed_is_not_a_failure_outcome() -> None:
    call = _call_in(C.RINGING)
    with pytest.raises(IllegalCallTransition):
        call.fail(CallOutcome.COMPLETED, 1.0)
