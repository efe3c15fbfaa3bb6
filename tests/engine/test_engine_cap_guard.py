"""The abandon-cap guard (dialer.engine.cap_guard): its arithmetic, its rule on one decision,
its ledger, and the engine under it: whatever the pacer, once the budget is spent no
decision launches beyond what progressive would place."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest
from enginekit import Driver, login, supply, target
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_properties import ACTIONS, _pick_event

from dialer.domain.calls import CallOutcome
from dialer.domain.commands import Originate
from dialer.domain.events import CallAnswered, CallHungUp, CasesSupplied, CollectorPaused
from dialer.engine import AbandonCapGuard, Engine, EngineConfig, window_words
from dialer.engine.cap_guard import answer_rate_bound, max_exposed
from dialer.pacing.base import PacingDecision, PacingInputs
from dialer.pacing.policies import make_pacer

DAY30 = 30 * 86400.0


@dataclass
class Tally:
    dials: int = 0
    live_answers: int = 0
    abandoned: int = 0
    machine_verdicts: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def inputs(
    ready: int = 4, dialing: int = 0, ringing: int = 0, waiting: int = 0, on_call: int = 0
) -> PacingInputs:
    available = ready + on_call
    return PacingInputs(
        now=1000.0,
        logged_in=available,
        ready=ready,
        reserved=0,
        on_call=on_call,
        wrap_up=0,
        paused=0,
        dialing=dialing,
        ringing=ringing,
        waiting=waiting,
        max_in_flight=10 * available,
    )


def guard_with(live: int, drops: int, cap: float = 0.03) -> AbandonCapGuard:
    guard = AbandonCapGuard(cap, DAY30)
    guard.sync(live, drops, 0.0, Tally())
    return guard


# ----- the arithmetic ------------------------------------------------------------------------


def test_answer_rate_bound_is_one_without_evidence_and_tightens_with_it() -> None:
    assert answer_rate_bound(0, 0) == 1.0
    few, many = answer_rate_bound(3, 10), answer_rate_bound(300, 1000)
    assert 0.3 < many < few < 1.0
    assert many == pytest.approx(0.3, abs=0.03)
    assert answer_rate_bound(0, 1000) > 0.0, "never zero: an answer may still come"


@settings(max_examples=300, deadline=None)
@given(st.floats(-5.0, 500.0), st.floats(0.001, 1.0))
def test_max_exposed_is_the_largest_count_within_the_headroom(headroom: float, p: float) -> None:
    r = max_exposed(headroom, p)

    def plausible(n: int) -> float:
        return n * p + 2.0 * math.sqrt(n * p * (1 - p))

    assert r >= 0
    if headroom <= 0:
        assert r == 0
        return
    assert plausible(r) <= headroom + 1e-9
    assert plausible(r + 1) > headroom - 1e-9


def test_max_exposed_with_certain_answers_is_the_headroom() -> None:
    assert max_exposed(5.9, 1.0) == 5
    assert max_exposed(0.5, 1.0) == 0


def test_window_words() -> None:
    assert window_words(DAY30) == "30 days"
    assert window_words(86400.0) == "24 hours"
    assert window_words(None) == "since the start"


# ----- the rule on one decision ---------------------------------------------------------------


def test_within_progressive_the_decision_passes_even_with_the_budget_spent() -> None:
    guard = guard_with(1000, 40)  # 4.0%: over the cap
    decision = PacingDecision(3, "ratio")
    assert guard.review(inputs(ready=4, ringing=1), decision, 3, Tally()) is decision
    assert not guard.clamping


def test_preview_calls_pass_untouched() -> None:
    guard = guard_with(1000, 40)
    decision = PacingDecision(4, "preview", reserve_collector=True)
    assert guard.review(inputs(ready=4, ringing=4), decision, 4, Tally()) is decision


def test_a_spent_budget_clamps_to_one_call_per_ready_collector_and_says_why() -> None:
    guard = guard_with(1000, 30)  # exactly 3.0%: nothing left
    decision = PacingDecision(40, "ceil(10 x ready) - in flight")
    out = guard.review(inputs(ready=4), decision, 40, Tally(dials=1000, live_answers=300))
    assert out.launch == 4, "calls in flight = ready collectors"
    assert out.reason.startswith("cap guard: abandon budget spent: 3.0% of 1000 live answers")
    assert "30 days" in out.reason and "one call per ready collector" in out.reason
    assert out.detail["cap_guard"]["pacer_launch"] == 40
    assert out.detail["cap_guard"]["pacer_reason"] == decision.reason
    assert guard.clamping and guard.clamps == 1
    status = guard.status(1000.0)
    assert status.clamping and "limiting dialing" in status.sentence
    assert status.abandons_left == pytest.approx(0.0)


def test_estimated_amd_false_positives_spend_the_budget_uk_ofcom() -> None:
    """1000 live answers and 20 abandons leave 10 abandons of budget at 3%; 200 machine
    verdicts at a 5% false-positive rate are 10 more abandons (and live answers): 0.3
    left, so the guard dials one call per ready collector, and says why."""
    plain = guard_with(1000, 20)
    counted = AbandonCapGuard(0.03, 86_400.0, machine_false_positive_rate=0.05)
    counted.sync(1000, 20, 0.0, Tally())
    counted.observe(Tally(machine_verdicts=200), 1.0)
    assert counted.abandons_left(1000.0) == pytest.approx(0.03 * 1010 - 30)
    tally = Tally(dials=1000, live_answers=300, machine_verdicts=200)
    decision = PacingDecision(40, "ratio")
    assert plain.review(inputs(ready=4), decision, 40, tally).launch > 4
    out = counted.review(inputs(ready=4), decision, 40, tally)
    assert out.launch == 4
    assert "counting 10.0 estimated AMD false positives" in out.reason
    status = counted.status(1000.0)
    assert status.false_positives == pytest.approx(10.0)
    assert (status.live_answers, status.abandons) == (1000, 20)
    assert status.as_dict()["false_positives"] == pytest.approx(10.0)


def test_a_sync_adds_the_drops_still_playing_to_the_stores_machine_answers() -> None:
    guard = AbandonCapGuard(0.03, 86_400.0, machine_false_positive_rate=0.05)
    # 12 verdicts seen here: 10 finished (the store has them), 2 messages still playing.
    tally = Tally(machine_verdicts=12, outcomes=Counter(machine=4, machine_message_left=6))
    guard.sync(1000, 20, 0.0, tally, machines=200)  # the store: every daemon's
    assert guard.ledger.machine_verdicts(0.0) == 202
    assert guard.status(0.0).false_positives == pytest.approx(10.1)


def test_a_short_budget_allows_only_the_calls_it_could_absorb() -> None:
    # 1000 live answers, 20 drops: 10 abandons left, headroom 10 / 0.97 = 10.3 drops.
    guard = guard_with(1000, 20)
    tally = Tally(dials=1000, live_answers=300)  # answer rate 30%, bound about 0.33
    p = answer_rate_bound(300, 1000)
    exposed = max_exposed(10 / 0.97, p)
    assert 10 < exposed < 31
    out = guard.review(inputs(ready=4), PacingDecision(40, "ratio"), 40, tally)
    assert out.launch == 4 + exposed
    assert f"covers {exposed} calls beyond the ready collectors" in out.reason
    # Calls already ringing beyond the ready collectors use up the same allowance.
    out = guard.review(inputs(ready=4, ringing=4 + exposed), PacingDecision(9, "ratio"), 9, tally)
    assert out.launch == 0 and "one call per ready collector" in out.reason


def test_answered_calls_waiting_beyond_the_ready_collectors_count_as_abandons() -> None:
    guard = guard_with(1000, 25)  # 5 left: headroom 5.15
    tally = Tally(dials=1000, live_answers=1000)  # every dial answers: p bound near 1
    free = guard.review(inputs(ready=0, on_call=8), PacingDecision(3, "x"), 3, tally)
    assert free.launch == 3
    waiting = guard.review(inputs(ready=0, on_call=8, waiting=4), PacingDecision(3, "x"), 3, tally)
    assert waiting.launch == 1, "4 sure abandons leave room for one more call"


def test_an_ample_budget_changes_nothing() -> None:
    guard = guard_with(100_000, 1000)  # 1%: 2000 abandons left
    decision = PacingDecision(36, "ratio")
    out = guard.review(inputs(ready=4), decision, 36, Tally(dials=1000, live_answers=300))
    assert out is decision and not guard.clamping and guard.clamps == 0


def test_no_evidence_means_every_exposed_call_may_answer() -> None:
    guard = guard_with(1000, 25)  # headroom 5.15, and no dial of this engine resolved yet
    out = guard.review(inputs(ready=2), PacingDecision(20, "ratio"), 20, Tally())
    assert out.launch == 2 + 5


# ----- the ledger ------------------------------------------------------------------------------


def test_the_ledger_counts_the_engine_and_syncs_with_the_store_keeping_open_calls() -> None:
    guard = AbandonCapGuard(0.03, DAY30)
    tally = Tally(dials=10, live_answers=5, abandoned=2)
    guard.observe(tally, 10.0)
    assert guard.totals(10.0) == (5, 2)
    # The store has the finished ones: 1 completed, 1 abandoned; 3 live (1 abandon) still up.
    tally.outcomes.update({"completed": 1, "abandoned": 1})
    guard.sync(400, 10, 20.0, tally)
    assert guard.totals(20.0) == (400 + 3, 10 + 1)
    tally.live_answers += 1
    guard.observe(tally, 30.0)
    assert guard.totals(30.0) == (404, 11)
    assert guard.abandons_left(30.0) == pytest.approx(0.03 * 404 - 11)


def test_local_counts_leave_the_rolling_window() -> None:
    guard = AbandonCapGuard(0.03, 3600.0)
    guard.observe(Tally(live_answers=10, abandoned=1), 0.0)
    assert guard.totals(1800.0) == (10, 1)
    assert guard.totals(3600.0 + 120.0) == (0, 0)


def test_bad_caps_are_refused() -> None:
    with pytest.raises(ValueError, match="abandon cap"):
        AbandonCapGuard(0.0)
    with pytest.raises(ValueError, match="abandon_cap"):
        EngineConfig(campaign="x", abandon_cap=1.5)
    with pytest.raises(ValueError, match="abandon_window"):
        EngineConfig(campaign="x", abandon_cap=0.03, abandon_window=0.0)


# ----- the engine under the guard ------------------------------------------------------------


def originated(driver: Driver) -> list[Originate]:
    return [c for c in driver.commands if isinstance(c, Originate)]


def guarded_engine(pacer: str, **config: object) -> Engine:
    cfg = EngineConfig(campaign="g", abandon_cap=0.03, abandon_window=DAY30, **config)  # type: ignore[arg-type]
    return Engine(cfg, make_pacer(pacer), np.random.default_rng(1))


def test_ratio_10_on_a_fresh_campaign_dials_one_call_per_ready_collector() -> None:
    driver = Driver(guarded_engine("ratio:10"))
    supply(driver, 100)
    login(driver, "a", "b", "c")
    assert len(originated(driver)) == 3, "no live answer yet: no allowance to spend"
    record = driver.engine.decisions[-1]
    assert record.decision.reason.startswith("cap guard: abandon budget spent")
    assert record.decision.detail["cap_guard"]["pacer_launch"] > 3


def test_without_the_guard_ratio_10_overdials() -> None:
    unguarded = Engine(EngineConfig(campaign="u"), make_pacer("ratio:10"), np.random.default_rng(1))
    driver = Driver(unguarded)
    supply(driver, 100)
    login(driver, "a", "b", "c")
    assert len(originated(driver)) == 9, "3 collectors x the line limit of 3"


def test_a_healthy_ledger_lets_ratio_overdial_and_a_spent_one_stops_it() -> None:
    engine = guarded_engine("ratio:2")
    assert engine.cap_guard is not None
    engine.cap_guard.sync(10_000, 100, 0.0, engine.stats)  # 1%: 200 abandons left
    driver = Driver(engine)
    supply(driver, 100)
    login(driver, "a", "b")
    assert len(originated(driver)) == 4
    # The store now reports the budget spent (another daemon's drops): no overdial.
    engine.cap_guard.sync(10_000, 300, 1.0, engine.stats)
    first = originated(driver)[0]
    driver.send(CallAnswered(first.call_id), 2.0)  # a collector takes it, one ready left
    driver.send(CallHungUp(first.call_id), 3.0)
    assert engine.counts().get("ready", 0) == 1
    login(driver, "c", now=4.0)
    assert len(originated(driver)) == 4, "3 calls in flight for 2 ready: nothing more"
    assert engine.cap_guard.clamping


def test_the_engine_feeds_the_guard_its_live_answers_and_abandons() -> None:
    engine = guarded_engine("progressive", connect_grace=0.0)
    guard = engine.cap_guard
    assert guard is not None
    driver = Driver(engine)
    driver.send(CasesSupplied((target("case-1"), target("case-2"))), 0.0)
    login(driver, "a")
    call = originated(driver)[0]
    driver.send(CollectorPaused("a", "break"), 0.5)
    driver.send(CallAnswered(call.call_id), 1.0)  # nobody ready, no grace: abandoned
    assert engine.stats.abandoned == 1
    assert guard.totals(1.0) == (1, 1)
    # The store has not counted the call yet (it is still hearing the message): a sync
    # with the store's totals keeps it.
    guard.sync(0, 0, 2.0, engine.stats)
    assert guard.totals(2.0) == (1, 1)
    driver.send(CallHungUp(call.call_id), 3.0)
    assert engine.stats.outcomes[CallOutcome.ABANDONED.value] == 1
    guard.sync(1, 1, 4.0, engine.stats)  # now the store has it, and only once
    assert guard.totals(4.0) == (1, 1)


@settings(max_examples=120, deadline=None)
@given(
    pacer=st.sampled_from(["ratio:10", "ratio:2.5", "adaptive", "predictive", "progressive"]),
    grace=st.sampled_from([0.0, 2.0]),
    steps=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(0, 50), st.floats(0.0, 5.0)),
        min_size=1,
        max_size=120,
    ),
)
def test_once_the_budget_is_spent_no_pacer_launches_beyond_progressive(
    pacer: str, grace: float, steps: list[tuple[str, int, float]]
) -> None:
    engine = guarded_engine(pacer, connect_grace=grace)
    guard = engine.cap_guard
    assert guard is not None
    guard.sync(1000, 40, 0.0, engine.stats)  # 4%: spent for the next 333 live answers
    now = 0.0
    seen: object = None
    for seq, (action, choice, dt) in enumerate(steps):
        now += dt
        if action == "tick":
            commands = engine.tick(now)
        else:
            event = _pick_event(engine, action, choice, now, seq)
            if event is None:
                continue
            commands = engine.handle(event, now)
        launched = sum(isinstance(c, Originate) for c in commands)
        assert guard.abandons_left(now) < 0
        if engine.decisions and engine.decisions[-1] is not seen:
            record = engine.decisions[-1]
            seen = record
            progressive = max(0, record.inputs.ready - record.inputs.in_flight)
            assert record.launched <= progressive, record.decision.reason
            assert launched <= progressive
        else:
            assert launched == 0
