"""Property tests: `evaluate` agrees with a naive definition of every rule, and its
`next_allowed_at` is the earliest instant at which the call is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.compliance import PERMANENT_REASONS, RULES, evaluate
from dialer.compliance.profiles import Profile, load_profile
from dialer.compliance.timezones import number_time_zones
from dialer.domain.model import (
    Case,
    CaseFlag,
    ContactOutcome,
    ContactRecord,
    NumberType,
    PhoneNumber,
)

PROFILES = [load_profile(name) for name in ("us_tsr_regf", "uk_ofcom", "cn_ifac")]
NUMBERS = [
    "+12125550123",  # New York
    "+12125550199",
    "+12085550123",  # Boise + Los Angeles
    "+13105550123",  # Los Angeles
    "+8613800138000",  # Shanghai
    "+442079460123",  # London
    "+10005550123",  # no zone
]
ZONES = [None, None, None, "America/New_York", "America/Chicago", "Asia/Shanghai", "Europe/London"]
# days around the 2026 DST changes (US 03-08 / 11-01, EU 03-29 / 10-25) and ordinary days
BASE_DAYS = [
    datetime(2026, m, d, tzinfo=UTC)
    for m, d in [(1, 15), (3, 7), (3, 8), (3, 9), (3, 29), (6, 10), (10, 25), (11, 1), (11, 2)]
]


def rarely(value: bool, usual: bool) -> st.SearchStrategy[bool]:
    """`value` about one time in ten (sampled_from favours its first element)."""
    return st.sampled_from([usual] * 9 + [value])


@st.composite
def phones(draw: st.DrawFn) -> PhoneNumber:
    return PhoneNumber(
        e164=draw(st.sampled_from(NUMBERS)),
        type=draw(st.sampled_from([NumberType.DEBTOR] * 8 + list(NumberType))),
        consent=draw(rarely(False, True)),
        dnc=draw(rarely(True, False)),
    )


@st.composite
def scenarios(
    draw: st.DrawFn, future: bool = False
) -> tuple[Profile, Case, str, tuple[ContactRecord, ...], datetime]:
    profile = draw(st.sampled_from(PROFILES))
    numbers = draw(st.lists(phones(), min_size=1, max_size=3, unique_by=lambda p: p.e164))
    flags = (
        draw(st.frozensets(st.sampled_from([f.value for f in CaseFlag]), max_size=2))
        if draw(rarely(True, False))
        else frozenset[str]()
    )
    case = Case(ref="C", numbers=tuple(numbers), timezone=draw(st.sampled_from(ZONES)), flags=flags)
    now = draw(st.sampled_from(BASE_DAYS)) + timedelta(seconds=draw(st.integers(0, 2 * 86400)))
    dialled = [n.e164 for n in numbers]
    history = draw(
        st.lists(
            st.builds(
                ContactRecord,
                at=st.integers(-10 * 86400, 3600 if future else 0).map(
                    lambda s: now + timedelta(seconds=s)
                ),
                number=st.sampled_from(dialled),
                outcome=st.sampled_from(list(ContactOutcome)),
                inbound=st.booleans(),  # the debtor's own call (rules read the flag)
            ),
            max_size=25,
        )
    )
    number = "+12125550000" if draw(rarely(True, False)) else draw(st.sampled_from(dialled))
    return profile, case, number, tuple(history), now


def naive_reasons(
    p: Profile, case: Case, number: str, history: Sequence[ContactRecord], now: datetime
) -> set[str]:
    """The rules straight from their definitions (docs/compliance.md), no shortcuts. An
    interrupted attempt (its daemon died mid-call) is read as each rule's worst case."""
    phone = case.number(number)
    if phone is None:
        return {"unknown_number"}
    out: set[str] = set()
    flags = case.flags
    if phone.dnc or "do_not_call" in flags:
        out.add("do_not_call")
    for flag in ("cease_communication", "disputed"):
        if flag in flags:
            out.add(flag)
    if not phone.consent:
        out.add("no_consent")
    nt = p.number_types
    if not (
        phone.type in nt.allowed
        or (phone.type in nt.allowed_when_debtor_unreachable and "debtor_unreachable" in flags)
    ):
        out.add("number_type_forbidden")
    names = (
        [case.timezone]
        if case.timezone
        else list(number_time_zones(number) or p.calling_hours.default_timezones)
    )
    # a trunk failure never left the carrier: nothing counts it
    past = [r for r in history if r.at <= now and r.outcome.reached_network]
    for zone in map(ZoneInfo, names):
        local = now.astimezone(zone)
        today = local.date()

        def age(r: ContactRecord, zone: ZoneInfo = zone, today: date = today) -> int:
            return (today - r.at.astimezone(zone).date()).days

        if not p.calling_hours.start <= local.time() < p.calling_hours.end:
            out.add("outside_calling_hours")
        cap = p.attempts.per_debt
        # the debtor calling us back is no attempt (Reg F counts calls the collector places)
        placed = [r for r in past if not r.inbound]
        if cap and sum(age(r) < cap.window_days for r in placed) >= cap.max_attempts:
            out.add("attempt_cap")
        days = p.lockouts.post_conversation_days
        talks = [
            r
            for r in past
            if r.outcome
            in (
                ContactOutcome.CONVERSATION,
                ContactOutcome.INTERRUPTED,
            )
        ]
        if days and any(age(r) < days for r in talks):
            out.add("post_conversation_lockout")
        per_day = p.attempts.conversations_per_debtor_per_day
        if per_day and sum(age(r) == 0 for r in talks) >= per_day:
            out.add("daily_conversation_cap")
        un = p.attempts.unanswered_per_number_per_day
        if un and (
            sum(
                age(r) == 0
                and r.number == number
                and not r.inbound
                and (r.outcome in un.outcomes or r.outcome is ContactOutcome.INTERRUPTED)
                for r in past
            )
            >= un.max
        ):
            out.add("daily_unanswered_cap")
    hours = p.lockouts.abandon_hours
    if hours and any(
        r.outcome in (ContactOutcome.ABANDONED, ContactOutcome.INTERRUPTED)
        and not r.inbound
        and r.number == number
        and now - r.at < timedelta(hours=hours)
        for r in past
    ):
        out.add("abandon_lockout")
    return out


