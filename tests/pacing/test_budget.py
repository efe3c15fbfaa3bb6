"""The abandonment ledger and the controller that steers the risk threshold."""

from __future__ import annotations

import math

import pytest

from dialer.pacing.budget import AbandonLedger, ThresholdController, budget_remaining


def test_ledger_counts_since_start_without_a_window() -> None:
    ledger = AbandonLedger()
    for i in range(100):
        ledger.record_live(float(i))
    ledger.record_drop(50.0)
    assert ledger.totals(10_000.0) == (100, 1)
    assert ledger.live_rate(100.0) == pytest.approx(1.0)


def test_rolling_window_forgets_old_minutes() -> None:
    ledger = AbandonLedger(window_seconds=3600.0)
    ledger.record_live(0.0)
    ledger.record_drop(0.0)
    ledger.record_live(1800.0)
    assert ledger.totals(1800.0) == (2, 1)
    # The first minute's bucket leaves the window once it is entirely older than an hour.
    assert ledger.totals(3600.0 + 61.0) == (1, 0)


def test_sync_takes_the_store_totals_and_adds_local_events_after_it() -> None:
    ledger = AbandonLedger(window_seconds=86_400.0)
    ledger.record_live(0.0)
    ledger.sync(live=1000, drops=20, now=10.0)  # all daemons, this one's call included
    ledger.record_live(11.0)
    ledger.record_drop(12.0)
    assert ledger.totals(13.0) == (1001, 21)
    with pytest.raises(ValueError):
        ledger.sync(live=-1, drops=0, now=14.0)


def drive(controller: ThresholdController, rate: float, answers: int) -> float:
    """Feed live answers with drops at ``rate`` (evenly spread); return lambda."""
    drops = 0.0
    lam = controller.threshold
    for live in range(1, answers + 1):
        drops = math.floor(rate * live)
        lam = controller.update(controller.state(live, int(drops), expected_live=answers))
    return lam


def test_lambda_falls_when_over_budget_and_rises_when_under() -> None:
    start = ThresholdController(0.03).threshold
    over = ThresholdController(0.03)
    assert drive(over, 0.06, 400) < start
    under = ThresholdController(0.03)
    assert drive(under, 0.0, 400) > start


def test_slope_learns_drops_per_unit_of_lambda() -> None:
    # A world where drops come at 5 x lambda per live answer: the integral part finds 5
    # (the prior, cap / initial = 3, is kept weak here), and lambda settles where the rate
    # meets the aim.
    controller = ThresholdController(
        0.03, target=0.02, memory=0.9995, prior_drops=2.0, margin_sigmas=0.0
    )
    expected_drops = 0.0
    for live in range(1, 40_001):
        expected_drops += 5.0 * controller.threshold
        controller.update(controller.state(live, int(expected_drops), expected_live=40_000))
    assert controller.slope == pytest.approx(5.0, rel=0.1)
    assert controller.threshold == pytest.approx(0.02 / 5.0, rel=0.15)


def test_no_windup_at_a_bound() -> None:
    controller = ThresholdController(0.03, low=0.002, initial=0.01, high=0.02, memory=1.0)
    lam = drive(controller, 0.0, 5_000)  # never a drop: lambda pinned at its upper bound
    assert lam == pytest.approx(0.02)
    # The evidence is charged to the lambda actually used, not to what the controller
    # would have liked: no integral grows while lambda sits at the bound ...
    assert controller.exposure == pytest.approx(0.02 * 4_999, rel=0.01)
    # ... so once drops come, lambda leaves the bound at once.
    lam = controller.update(controller.state(5_001, 300, expected_live=5_000))
    assert lam < 0.02


def test_a_surplus_moves_lambda_less_early_in_a_shift_than_late() -> None:
    early, late = ThresholdController(0.03), ThresholdController(0.03)
    # The same debt of drops (4% on 300 answers), early and late in a 3,000-answer shift.
    lam_early = early.update(early.state(300, 12, expected_live=3_000, progress=0.1))
    lam_late = late.update(late.state(300, 12, expected_live=3_000, progress=0.95))
    assert lam_late < lam_early < early.cap / early.slope


def test_a_sync_with_the_store_is_not_evidence() -> None:
    controller = ThresholdController(0.03)
    controller.update(controller.state(10, 0, expected_live=1_000))
    slope = controller.slope
    # The daemon syncs the ledger with 30 days of store history: a jump, not this
    # pacer's doing.
    controller.update(controller.state(50_000, 1_400, expected_live=60_000))
    assert controller.slope == slope


def test_margin_shrinks_with_the_window_size() -> None:
    controller = ThresholdController(0.03, margin_sigmas=2.0)
    small = controller.state(100, 0, expected_live=600)
    large = controller.state(100, 0, expected_live=60_000)
    assert small.margin == pytest.approx(2.0 * math.sqrt(0.03 * 0.97 / 600))
    assert large.target > small.target
    assert large.target < 0.03


def test_budget_spent_when_one_more_drop_would_break_the_cap() -> None:
    controller = ThresholdController(0.03)
    assert not controller.state(1000, 28, 1000).spent
    assert controller.state(1000, 30, 1000).spent
    assert controller.state(1000, 30, 1000).remaining_ratio == pytest.approx(0.0)
    assert controller.state(1000, 15, 1000).remaining_ratio == pytest.approx(0.5)


def test_target_never_above_the_cap() -> None:
    controller = ThresholdController(0.03)
    with pytest.raises(ValueError, match="above the compliance cap"):
        controller.check_target(0.04)
    assert controller.check_target(0.02) == 0.02
    with pytest.raises(ValueError):
        ThresholdController(0.03, target=0.05)


