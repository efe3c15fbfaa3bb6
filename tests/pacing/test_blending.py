"""Blended pacing: the inbound arrival estimate, Erlang-C sizing, the reservation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dialer.pacing.base import PacingInputs
from dialer.pacing.blending import (
    ErlangReservation,
    FixedReservation,
    InboundRateEstimator,
    service_level,
    staff_for_service_level,
)
from dialer.pacing.predictive import PredictivePacer


def textbook_service_level(n: int, a: float, h: float, t: float) -> float:
    """Erlang C from its closed form with factorials (an independent computation)."""
    top = a**n / math.factorial(n) * n / (n - a)
    bottom = sum(a**k / math.factorial(k) for k in range(n)) + top
    return 1.0 - top / bottom * math.exp(-(n - a) * t / h)


@pytest.mark.parametrize(("n", "a"), [(3, 1.5), (5, 2.67), (12, 10.0)])
def test_service_level_is_erlang_c(n: int, a: float) -> None:
    assert service_level(n, a, 180.0, 20.0) == pytest.approx(
        textbook_service_level(n, a, 180.0, 20.0), rel=1e-9
    )


def test_staffing_is_the_fewest_agents_meeting_the_target() -> None:
    n, level = staff_for_service_level(2.67, 240.0, 20.0, 0.8)
    assert level >= 0.8 > service_level(n - 1, 2.67, 240.0, 20.0)
    assert staff_for_service_level(0.0, 240.0, 20.0, 0.8) == (0, 1.0)


def test_the_estimator_learns_the_rate_and_remembers_the_time_of_day() -> None:
    rng = np.random.default_rng(3)
    est = InboundRateEstimator(prior_per_hour=0.0)
    day = 86400.0 * 100
    now = day + 9 * 3600.0
    end = now + 2 * 3600.0
    while now < end:
        now += rng.exponential(60.0)  # 60 calls an hour
        est.observe_arrival(now)
    assert est.rate(end) * 3600 == pytest.approx(60.0, rel=0.35)
    # The next day, before any call: the prior is what the same slots saw.
    tomorrow = day + 86400.0 + 10 * 3600.0
    assert est.prior(tomorrow) * 3600 == pytest.approx(60.0, rel=0.35)
    assert est.prior(day + 86400.0 + 15 * 3600.0) == 0.0  # an hour never seen


def inputs(**kw: int) -> PacingInputs:
    base = dict(ready=2, reserved=0, on_call=8, wrap_up=0, paused=0, dialing=0, ringing=0)
    base.update(kw)
    return PacingInputs(
        now=1000.0,
        logged_in=10,
        waiting=0,
        max_in_flight=30,
        **base,  # type: ignore[arg-type]
    )


def test_the_reservation_follows_the_traffic_and_says_why() -> None:
    quiet = ErlangReservation(
        0.8, 20.0, expected_per_hour=2.0, handle_prior=180.0, initial_credit=0.0
    )
    busy = ErlangReservation(
        0.8, 20.0, expected_per_hour=120.0, handle_prior=180.0, initial_credit=0.0
    )
    r_quiet, r_busy = quiet.reserve(inputs()), busy.reserve(inputs())
    assert r_busy.reserved > r_quiet.reserved >= 1
    assert "Erlang C" in r_busy.words() and "calls/h" in r_busy.words()
    # Callers queued are held on top; busy outbound collectors due free soon are credited.
    queued = busy.reserve(inputs(inbound_queued=1))
    assert queued.held == r_busy.reserved + 1
    credited = busy.reserve(inputs(on_call=18, ready=2), outbound_handle=60.0)
    assert credited.reserved < r_busy.reserved
    assert credited.detail["backfill"] > 1


def test_a_fixed_reservation_is_constant() -> None:
    fixed = FixedReservation(2)
    assert fixed.reserve(inputs()).held == 2
    assert fixed.reserve(inputs(inbound_queued=3)).held == 5
    with pytest.raises(ValueError, match="fixed reservation"):
        FixedReservation(-1)


class NoView:
    def busy_elapsed(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(0), np.zeros(0, dtype=bool)

    def ringing_elapsed(self, now: float) -> np.ndarray:
        return np.zeros(0)


def test_predictive_plans_no_outbound_answer_for_reserved_collectors() -> None:
    """Progressive warm-up: calls = ready - in flight - held."""
    plain = PredictivePacer(0.03)
    blended = PredictivePacer(0.03, inbound=FixedReservation(2))
    view, rng = NoView(), np.random.default_rng(1)
    ready = inputs(ready=5, on_call=5)
    assert plain.decide(ready, view, rng).launch == 5
    warming = blended.decide(ready, view, rng)
    assert warming.launch == 3
    assert warming.detail["inbound"]["reserved"] == 2  # said even before the model is ready
    assert "inbound" not in plain.decide(ready, view, rng).detail
    assert blended.decide(inputs(ready=5, on_call=5, inbound_queued=3), view, rng).launch == 0


def test_the_credit_settles_where_callers_get_the_goal() -> None:
    """Robbins-Monro: answered in time with probability q, the credit grows when q is
    above the goal and shrinks when below; the reservation follows it."""
    rng = np.random.default_rng(7)
    for share, direction in ((0.99, 1), (0.5, -1)):
        res = ErlangReservation(0.8, 20.0, expected_per_hour=60.0, margin=0.05, step=0.1)
        start = res.credit
        for _ in range(300):
            res.observe_wait(5.0 if rng.random() < share else 40.0, True, 0.0)
        assert (res.credit - start) * direction > 1.0
        assert res.in_time == pytest.approx(share * 300, abs=30)
    generous = ErlangReservation(0.8, 20.0, expected_per_hour=60.0)
    strict = ErlangReservation(0.8, 20.0, expected_per_hour=60.0)
    for _ in range(200):
        generous.observe_wait(1.0, True, 0.0)
        strict.observe_wait(0.0, False, 0.0)  # hung up or offered: never in time
    assert generous.reserve(inputs()).reserved < strict.reserve(inputs()).reserved
    assert strict.reserve(inputs()).detail["credit"] < 0 < generous.credit


def test_a_burst_is_seen_in_its_first_calls() -> None:
    """Four calls within a minute, on a quiet-hour estimate of 2 an hour: the lower
    quartile of the rate they give sizes the reservation, and fades as the burst ends."""
    est = InboundRateEstimator(prior_per_hour=2.0)
    res = ErlangReservation(0.8, 20.0, handle_prior=180.0, estimator=est, initial_credit=0.0)
    calm = res.reserve(inputs())
    assert est.recent_rate(1000.0) == 0.0  # fewer than four calls seen
    for t in (940.0, 960.0, 980.0, 1000.0):
        est.observe_arrival(t)
    # Gamma(3) lower quartile over the 60 s since the oldest of the four.
    quartile = stats.gamma.ppf(0.25, 3)
    assert est.recent_rate(1000.0) == pytest.approx(quartile / 60.0, rel=1e-9)
    assert est.recent_rate(1000.0) > 5 * est.rate(1000.0)  # the smoothed one lags
    burst = res.reserve(inputs())
    assert burst.reserved > calm.reserved
    assert "a burst" in burst.words()
    assert est.recent_rate(4600.0) < est.recent_rate(1000.0) / 50