@settings(max_examples=250, deadline=None)
@given(scenarios(future=True))
def test_evaluate_matches_the_naive_rules_and_each_rule(
    scenario: tuple[Profile, Case, str, tuple[ContactRecord, ...], datetime],
) -> None:
    profile, case, number, history, now = scenario
    decision = evaluate(profile, case, number, history, now)
    expected = naive_reasons(profile, case, number, history, now)
    assert set(decision.reasons) == expected
    assert list(decision.reasons) == sorted(set(decision.reasons))
    assert decision.allowed is (not expected)
    phone = case.number(number)
    if decision.allowed:
        assert phone is not None
        assert decision.next_allowed_at is None
        for rule in RULES:
            assert rule(case, phone, history, now, profile).allowed, rule.code
    elif PERMANENT_REASONS & set(decision.reasons):
        assert decision.next_allowed_at is None
    else:
        assert decision.next_allowed_at is not None  # shipped profiles: windows always overlap


@settings(max_examples=250, deadline=None)
@given(scenarios(), st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_next_allowed_at_is_the_earliest_allowed_instant(
    scenario: tuple[Profile, Case, str, tuple[ContactRecord, ...], datetime],
    fractions: list[float],
) -> None:
    profile, case, number, history, now = scenario
    decision = evaluate(profile, case, number, history, now)
    t = decision.next_allowed_at
    if t is None:
        return
    assert t > now
    assert t.utcoffset() == timedelta(0)
    later = evaluate(profile, case, number, history, t)
    assert later.allowed, (t, later)
    assert not naive_reasons(profile, case, number, history, t)
    # blocked throughout [now, t)
    probes = [t - timedelta(seconds=1), *(now + (t - now) * f for f in fractions)]
    for probe in probes:
        if now <= probe < t:
            assert not evaluate(profile, case, number, history, probe).allowed, probe