def test_early_in_a_shift_a_small_excess_is_left_to_the_controller() -> None:
    controller = ThresholdController(0.03, spent_sigmas=2.0)
    # 5 drops on 100 live answers (5%): over the cap now, but 2,900 answers are to come.
    assert not controller.state(100, 5, expected_live=3000, progress=0.05).spent
    # The same excess at the end of the shift is final: progressive until it recovers.
    assert controller.state(100, 5, expected_live=3000, progress=1.0).spent


def test_a_progressive_fallback_is_not_evidence() -> None:
    # While the budget is spent the pacer runs progressive: the live answers of that
    # time were not dialed at lambda, so charging them to it would teach the controller
    # that lambda makes no drops and send it up when the budget recovers.
    controller = ThresholdController(0.03)
    controller.update(controller.state(100, 3, expected_live=1_000, progress=1.0))
    slope = controller.slope
    spent = controller.state(400, 14, expected_live=1_000, progress=1.0)
    assert spent.spent
    controller.update(spent)
    assert controller.slope == slope
    # Back under budget, only the answers after the fallback count.
    lam = controller.threshold
    controller.update(controller.state(401, 14, expected_live=1_000, progress=0.5))
    assert controller.exposure == pytest.approx(lam)


def test_near_the_spent_line_a_debt_is_paid_back_at_once() -> None:
    # Early in a shift (a long way to go) but with drops close to the spent line: the
    # debt is spread over the answers the headroom lasts, not over the rest of the shift,
    # so lambda falls hard now instead of the pacer falling into progressive later.
    controller = ThresholdController(0.03)
    far = controller.state(3_000, 80, expected_live=30_000, progress=0.1)
    near = controller.state(3_000, 120, expected_live=30_000, progress=0.1)
    assert not near.spent
    assert near.remaining_live < far.remaining_live < 27_000 + 1
    # The headroom: cap x live + the slack (2 sigma of the shift's drop count, 90% of the
    # shift to go) - drops - the one-drop guard, spent at the aim rate.
    slack = 2.0 * math.sqrt(0.03 * 0.97 * 30_000) * 0.9
    headroom = 0.03 * 3_000 + slack - 120 - 1
    assert near.remaining_live * near.target == pytest.approx(headroom)


def test_drops_under_conservative_risks_are_not_charged_to_lambda() -> None:
    # While the pacer's risks are bounds (warm-up), its drops are not evidence of the slope;
    # the proportional part still acts on the budget.
    learning = ThresholdController(0.03)
    prior_slope = learning.slope
    for live in range(1, 201):
        learning.update(learning.state(live, 0, expected_live=5000), learn=False)
    assert learning.slope == prior_slope
    assert learning.threshold > learning.low  # lambda still follows the budget surplus
    learned = ThresholdController(0.03)
    for live in range(1, 201):
        learned.update(learned.state(live, 0, expected_live=5000))
    assert learned.slope < prior_slope  # no drops at all: the slope learned is lower


def test_budget_remaining_from_the_store_counts() -> None:
    assert budget_remaining(0, 0, 0.03) == 1.0
    assert budget_remaining(0, 100, 0.03) == 1.0
    assert budget_remaining(1, 100, 0.03) == pytest.approx(2 / 3)
    assert budget_remaining(3, 100, 0.03) == 0.0
    assert budget_remaining(9, 100, 0.03) == 0.0


def test_the_ledger_counts_estimated_amd_false_positives_as_abandoned_live_answers() -> None:
    ledger = AbandonLedger(window_seconds=86_400.0, false_positive_rate=0.05)
    for i in range(100):
        ledger.record_live(float(i))
    for i in range(40):
        ledger.record_machine(float(i))
    ledger.record_drop(50.0)
    assert ledger.totals(100.0) == (100, 1), "the plain counts stay what was seen"
    assert ledger.false_positives(100.0) == pytest.approx(2.0)  # 5% of 40 verdicts
    assert ledger.counted(100.0) == pytest.approx((102.0, 3.0))
    # A sync takes the store's totals, which carry no verdicts: this daemon's stay.
    ledger.sync(live=1000, drops=10, now=200.0)
    assert ledger.counted(200.0) == pytest.approx((1002.0, 12.0))
    # They leave the window like any other count.
    assert ledger.false_positives(86_400.0 + 200.0) == 0.0


def test_a_ledger_that_counts_no_false_positives_is_unchanged_by_verdicts() -> None:
    ledger = AbandonLedger()
    ledger.record_live(0.0)
    for i in range(50):
        ledger.record_machine(float(i))
    assert ledger.counted(60.0) == (1, 0) == ledger.totals(60.0)
    with pytest.raises(ValueError, match="false_positive_rate"):
        AbandonLedger(false_positive_rate=1.0)


def test_a_sync_with_the_stores_machine_answers_replaces_the_local_verdicts() -> None:
    ledger = AbandonLedger(window_seconds=86_400.0, false_positive_rate=0.05)
    for i in range(10):
        ledger.record_machine(float(i))
    ledger.sync(live=500, drops=5, now=20.0, machines=300)  # every daemon's, ours included
    assert ledger.machine_verdicts(20.0) == 300
    ledger.record_machine(21.0)
    assert ledger.counted(22.0) == pytest.approx((500 + 15.05, 5 + 15.05))
    with pytest.raises(ValueError):
        ledger.sync(live=0, drops=0, now=23.0, machines=-1)
