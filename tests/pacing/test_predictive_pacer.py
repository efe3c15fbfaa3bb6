"""The predictive pacer: warm-up, never dialing without collectors, limits, live settings,
the decision record."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dialer.domain.commands import Originate
from dialer.domain.events import (
    CallAnswered,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorPaused,
)
from dialer.domain.model import Case, DialTarget, PhoneNumber
from dialer.engine import Engine, EngineConfig
from dialer.pacing.base import PacingInputs
from dialer.pacing.blending import Reservation
from dialer.pacing.policies import make_pacer
from dialer.pacing.predictive import PredictivePacer

_WARM: dict[tuple[tuple[str, float | bool], ...], PredictivePacer] = {}


def warmed(pacer: PredictivePacer | None = None, **options: float | bool) -> PredictivePacer:
    """A pacer past the progressive warm-up (p = 0.3, talk ~ 180 s, models fitted); built
    once per option set and copied, since the first fits take a moment."""
    key = tuple(sorted(options.items()))
    if key not in _WARM:
        fresh = PredictivePacer(**options) if pacer is None else pacer
        rng = np.random.default_rng(0)
        for i in range(400):
            fresh.observe_dial_resolved(float(rng.uniform(3, 20)), i % 10 < 3, 0.0)
        for _ in range(60):
            fresh.observe_talk(float(rng.exponential(180.0)), 0.0)
            fresh.observe_wrap(float(rng.uniform(5, 15)), 0.0)
        busy = np.array([10.0, 50.0])
        view = View(busy, np.zeros(2, dtype=bool), np.array([1.0]))
        fresh.decide(inputs(1, 2, 1), view, rng)  # fit the models now
        _WARM[key] = fresh
    return copy.deepcopy(_WARM[key])


class View:
    def __init__(self, busy: np.ndarray, in_wrap: np.ndarray, ringing: np.ndarray) -> None:
        self.busy, self.in_wrap, self.ringing = busy, in_wrap, ringing

    def busy_elapsed(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        return self.busy, self.in_wrap

    def ringing_elapsed(self, now: float) -> np.ndarray:
        return self.ringing


def inputs(
    ready: int, busy: int, ringing: int, paused: int = 0, lines: float = 3.0, waiting: int = 0
) -> PacingInputs:
    available = ready + busy
    return PacingInputs(
        now=100.0,
        logged_in=available + paused,
        ready=ready,
        reserved=0,
        on_call=busy,
        wrap_up=0,
        paused=paused,
        dialing=0,
        ringing=ringing,
        waiting=waiting,
        max_in_flight=int(lines * available),
    )


def view_for(busy: int, ringing: int, rng: np.random.Generator) -> View:
    return View(rng.uniform(0, 400, busy), np.zeros(busy, dtype=bool), rng.uniform(0, 20, ringing))


def test_make_pacer_builds_it() -> None:
    pacer = make_pacer("predictive", abandon_cap=0.03)
    assert isinstance(pacer, PredictivePacer)
    assert pacer.periodic
    with pytest.raises(ValueError, match="no settings"):
        make_pacer("predictive", bogus=1)
    with pytest.raises(ValueError, match="cautious_quantile must be in"):
        make_pacer("predictive", cautious_quantile=1.5)


def test_progressive_while_learning() -> None:
    pacer = PredictivePacer()
    rng = np.random.default_rng(0)
    decision = pacer.decide(inputs(5, 5, 2), view_for(5, 2, rng), rng)
    assert decision.launch == 3
    assert "learning" in decision.reason


def resolved_only(live: int, failed: int, **options: float) -> PredictivePacer:
    """A fresh pacer that has seen dials resolve but no talk complete."""
    pacer = PredictivePacer(**options)
    for _ in range(live):
        pacer.observe_dial_resolved(8.0, True, 0.0)
    for _ in range(failed):
        pacer.observe_dial_resolved(12.0, False, 0.0)
    return pacer


def test_before_the_talk_model_only_idle_collectors_are_counted_on() -> None:
    # 60 live answers in 200 dials, no talk complete: the risk of the (m + 1)-th new call is
    # P(Bin(ringing + m, p) >= idle - waiting), whatever the busy collectors' elapsed times.
    pacer = resolved_only(60, 140, initial_threshold=0.05)
    rng = np.random.default_rng(0)
    decision = pacer.decide(inputs(8, 30, 5, waiting=1), view_for(30, 5, rng), rng)
    p = pacer.answer_rate.quantile(0, pacer.answer_quantile)  # 60 live answers: known
    assert decision.detail["estimates"]["p_answer"] == pytest.approx(p, abs=1e-4)
    risks = decision.detail["risks"]
    # The exact computation stops at the first call over the threshold (the rest read 1).
    computed = next(i for i, r in enumerate(risks) if r >= decision.detail["threshold"]) + 1
    expected = [float(stats.binom.sf(7 - 1, 5 + m, p)) for m in range(computed)]
    assert risks[:computed] == pytest.approx(expected, abs=2e-5)  # the record rounds to 1e-5
    assert decision.detail["predicted_free"] == 8.0  # busy collectors are not counted on
    assert "only idle collectors" in decision.reason
    # It dials ahead of progressive (7 idle, 5 calls out: progressive would launch 2) ...
    assert decision.launch > 2
    # ... and never past the threshold, bar the one fractional call.
    assert all(r < decision.detail["threshold"] for r in risks[: decision.launch - 1])


def test_the_idle_only_bound_is_above_the_model_risk() -> None:
    # The same state, once the talk model is fitted: counting on busy collectors can only
    # lower every call's risk, and the bound holds even with the cautious answer quantile.
    model = warmed(initial_threshold=0.05)
    bound = copy.deepcopy(model)
    bound.talks = 0
    rng = np.random.default_rng(4)
    view = view_for(20, 6, rng)
    for pacer in (model, bound):
        pacer._last_key = None
    full = model.decide(inputs(3, 20, 6), view, np.random.default_rng(1)).detail["risks"]
    idle = bound.decide(inputs(3, 20, 6), view, np.random.default_rng(1)).detail["risks"]
    shared = min(len(full), len(idle))
    assert shared >= 2
    assert all(i >= f - 1e-12 for i, f in zip(idle[:shared], full[:shared], strict=True))
    assert idle[0] > full[0]


def test_answer_probability_at_a_high_quantile_until_enough_live_answers() -> None:
    pacer = resolved_only(10, 30)
    pacer.talks = pacer.min_talks  # the talk model is known; the answer rate is not
    for _ in range(pacer.min_talks):
        pacer.observe_talk(120.0, 0.0)
    rng = np.random.default_rng(0)
    decision = pacer.decide(inputs(4, 6, 2), view_for(6, 2, rng), rng)
    cautious = pacer.answer_rate.quantile(0, pacer.cautious_quantile)
    assert decision.detail["estimates"]["p_answer"] == pytest.approx(cautious, abs=1e-4)
    assert cautious > pacer.answer_rate.quantile(0, pacer.answer_quantile)
    assert "0.95 quantile" in decision.reason


def test_nothing_without_an_available_collector() -> None:
    pacer = warmed()
    rng = np.random.default_rng(0)
    nobody = inputs(0, 0, 0)
    assert pacer.decide(nobody, view_for(0, 0, rng), rng).launch == 0
    all_paused = inputs(0, 0, 0, paused=10)
    assert pacer.decide(all_paused, view_for(0, 0, rng), rng).launch == 0


def cases(n: int) -> CasesSupplied:
    return CasesSupplied(
        tuple(
            DialTarget(Case(f"case-{i}", (PhoneNumber(f"+1212555{i:04d}"),)), f"+1212555{i:04d}")
            for i in range(n)
        )
    )


def engine_with(pacer: PredictivePacer) -> Engine:
    return Engine(EngineConfig(campaign="t"), pacer, np.random.default_rng(1))


def test_engine_dials_nothing_with_nobody_logged_in() -> None:
    engine = engine_with(warmed())
    out = engine.handle(cases(50), 0.0)
    for t in np.arange(0.5, 30.0, 0.5):
        out += engine.tick(float(t))
    assert not [c for c in out if isinstance(c, Originate)]


def test_engine_dials_nothing_when_everyone_is_paused() -> None:
    engine = engine_with(warmed())
    engine.handle(cases(50), 0.0)
    for i in range(4):
        engine.handle(CollectorLoggedIn(f"c{i}"), 0.0)
        engine.handle(CollectorPaused(f"c{i}", "break"), 0.0)
    # The log-ins may have dialed before the pauses; from now on nothing may be dialed.
    for call_id in list(engine.calls):
        engine.handle(CallAnswered(call_id), 1.0)  # dropped or bridged, no more ringing
    later = []
    for t in np.arange(2.0, 60.0, 0.5):
        later += engine.tick(float(t))
    assert not [c for c in later if isinstance(c, Originate)]


def test_engine_dials_ahead_once_warm() -> None:
    pacer = warmed()
    engine = engine_with(pacer)
    engine.handle(cases(200), 0.0)
    out = []
    for i in range(10):
        out += engine.handle(CollectorLoggedIn(f"c{i}"), 0.0)
    dials = [c for c in out if isinstance(c, Originate)]
    assert len(dials) > 10  # more calls than ready collectors: predictive, not progressive
    assert len(dials) <= 30
    assert engine.decisions[-1].decision.detail["mode"] == "predictive"


@settings(max_examples=80, deadline=None)
@given(
    ready=st.integers(0, 30),
    busy=st.integers(0, 30),
    ringing=st.integers(0, 60),
    paused=st.integers(0, 5),
    lines=st.floats(1.0, 4.0),
    engine_lines=st.floats(1.0, 4.0),
    seed=st.integers(0, 1000),
    learning=st.booleans(),
)
def test_never_more_than_max_lines_per_collector(
    ready: int,
    busy: int,
    ringing: int,
    paused: int,
    lines: float,
    engine_lines: float,
    seed: int,
    learning: bool,
) -> None:
    pacer = warmed(initial_threshold=0.5)
    if learning:  # the warm-up's bounds: answer-rate quantile, idle collectors only
        pacer.talks = pacer.live_answers = 0
    pacer.configure(max_lines_per_collector=lines)
    rng = np.random.default_rng(seed)
    state = inputs(ready, busy, ringing, paused, engine_lines)
    decision = pacer.decide(state, view_for(busy, ringing, rng), rng)
    available = ready + busy
    assert decision.launch >= 0
    assert state.in_flight + decision.launch <= max(
        state.in_flight, int(min(lines, engine_lines) * available + 1e-9)
    )


def test_configure_target_never_above_the_cap() -> None:
    pacer = PredictivePacer(abandon_cap=0.03)
    pacer.configure(target_abandon_rate=0.02, max_lines_per_collector=2.0)
    assert pacer.controller.target == 0.02
    assert pacer.max_lines_per_collector == 2.0
    with pytest.raises(ValueError, match="above the compliance cap"):
        pacer.configure(target_abandon_rate=0.05)
    with pytest.raises(ValueError, match="max_lines_per_collector"):
        pacer.configure(max_lines_per_collector=0.5)
    with pytest.raises(ValueError):
        pacer.configure(ratio=2.0)
    assert pacer.controller.target == 0.02
    with pytest.raises(ValueError, match="above the compliance cap"):
        PredictivePacer(abandon_cap=0.03, target_abandon_rate=0.04)


def test_decision_record_explains_the_decision() -> None:
    pacer = warmed()
    rng = np.random.default_rng(3)
    decision = pacer.decide(inputs(2, 8, 6), view_for(8, 6, rng), rng)
    record = decision.detail
    assert record["launched"] == decision.launch
    assert record["threshold"] == pytest.approx(pacer.threshold)
    assert len(record["risks"]) >= 1
    assert all(r < pacer.threshold for r in record["risks"][: max(decision.launch - 1, 0)])
    assert record["inputs"]["ready"] == 2
    assert len(record["inputs"]["busy_elapsed"]) == 8
    assert len(record["inputs"]["ring_elapsed"]) == 6
    assert 0.0 <= record["budget"]["remaining_ratio"] <= 1.0
    assert {"p_answer", "talk_mean", "wrap_mean", "answer_delay_mean"} <= set(record["estimates"])
    assert pacer.predicted_free >= 2.0
    assert 0.0 <= pacer.budget_remaining_ratio <= 1.0
    assert decision.reason == record["why"]


def test_spent_budget_falls_back_to_progressive() -> None:
    # A rolling window is always at its end: no slack for drops still to be recovered.
    pacer = warmed(rolling=True)
    for _ in range(5):
        pacer.observe_abandon(0.0)  # 5 drops on ~120 live answers: far over 3%
    rng = np.random.default_rng(0)
    decision = pacer.decide(inputs(4, 6, 1), view_for(6, 1, rng), rng)
    assert decision.launch == 3
    assert "budget spent" in decision.reason
    assert pacer.budget_remaining_ratio == 0.0


def test_small_teams_dial_fractionally() -> None:
    # One collector ready, one busy: the first call carries no risk, the second one more
    # than lambda, so it goes out with the fractional probability the record states; over
    # many pacers the mean launch lands strictly between 1 and 2, near 1 + that fraction.
    launches, fractions = [], []
    for seed in range(200):
        pacer = warmed(initial_threshold=0.05)
        pacer._u = None  # each pacer draws its own uniform (the warm-up left one behind)
        rng = np.random.default_rng(seed)
        view = View(np.array([100.0]), np.zeros(1, dtype=bool), np.zeros(0))
        decision = pacer.decide(inputs(1, 1, 0), view, rng)
        launches.append(decision.launch)
        fractions.append(decision.detail["fraction"])
    fraction = float(np.mean(fractions))
    assert 0.05 < fraction < 0.95
    assert set(launches) == {1, 2}
    # Binomial(200, fraction): four standard deviations either side.
    sd = math.sqrt(fraction * (1 - fraction) / 200)
    assert abs(float(np.mean(launches)) - 1.0 - fraction) < 4 * sd


def test_no_creep_past_the_target_tick_by_tick() -> None:
    # Calls already in flight carry the risk up to lambda: the first new call's risk is
    # above it. Its fractional chance is interpolated from the last call in flight, not
    # from zero, so a state well past the target launches nothing however many ticks
    # (each with a fresh draw) go by; the old rule launched with lambda / risk each time.
    pacer = warmed(initial_threshold=0.01)
    rng = np.random.default_rng(3)
    busy = 18
    view = View(np.linspace(5.0, 300.0, busy), np.zeros(busy, dtype=bool), np.full(14, 4.0))
    state = inputs(2, busy, 14)
    launched = []
    for _ in range(200):
        pacer._u = None
        pacer._last_key = None  # decide in full every tick, as after a state change
        decision = pacer.decide(state, view, rng)
        launched.append(decision.launch)
    risks = decision.detail["risks"]
    lam = decision.detail["threshold"]
    assert risks[0] > lam  # the first new call is over the threshold ...
    assert 2 * risks[0] - risks[1] > lam  # ... and so is the last call in flight
    assert sum(launched) == 0


def test_fraction_for_the_first_new_call_starts_from_the_last_in_flight() -> None:
    risk = np.array([0.0146, 0.0208, 0.0281])
    below = PredictivePacer._risk_below(risk, 0, in_flight=6)
    assert below == pytest.approx(2 * 0.0146 - 0.0208)
    assert PredictivePacer._risk_below(risk, 0, in_flight=0) == 0.0  # nothing in flight
    assert PredictivePacer._risk_below(risk, 2, in_flight=6) == pytest.approx(0.0208)


def test_uk_false_positive_estimate_enters_the_budget_and_can_spend_it() -> None:
    """120 live answers, 3 drops: under the 3% cap with room to spare, so the pacer dials
    ahead. 600 machine verdicts at 5% add 30 estimated abandoned live answers: 33 of 150,
    far over, so the budget is spent and it dials progressive."""
    rng = np.random.default_rng(3)
    results = {}
    for rate in (0.0, 0.05):
        pacer = warmed(machine_false_positive_rate=rate)
        pacer.ledger.sync(120, 3, 0.0)
        for i in range(600):
            pacer.observe_machine(float(i % 90))
        decision = pacer.decide(inputs(2, 10, 3), view_for(10, 3, rng), rng)
        assert pacer.budget is not None
        results[rate] = (pacer.budget.live, pacer.budget.drops, pacer.budget.spent, decision)
    assert results[0.0][:3] == (120, 3, False)
    live, drops, spent, decision = results[0.05]
    assert (live, drops) == (pytest.approx(150.0), pytest.approx(33.0))
    assert spent and decision.reason.startswith("abandon budget spent")


class Callers:
    """An inbound reservation keeping no one free, only expecting callers at a rate."""

    def __init__(self, per_hour: float) -> None:
        self.per_second = per_hour / 3600.0

    def observe_arrival(self, now: float) -> None: ...

    def observe_handled(self, seconds: float, now: float) -> None: ...

    def observe_wait(self, seconds: float, answered: bool, now: float) -> None: ...

    def reserve(self, inputs: PacingInputs, outbound_handle: float = 0.0) -> Reservation:
        return Reservation(0, 0, {"why": "callers expected"}, self.per_second)


@pytest.mark.parametrize("exact_max", [24, 2])  # exact, and moments only
def test_callers_expected_within_the_horizon_are_planned_as_demand(exact_max: int) -> None:
    """Return calls take the collectors coming free before outbound answers do: the more
    are expected, the higher every drop risk and the fewer calls launched; none expected
    plans exactly as a campaign without inbound."""
    plain = warmed(exact_max=exact_max)
    rng = np.random.default_rng(5)
    view = view_for(8, 1, rng)
    state = inputs(6, 8, 1, lines=4.0)
    plain_decision = plain.decide(state, view, np.random.default_rng(1))
    curves, launched = [], []
    for per_hour in (0.0, 60.0, 240.0, 2000.0):
        pacer = warmed(exact_max=exact_max)
        pacer.inbound = Callers(per_hour)
        decision = pacer.decide(state, view, np.random.default_rng(1))
        curves.append(np.asarray(decision.detail["risks"]))
        launched.append(decision.launch)
        # The record says so whenever callers are planned, even with no one kept free.
        assert ("callers expected" in decision.reason) == (per_hour > 0)
        assert decision.detail["inbound"]["callers_planned_per_hour"] == pytest.approx(per_hour)
    assert curves[0].tolist() == plain_decision.detail["risks"]
    assert launched[0] == plain_decision.launch
    for low, high in itertools.pairwise(curves):
        n = min(low.size, high.size)
        assert np.all(high[:n] >= low[:n] - 1e-12)
        assert np.any(high[:n] > low[:n] + 1e-6)
    assert launched == sorted(launched, reverse=True) and launched[-1] < launched[0]


def test_the_callers_expected_are_a_poisson_mean_by_each_node() -> None:
    pacer = warmed()
    for per_hour in (30.0, 600.0):
        expected = per_hour / 3600.0 * (pacer._nodes + pacer.connect_grace)
        assert pacer._callers(per_hour / 3600.0) == pytest.approx(expected)
        rows = pacer._caller_rows(expected)
        assert rows.sum(axis=0) == pytest.approx(expected)
        assert np.all((rows >= 0) & (rows <= 0.25 + 1e-12))
    assert pacer._caller_rows(pacer._callers(0.0)).shape[0] == 0
