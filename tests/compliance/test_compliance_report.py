"""The compliance report's figures (dialer.compliance.report); the command is tested in
tests/cli/test_cli_compliance_report.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.compliance import load_profile
from dialer.compliance.report import CaseTally, build_report, summarize_abandonment
from dialer.domain.model import (
    Case,
    ContactOutcome,
    ContactRecord,
    NumberType,
    PhoneNumber,
)

US = load_profile("us_tsr_regf")
UK = load_profile("uk_ofcom")
CN = load_profile("cn_ifac")
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday: 10:00 in New York, 07:00 in LA
NY, NY2, LA = "+12125550101", "+12125550117", "+13105550105"


# ----- the figures ----------------------------------------------------------------------------


def test_abandon_budget_under_the_us_cap() -> None:
    a = summarize_abandonment(US, NOW, live_answers=1000, abandons=12)
    assert a.since == NOW - timedelta(days=30)
    assert a.window_seconds == 30 * 86400
    assert a.rate == pytest.approx(0.012)
    assert a.within_cap is True
    assert a.allowance == pytest.approx(30.0)
    assert a.abandons_left == pytest.approx(18.0)
    assert a.share_left == pytest.approx(0.6)


def test_exactly_at_the_cap_is_within_for_the_us_but_not_for_the_uk() -> None:
    us = summarize_abandonment(US, NOW, live_answers=1000, abandons=30)
    uk = summarize_abandonment(UK, NOW, live_answers=1000, abandons=30)
    assert us.within_cap is True  # "<= 3 %"
    assert uk.within_cap is False  # "< 3 %"
    assert uk.abandons_left == pytest.approx(0.0)
    assert uk.share_left == pytest.approx(0.0)
    assert uk.since == NOW - timedelta(hours=24)
    over = summarize_abandonment(US, NOW, live_answers=100, abandons=5)
    assert over.within_cap is False
    assert over.abandons_left == pytest.approx(-2.0)
    assert over.share_left == pytest.approx(-2 / 3)


def test_no_live_answers_and_no_cap() -> None:
    empty = summarize_abandonment(US, NOW, live_answers=0, abandons=0)
    assert empty.rate is None
    assert empty.within_cap is True
    assert empty.abandons_left == 0
    assert empty.share_left is None  # nothing allowed, nothing spent
    cn = summarize_abandonment(CN, NOW, live_answers=200, abandons=9)
    assert cn.rate == pytest.approx(0.045)
    assert cn.window_seconds == 86400  # the default window without a cap
    assert (cn.cap, cn.within_cap, cn.abandons_left, cn.share_left) == (None, None, None, None)
    assert cn.to_json()["budget"] is None


def test_case_tally_counts_a_case_once_callable_else_under_each_reason() -> None:
    tally = CaseTally(US, NOW)
    talked = (ContactRecord(NOW - timedelta(days=1), NY, ContactOutcome.CONVERSATION),)
    assert tally.add(Case("ok", (PhoneNumber(NY),)), ())
    # the first number is refused, the second is callable: the case is callable
    refused = PhoneNumber(NY, NumberType.THIRD_PARTY_REFUSED)
    assert tally.add(Case("second", (refused, PhoneNumber(NY2))), ())
    assert not tally.add(Case("talked", (PhoneNumber(NY),)), talked)
    # blocked on both numbers, for different reasons: counted under both
    assert not tally.add(Case("both", (PhoneNumber(NY, dnc=True), PhoneNumber(LA))), ())
    assert not tally.add(Case("ceased", (PhoneNumber(NY),), flags=frozenset({"disputed"})), ())
    assert not tally.add(Case("none", ()), ())
    summary = tally.summary()
    assert (summary.open_cases, summary.callable_now, summary.blocked_now) == (6, 2, 4)
    assert summary.blocked_for_good == 2  # "ceased" and "none"; "both" opens at 08:00 in LA
    assert summary.by_reason == {
        "disputed": 1,
        "do_not_call": 1,
        "no_number": 1,
        "outside_calling_hours": 1,
        "post_conversation_lockout": 1,
    }
    report = build_report("east", US, NOW, live_answers=10, abandons=0, cases=tally)
    doc = report.to_json()
    assert doc["profile"] == "us_tsr_regf v2"
    assert doc["now"] == "2026-03-02T15:00:00Z"
    assert doc["cases"] == {
        "open": 6,
        "callable_now": 2,
        "blocked_now": 4,
        "blocked_for_good": 2,
        "blocked_by_reason": summary.by_reason,
    }
