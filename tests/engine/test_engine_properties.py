"""Random event sequences against the engine: the invariants hold whatever happens."""

from __future__ import annotations

from collections import Counter

import numpy as np
from enginekit import target
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.agents import CollectorState
from dialer.domain.calls import CallOutcome, CallState
from dialer.domain.commands import AttemptFinished, Bridge, Originate
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallRinging,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
    Event,
)
from dialer.engine import Engine, EngineConfig
from dialer.pacing.policies import make_pacer

ACTIONS = [
    "login",
    "ready",
    "pause",
    "logout",
    "ring",
    "answer",
    "machine",
    "fail",
    "hangup",
    "tick",
    "supply",
]


def _pick_event(engine: Engine, action: str, choice: int, now: float, seq: int) -> Event | None:
    collectors = sorted(engine.collectors.values(), key=lambda c: c.collector_id)
    calls = sorted(engine.calls.values(), key=lambda c: c.call_id)

    def pick(items: list, pred) -> object | None:  # type: ignore[no-untyped-def,type-arg]
        chosen = [i for i in items if pred(i)]
        return chosen[choice % len(chosen)] if chosen else None

    if action == "login":
        out = pick(collectors, lambda c: c.state is CollectorState.LOGGED_OUT)
        cid = out.collector_id if out else f"a{len(collectors)}"  # type: ignore[attr-defined]
        return CollectorLoggedIn(cid, team="t" + str(choice % 2))
    if action == "ready":
        c = pick(collectors, lambda c: c.state in (CollectorState.PAUSED, CollectorState.WRAP_UP))
        return CollectorReady(c.collector_id) if c else None  # type: ignore[attr-defined]
    if action == "pause":
        c = pick(collectors, lambda c: c.state in (CollectorState.READY, CollectorState.WRAP_UP))
        return CollectorPaused(c.collector_id, "break") if c else None  # type: ignore[attr-defined]
    if action == "logout":
        c = pick(collectors, lambda c: c.state in (CollectorState.READY, CollectorState.PAUSED))
        return CollectorLoggedOut(c.collector_id) if c else None  # type: ignore[attr-defined]
    pre = (CallState.DIALING, CallState.RINGING)
    if action == "ring":
        k = pick(calls, lambda k: k.state is CallState.DIALING)
        return CallRinging(k.call_id) if k else None  # type: ignore[attr-defined]
    if action in ("answer", "machine"):
        k = pick(calls, lambda k: k.state in pre)
        return CallAnswered(k.call_id, machine=action == "machine") if k else None  # type: ignore[attr-defined]
    if action == "fail":
        k = pick(calls, lambda k: k.state in pre)
        outcome = [CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED][choice % 3]
        return CallFailed(k.call_id, outcome) if k else None  # type: ignore[attr-defined]
    if action == "hangup":
        k = pick(
            calls, lambda k: k.state in (CallState.BRIDGED, CallState.ABANDONED, CallState.ANSWERED)
        )
        return CallHungUp(k.call_id) if k else None  # type: ignore[attr-defined]
    if action == "supply":
        return CasesSupplied(tuple(target(f"case-{seq * 10 + i}") for i in range(choice % 6)))
    return None


def _check_invariants(engine: Engine, originated: int, finished: int) -> None:
    on_call: Counter[str] = Counter()
    for call in engine.calls.values():
        if call.state is CallState.BRIDGED:
            assert call.collector_id is not None
            on_call[call.collector_id] += 1
            collector = engine.collectors[call.collector_id]
            assert collector.state is CollectorState.ON_CALL
            assert collector.call_id == call.call_id
    assert all(n == 1 for n in on_call.values()), "a collector is on at most one call"
    for collector in engine.collectors.values():
        if collector.state is CollectorState.ON_CALL:
            assert on_call[collector.collector_id] == 1, "an on-call collector has its call"
    counts = engine.counts()
    by_state = Counter(c.state.value for c in engine.collectors.values() if c.state != "logged_out")
    by_state.update("call_" + k.state.value for k in engine.calls.values())
    assert counts == {k: v for k, v in by_state.items() if v}, "counters add up"
    assert originated - finished == sum(
        1 for k in engine.calls.values() if k.state is not CallState.QUEUED
    ), "every originated call is in flight or finished"


@settings(max_examples=150, deadline=None)
@given(
    pacer=st.sampled_from(["progressive", "ratio:2.5", "adaptive", "manual"]),
    grace=st.sampled_from([0.0, 2.0]),
    steps=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(0, 50), st.floats(0.0, 5.0)),
        min_size=1,
        max_size=120,
    ),
)
def test_random_event_sequences_keep_invariants(
    pacer: str, grace: float, steps: list[tuple[str, int, float]]
) -> None:
    config = EngineConfig(campaign="p", connect_grace=grace, preview_dial_delay=1.0)
    engine = Engine(config, make_pacer(pacer), np.random.default_rng(0))
    now = 0.0
    originated = finished = 0
    for seq, (action, choice, dt) in enumerate(steps):
        now += dt
        if action == "tick":
            commands = engine.tick(now)
        else:
            event = _pick_event(engine, action, choice, now, seq)
            if event is None:
                continue
            commands = engine.handle(event, now)
        originated += sum(isinstance(c, Originate) for c in commands)
        finished += sum(isinstance(c, AttemptFinished) for c in commands)
        bridged = [c.call_id for c in commands if isinstance(c, Bridge)]
        assert len(bridged) == len(set(bridged)), "a call is bridged once"
        _check_invariants(engine, originated, finished)
    assert engine.stats.dials == originated
