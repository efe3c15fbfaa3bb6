"""Every compliance rule at its edges, through `evaluate` and the rule functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.compliance import Decision, Reason, evaluate, evaluate_case, evaluate_target, rules
from dialer.compliance.profiles import Profile, ProfileError, load_profile, parse_profile
from dialer.compliance.timezones import number_time_zones
from dialer.domain.model import (
    Case,
    CaseFlag,
    ContactOutcome,
    ContactRecord,
    DialTarget,
    NumberType,
    PhoneNumber,
)

Out = ContactOutcome
NY = "+12125550123"  # America/New_York
NY2 = "+12125550199"
IDAHO = "+12085550123"  # America/Boise and America/Los_Angeles
NO_ZONE = "+10005550123"  # invalid area code: no zone, the profile's default zones
CN = "+8613800138000"  # Asia/Shanghai
CN2 = "+8613900139000"
UK = "+442079460123"  # Europe/London

US = load_profile("us_tsr_regf")
UKP = load_profile("uk_ofcom")
CNP = load_profile("cn_ifac")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def case(*numbers: str | PhoneNumber, tz: str | None = None, flags: tuple[str, ...] = ()) -> Case:
    phones = tuple(n if isinstance(n, PhoneNumber) else PhoneNumber(n) for n in numbers)
    return Case(ref="C-1", numbers=phones, timezone=tz, flags=frozenset(flags))


def rec(at: str, number: str, outcome: ContactOutcome) -> ContactRecord:
    return ContactRecord(at=z(at), number=number, outcome=outcome)


def ev(
    profile: Profile,
    c: Case,
    now: str,
    history: tuple[ContactRecord, ...] = (),
    number: str | None = None,
) -> Decision:
    return evaluate(profile, c, number or c.numbers[0].e164, history, z(now))


def blocked(reason: str, next_at: str | None) -> Decision:
    return Decision(False, (reason,), None if next_at is None else z(next_at))


OK = Decision(True)


def test_phonenumbers_zones_used_by_these_tests() -> None:
    assert number_time_zones(NY) == ("America/New_York",)
    assert number_time_zones(IDAHO) == ("America/Boise", "America/Los_Angeles")
    assert number_time_zones(CN) == ("Asia/Shanghai",)
    assert number_time_zones(UK) == ("Europe/London",)
    assert number_time_zones(NO_ZONE) == ()
    assert number_time_zones("not a number") == ()


# -- calling hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # winter, EST = UTC-5
        ("2026-01-15T12:59:59Z", blocked("outside_calling_hours", "2026-01-15T13:00:00Z")),
        ("2026-01-15T13:00:00Z", OK),
        ("2026-01-16T01:59:59Z", OK),  # 20:59:59 local
        ("2026-01-16T02:00:00Z", blocked("outside_calling_hours", "2026-01-16T13:00:00Z")),
        # spring forward 2026-03-08 (02:00 EST -> 03:00 EDT): 08:00 EDT = 12:00Z
        ("2026-03-08T06:30:00Z", blocked("outside_calling_hours", "2026-03-08T12:00:00Z")),
        ("2026-03-08T11:59:59Z", blocked("outside_calling_hours", "2026-03-08T12:00:00Z")),
        ("2026-03-08T12:00:00Z", OK),
        ("2026-03-09T00:59:59Z", OK),  # 20:59:59 EDT
        ("2026-03-09T01:00:00Z", blocked("outside_calling_hours", "2026-03-09T12:00:00Z")),
        # the evening before spring forward: 21:00 EST, next opening is already EDT
        ("2026-03-08T02:00:00Z", blocked("outside_calling_hours", "2026-03-08T12:00:00Z")),
        # fall back 2026-11-01 (02:00 EDT -> 01:00 EST): 08:00 EST = 13:00Z
        ("2026-11-01T05:30:00Z", blocked("outside_calling_hours", "2026-11-01T13:00:00Z")),
        ("2026-11-01T12:59:59Z", blocked("outside_calling_hours", "2026-11-01T13:00:00Z")),
        ("2026-11-01T13:00:00Z", OK),
        ("2026-11-01T00:59:59Z", OK),  # 20:59:59 EDT on 10-31
        ("2026-11-01T01:00:00Z", blocked("outside_calling_hours", "2026-11-01T13:00:00Z")),
        ("2026-11-02T01:59:59Z", OK),  # 20:59:59 EST on 11-01
        ("2026-11-02T02:00:00Z", blocked("outside_calling_hours", "2026-11-02T13:00:00Z")),
    ],
)
def test_us_calling_hours_edges(now: str, expected: Decision) -> None:
    assert ev(US, case(NY), now) == expected


def test_a_0700_local_attempt_is_told_0800_local() -> None:
    assert ev(US, case(NY), "2026-01-15T12:00:00Z") == blocked(
        "outside_calling_hours", "2026-01-15T13:00:00Z"
    )


def test_uk_and_cn_calling_hours() -> None:
    # London in summer (BST = UTC+1)
    assert ev(UKP, case(UK), "2026-06-10T06:59:59Z").reasons == ("outside_calling_hours",)
    assert ev(UKP, case(UK), "2026-06-10T07:00:00Z") == OK
    assert ev(UKP, case(UK), "2026-06-10T19:59:59Z") == OK
    assert ev(UKP, case(UK), "2026-06-10T20:00:00Z") == blocked(
        "outside_calling_hours", "2026-06-11T07:00:00Z"
    )
    # Shanghai (UTC+8): no calls 22:00-08:00
    assert ev(CNP, case(CN), "2026-01-14T23:59:59Z") == blocked(
        "outside_calling_hours", "2026-01-15T00:00:00Z"
    )
    assert ev(CNP, case(CN), "2026-01-15T00:00:00Z") == OK
    assert ev(CNP, case(CN), "2026-01-15T13:59:59Z") == OK
    assert ev(CNP, case(CN), "2026-01-15T14:00:00Z") == blocked(
        "outside_calling_hours", "2026-01-16T00:00:00Z"
    )


def test_explicit_case_time_zone_wins_over_the_number() -> None:
    # 08:30 in New York is 05:30 in Los Angeles
    now = "2026-01-15T13:30:00Z"
    assert ev(US, case(NY), now) == OK
    assert ev(US, case(NY, tz="America/Los_Angeles"), now) == blocked(
        "outside_calling_hours", "2026-01-15T16:00:00Z"
    )
    # CN: Asia/Shanghai unless the case says otherwise
    assert ev(CNP, case(CN, tz="Europe/Berlin"), "2026-01-15T03:00:00Z").reasons == (
        "outside_calling_hours",
    )


def test_a_number_spanning_two_zones_needs_both_open() -> None:
    c = case(IDAHO)  # Boise (MST, UTC-7) and Los Angeles (PST, UTC-8)
    assert ev(US, c, "2026-01-15T14:59:59Z") == blocked(
        "outside_calling_hours", "2026-01-15T16:00:00Z"
    )
    # 08:00 in Boise, 07:00 in Los Angeles: still blocked
    assert ev(US, c, "2026-01-15T15:00:00Z") == blocked(
        "outside_calling_hours", "2026-01-15T16:00:00Z"
    )
    assert ev(US, c, "2026-01-15T16:00:00Z") == OK
    assert ev(US, c, "2026-01-16T03:59:59Z") == OK  # 20:59:59 Boise
    assert ev(US, c, "2026-01-16T04:00:00Z") == blocked(
        "outside_calling_hours", "2026-01-16T16:00:00Z"
    )
    # with an explicit zone only Los Angeles counts
    assert ev(US, case(IDAHO, tz="America/Los_Angeles"), "2026-01-16T04:30:00Z") == OK


def test_unknown_number_zone_falls_back_to_all_default_zones() -> None:
    c = case(NO_ZONE)  # US defaults: the 50 states' zones, Honolulu (UTC-10) opens last
    assert ev(US, c, "2026-01-15T17:00:00Z") == blocked(
        "outside_calling_hours", "2026-01-15T18:00:00Z"
    )
    assert ev(US, c, "2026-01-15T18:00:00Z") == OK
    assert ev(US, c, "2026-01-16T01:59:59Z") == OK  # 20:59:59 New York
    assert ev(US, c, "2026-01-16T02:00:00Z").reasons == ("outside_calling_hours",)
    assert ev(CNP, case("+8600"), "2026-01-15T00:00:00Z") == OK  # Asia/Shanghai default


def test_zones_whose_windows_never_overlap_give_no_next_time() -> None:
    data = US.model_dump(mode="json")
    data["calling_hours"] = {
        "start": "09:00",
        "end": "12:00",
        "default_timezones": ["Asia/Tokyo", "America/New_York"],
    }
    narrow = parse_profile(data)
    assert ev(narrow, case(NO_ZONE), "2026-01-15T15:00:00Z") == blocked(
        "outside_calling_hours", None
    )


# -- attempt cap (US: 7 per debt in any 7 consecutive local days) -----------------------------


def daily_attempts(first_day: int, count: int, number: str = NY) -> tuple[ContactRecord, ...]:
    """One attempt per day at 15:00Z (10:00 EST) from 2026-01-<first_day>."""
    start = datetime(2026, 1, first_day, 15, tzinfo=UTC)
    return tuple(
        ContactRecord(start + timedelta(days=i), number, Out.NO_ANSWER) for i in range(count)
    )


def test_the_7th_attempt_is_allowed_and_the_8th_is_not() -> None:
    c = case(NY)
    assert ev(US, c, "2026-01-11T18:00:00Z", daily_attempts(5, 6)) == OK
    seven = daily_attempts(5, 7)  # 01-05 .. 01-11
    # free again on local 01-12 (window 01-06..01-12 holds 6); first callable at 08:00 EST
    assert ev(US, c, "2026-01-11T18:00:00Z", seven) == blocked(
        "attempt_cap", "2026-01-12T13:00:00Z"
    )
    rule = rules.attempt_cap(c, c.numbers[0], seven, z("2026-01-11T18:00:00Z"), US)
    assert rule == rules.RuleResult(False, "attempt_cap", z("2026-01-12T05:00:00Z"))
    assert rules.attempt_cap(c, c.numbers[0], seven, z("2026-01-12T04:59:59Z"), US).allowed is False
    assert rules.attempt_cap(c, c.numbers[0], seven, z("2026-01-12T05:00:00Z"), US).allowed


def test_attempts_eight_local_days_ago_do_not_count() -> None:
    c = case(NY)
    history = daily_attempts(4, 8)  # 01-04 .. 01-11: 7 of them in 01-05 .. 01-11
    assert ev(US, c, "2026-01-11T18:00:00Z", history).reasons == ("attempt_cap",)
    history = daily_attempts(4, 7)  # 01-04 .. 01-10; 01-04 is 8 local days back on 01-11
    assert ev(US, c, "2026-01-11T18:00:00Z", history) == OK


def test_all_numbers_and_abandoned_calls_count_toward_the_attempt_cap() -> None:
    c = case(NY, NY2)
    history = (
        *daily_attempts(5, 3, NY),
        *daily_attempts(8, 3, NY2),
        rec("2026-01-11T14:00:00Z", NY, Out.ABANDONED),
    )
    assert ev(US, c, "2026-01-11T18:00:00Z", history, NY2).reasons == ("attempt_cap",)
    assert ev(US, c, "2026-01-11T18:00:00Z", history[:-1], NY2) == OK


def test_attempt_cap_counts_local_days_not_utc_days() -> None:
    c = case(NY)
    # 2026-01-05T03:00Z is 22:00 on 01-04 in New York: outside the 01-05 .. 01-11 window
    history = (rec("2026-01-05T03:00:00Z", NY, Out.BUSY), *daily_attempts(6, 6))
    assert ev(US, c, "2026-01-11T18:00:00Z", history) == OK
    history = (rec("2026-01-05T05:00:00Z", NY, Out.BUSY), *daily_attempts(6, 6))  # 00:00 01-05
    assert ev(US, c, "2026-01-11T18:00:00Z", history).reasons == ("attempt_cap",)


def test_attempt_cap_window_across_spring_forward() -> None:
    c = case(NY)
    start = datetime(2026, 3, 2, 16, tzinfo=UTC)  # 11:00 EST / 12:00 EDT
    history = tuple(ContactRecord(start + timedelta(days=i), NY, Out.FAILED) for i in range(7))
    # 03-02 .. 03-08; free on 03-09: midnight EDT = 04:00Z, callable 08:00 EDT = 12:00Z
    rule = rules.attempt_cap(c, c.numbers[0], history, z("2026-03-08T18:00:00Z"), US)
    assert rule.next_allowed_at == z("2026-03-09T04:00:00Z")
    assert ev(US, c, "2026-03-08T18:00:00Z", history) == blocked(
        "attempt_cap", "2026-03-09T12:00:00Z"
    )


# -- post-conversation lockout (US: the conversation day + 6 more local days) ----------------


def test_issue_example_post_conversation_lockout_across_dst() -> None:
    history = (rec("2026-03-01T15:00:00Z", NY, Out.CONVERSATION),)
    assert ev(US, case(NY), "2026-03-02T14:05:00Z", history) == blocked(
        "post_conversation_lockout", "2026-03-08T12:00:00Z"
    )


def test_day_7_vs_day_8_after_a_conversation() -> None:
    c = case(NY)
    # 23:30 EST on 01-10: day 1 is 01-10, day 7 is 01-16, day 8 is 01-17
    history = (rec("2026-01-11T04:30:00Z", NY, Out.CONVERSATION),)
    day7_evening = "2026-01-17T01:59:59Z"  # 20:59:59 EST on 01-16
    assert ev(US, c, day7_evening, history) == blocked(
        "post_conversation_lockout", "2026-01-17T13:00:00Z"
    )
    assert ev(US, c, "2026-01-17T13:00:00Z", history) == OK  # 08:00 on day 8
    n = c.numbers[0]
    assert not rules.post_conversation_lockout(c, n, history, z("2026-01-17T04:59:59Z"), US).allowed
    assert rules.post_conversation_lockout(c, n, history, z("2026-01-17T05:00:00Z"), US).allowed


def test_only_conversations_lock_out() -> None:
    history = (rec("2026-01-14T15:00:00Z", NY, Out.ANSWERED),)
    assert ev(US, case(NY), "2026-01-15T15:00:00Z", history) == OK


def test_post_conversation_lockout_ends_at_local_midnight_after_fall_back() -> None:
    c = case(NY)
    history = (rec("2026-10-27T15:00:00Z", NY, Out.CONVERSATION),)  # day 1 = 10-27 (EDT)
    n = c.numbers[0]
    result = rules.post_conversation_lockout(c, n, history, z("2026-11-02T18:00:00Z"), US)
    assert result.next_allowed_at == z("2026-11-03T05:00:00Z")  # midnight EST on day 8
    assert ev(US, c, "2026-11-02T18:00:00Z", history).next_allowed_at == z("2026-11-03T13:00:00Z")


# -- CN: daily conversation cap, daily unanswered cap, number types ---------------------------


def test_cn_daily_conversation_cap() -> None:
    c = case(CN, CN2)
    # 2026-01-15 in Shanghai is 2026-01-14T16:00Z .. 2026-01-15T16:00Z
    talks = (
        rec("2026-01-14T16:00:00Z", CN, Out.CONVERSATION),
        rec("2026-01-15T02:00:00Z", CN2, Out.CONVERSATION),
    )
    assert ev(CNP, c, "2026-01-15T05:00:00Z", talks) == OK  # the 3rd conversation is allowed
    three = (*talks, rec("2026-01-15T04:00:00Z", CN, Out.CONVERSATION))
    assert ev(CNP, c, "2026-01-15T05:00:00Z", three, CN2) == blocked(
        "daily_conversation_cap", "2026-01-16T00:00:00Z"
    )
    result = rules.daily_conversation_cap(c, c.numbers[0], three, z("2026-01-15T05:00:00Z"), CNP)
    assert result.next_allowed_at == z("2026-01-15T16:00:00Z")
    # one of them on the previous local day: 23:59:59 on 01-14
    earlier = (rec("2026-01-14T15:59:59Z", CN, Out.CONVERSATION), *three[1:])
    assert ev(CNP, c, "2026-01-15T05:00:00Z", earlier) == OK


def test_local_calendar_day_is_25_hours_on_fall_back() -> None:
    c = case(CN, tz="America/New_York")  # the case's zone wins over Asia/Shanghai
    talks = (
        rec("2026-11-01T04:30:00Z", CN, Out.CONVERSATION),  # 00:30 EDT on 11-01
        rec("2026-11-01T15:00:00Z", CN, Out.CONVERSATION),
        rec("2026-11-02T04:30:00Z", CN, Out.CONVERSATION),  # 23:30 EST on 11-01
    )
    result = rules.daily_conversation_cap(c, c.numbers[0], talks, z("2026-11-02T04:45:00Z"), CNP)
    assert result == rules.RuleResult(False, "daily_conversation_cap", z("2026-11-02T05:00:00Z"))


def test_local_calendar_day_is_23_hours_on_spring_forward() -> None:
    c = case(CN, tz="America/New_York")
    talks = (
        rec("2026-03-08T04:59:59Z", CN, Out.CONVERSATION),  # 23:59:59 EST on 03-07
        rec("2026-03-08T05:00:00Z", CN, Out.CONVERSATION),  # 00:00 EST on 03-08
        rec("2026-03-08T15:00:00Z", CN, Out.CONVERSATION),
    )
    n = c.numbers[0]
    # 23:59:59 EDT on 03-08: only two of them on 03-08
    assert rules.daily_conversation_cap(c, n, talks, z("2026-03-09T03:59:59Z"), CNP).allowed
    full = (*talks, rec("2026-03-08T16:00:00Z", CN, Out.CONVERSATION))
    result = rules.daily_conversation_cap(c, n, full, z("2026-03-08T17:00:00Z"), CNP)
    assert result.next_allowed_at == z("2026-03-09T04:00:00Z")  # midnight EDT


@pytest.mark.parametrize(
    "outcome",
    [Out.NO_ANSWER, Out.BUSY, Out.FAILED, Out.MACHINE, Out.MACHINE_MESSAGE_LEFT, Out.ABANDONED],
)
def test_cn_daily_unanswered_cap_counts(outcome: ContactOutcome) -> None:
    c = case(CN, CN2)
    five = tuple(
        ContactRecord(z("2026-01-15T01:00:00Z") + timedelta(minutes=10 * i), CN, outcome)
        for i in range(5)
    )
    assert ev(CNP, c, "2026-01-15T05:00:00Z", five) == OK  # the 6th is allowed
    six = (*five, rec("2026-01-15T04:00:00Z", CN, outcome))
    assert ev(CNP, c, "2026-01-15T05:00:00Z", six) == blocked(
        "daily_unanswered_cap", "2026-01-16T00:00:00Z"
    )
    assert ev(CNP, c, "2026-01-15T05:00:00Z", six, CN2) == OK  # per number


def test_cn_answered_calls_are_not_unanswered() -> None:
    history = tuple(
        ContactRecord(z("2026-01-15T01:00:00Z") + timedelta(minutes=i), CN, Out.ANSWERED)
        for i in range(8)
    )
    assert ev(CNP, case(CN), "2026-01-15T05:00:00Z", history) == OK


def test_cn_number_types() -> None:
    now = "2026-01-15T05:00:00Z"
    work = PhoneNumber(CN2, type=NumberType.WORK)
    third = PhoneNumber(CN2, type=NumberType.THIRD_PARTY)
    refused = PhoneNumber(CN2, type=NumberType.THIRD_PARTY_REFUSED)
    unreachable = (CaseFlag.DEBTOR_UNREACHABLE.value,)
    for phone in (work, third):
        assert ev(CNP, case(phone), now) == blocked("number_type_forbidden", None)
        assert ev(CNP, case(phone, flags=unreachable), now) == OK
    assert ev(CNP, case(refused, flags=unreachable), now) == blocked("number_type_forbidden", None)
    assert ev(US, case(PhoneNumber(NY, type=NumberType.WORK)), "2026-01-15T15:00:00Z") == OK


# -- UK: 72 h after an abandoned call ------------------------------------------------------


def test_uk_abandon_lockout_71h59m_vs_72h() -> None:
    c = case(UK, "+442079460456")
    history = (rec("2026-01-10T10:00:00Z", UK, Out.ABANDONED),)
    assert ev(UKP, c, "2026-01-13T09:59:00Z", history) == blocked(
        "abandon_lockout", "2026-01-13T10:00:00Z"
    )
    assert ev(UKP, c, "2026-01-13T10:00:00Z", history) == OK
    n = c.numbers[0]
    assert not rules.abandon_lockout(c, n, history, z("2026-01-13T09:59:59Z"), UKP).allowed
    assert rules.abandon_lockout(c, n, history, z("2026-01-13T10:00:00Z"), UKP).allowed
    assert ev(UKP, c, "2026-01-11T10:00:00Z", history, "+442079460456") == OK  # per number


def test_uk_abandon_lockout_is_elapsed_hours_across_dst() -> None:
    history = (rec("2026-03-27T10:00:00Z", UK, Out.ABANDONED),)  # BST starts 03-29
    assert ev(UKP, case(UK), "2026-03-30T09:59:59Z", history).reasons == ("abandon_lockout",)
    assert ev(UKP, case(UK), "2026-03-30T10:00:00Z", history) == OK


def test_uk_abandon_lockout_ending_at_night_waits_for_calling_hours() -> None:
    history = (rec("2026-01-10T22:30:00Z", UK, Out.ABANDONED),)  # not within hours, but recorded
    assert ev(UKP, case(UK), "2026-01-12T12:00:00Z", history) == blocked(
        "abandon_lockout", "2026-01-14T08:00:00Z"
    )


# -- permanent blocks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c", "reason"),
    [
        (case(PhoneNumber(NY, dnc=True)), "do_not_call"),
        (case(NY, flags=("do_not_call",)), "do_not_call"),
        (case(NY, flags=("cease_communication",)), "cease_communication"),
        (case(NY, flags=("disputed",)), "disputed"),
        (case(PhoneNumber(NY, consent=False)), "no_consent"),
        (case(PhoneNumber(NY, type=NumberType.THIRD_PARTY_REFUSED)), "number_type_forbidden"),
        (case(PhoneNumber(NY, type=NumberType.THIRD_PARTY)), "number_type_forbidden"),
        (case(NY, tz="Mars/Olympus_Mons"), "invalid_timezone"),
    ],
)
@pytest.mark.parametrize("profile", [US, UKP, CNP], ids=lambda p: p.name)
def test_permanent_blocks_in_every_profile(c: Case, reason: str, profile: Profile) -> None:
    assert ev(profile, c, "2026-01-15T15:00:00Z") == blocked(reason, None)


def test_unknown_number() -> None:
    assert ev(US, case(NY), "2026-01-15T15:00:00Z", number=NY2) == blocked("unknown_number", None)


def test_several_reasons_are_sorted_and_a_permanent_one_means_no_next_time() -> None:
    c = case(PhoneNumber(NY, dnc=False, consent=False), flags=("disputed",))
    history = (rec("2026-01-14T15:00:00Z", NY, Out.CONVERSATION),)
    decision = ev(US, c, "2026-01-15T03:00:00Z", history)
    assert decision == Decision(
        False, ("disputed", "no_consent", "outside_calling_hours", "post_conversation_lockout")
    )


def test_timed_reasons_together_give_the_latest_then_iterate() -> None:
    c = case(NY)
    history = (*daily_attempts(5, 6), rec("2026-01-11T14:00:00Z", NY, Out.CONVERSATION))
    decision = ev(US, c, "2026-01-12T03:00:00Z", history)
    assert decision.reasons == ("attempt_cap", "outside_calling_hours", "post_conversation_lockout")
    assert decision.next_allowed_at == z("2026-01-18T13:00:00Z")  # 08:00 on day 8


def test_records_after_now_are_ignored() -> None:
    history = (rec("2026-01-16T15:00:00Z", NY, Out.CONVERSATION),)
    assert ev(US, case(NY), "2026-01-15T15:00:00Z", history) == OK


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(US, case(NY), NY, (), datetime(2026, 1, 15, 15))


def test_reason_codes_are_stable() -> None:
    assert {r.value for r in Reason} == {
        "outside_calling_hours",
        "attempt_cap",
        "post_conversation_lockout",
        "daily_conversation_cap",
        "daily_unanswered_cap",
        "abandon_lockout",
        "do_not_call",
        "cease_communication",
        "disputed",
        "no_consent",
        "number_type_forbidden",
        "unknown_number",
        "invalid_timezone",
    }


def test_evaluate_target_and_case() -> None:
    c = case(NY, PhoneNumber(NY2, dnc=True))
    history = (rec("2026-01-15T14:00:00Z", NY, Out.BUSY),)
    now = z("2026-01-15T15:00:00Z")
    assert evaluate_target(US, DialTarget(c, NY, history), now) == OK
    assert evaluate_case(US, c, history, now) == {NY: OK, NY2: blocked("do_not_call", None)}


def test_attempt_cap_alone_sees_the_whole_window() -> None:
    data = US.model_dump(mode="json")
    data["lockouts"] = {"post_conversation_days": None, "abandon_hours": None}
    caps_only = parse_profile(data)
    c = case(NY)
    # 00:30 EST on 01-05 is the first local day of the window on 01-11, 6 d 22.5 h before now
    first = rec("2026-01-05T05:30:00Z", NY, Out.CONVERSATION)
    history = (first, *daily_attempts(6, 6))
    assert ev(caps_only, c, "2026-01-12T01:00:00Z", history) == blocked(
        "attempt_cap", "2026-01-12T13:00:00Z"
    )


@pytest.mark.parametrize("profile", [US, UKP, CNP], ids=["us", "uk", "cn"])
def test_trunk_failures_count_toward_no_rule(profile: Profile) -> None:
    """A call the carrier failed never reached the debtor: not an attempt for any cap."""
    number = {"us": NY, "uk": UK, "cn": CN}[profile.name.split("_")[0]]
    c = case(number)
    start = datetime(2026, 1, 12, 2 if profile is CNP else 15, tzinfo=UTC)  # 10:00 local
    failed = tuple(
        ContactRecord(start + timedelta(minutes=i), number, Out.TRUNK_FAILED) for i in range(40)
    )
    at = (start + timedelta(hours=1)).isoformat()
    assert ev(profile, c, at, failed) == ev(profile, c, at)  # as if they never happened
    # the same calls placed do count (Ofcom has no attempt cap: its abandon lockout does)
    counted = Out.ABANDONED if profile is UKP else Out.NO_ANSWER
    placed = tuple(ContactRecord(r.at, r.number, counted) for r in failed)
    assert ev(profile, c, at, placed) != ev(profile, c, at)


def test_a_media_lost_call_counts_toward_the_us_attempt_cap_but_is_no_conversation() -> None:
    c = case(NY)
    history = (*daily_attempts(5, 6), rec("2026-01-11T14:00:00Z", NY, Out.MEDIA_LOST))
    assert ev(US, c, "2026-01-11T18:00:00Z", history).reasons == ("attempt_cap",)
    one = (rec("2026-01-11T14:00:00Z", NY, Out.MEDIA_LOST),)
    assert ev(US, c, "2026-01-11T18:00:00Z", one) == OK  # no post-conversation lockout


def test_a_message_left_on_a_machine_counts_toward_reg_f_7_in_7_but_is_no_conversation() -> None:
    c = case(NY)
    history = (*daily_attempts(5, 6), rec("2026-01-11T14:00:00Z", NY, Out.MACHINE_MESSAGE_LEFT))
    assert ev(US, c, "2026-01-11T18:00:00Z", history).reasons == ("attempt_cap",)
    one = (rec("2026-01-11T14:00:00Z", NY, Out.MACHINE_MESSAGE_LEFT),)
    assert ev(US, c, "2026-01-11T18:00:00Z", one) == OK  # no post-conversation lockout
    assert not Out.MACHINE_MESSAGE_LEFT.counts_as_conversation
    assert Out.MACHINE_MESSAGE_LEFT in US.attempts.per_debt.outcomes  # type: ignore[union-attr]


def test_uk_has_no_attempt_cap_and_a_message_left_is_no_abandon() -> None:
    c = case(UK)
    many = tuple(rec(f"2026-01-1{d}T10:00:00Z", UK, Out.MACHINE_MESSAGE_LEFT) for d in range(1, 10))
    assert ev(UKP, c, "2026-01-19T12:00:00Z", many) == OK  # no 72 h abandon lockout either
    assert not Out.MACHINE_MESSAGE_LEFT.counts_as_abandon


def test_a_profile_that_counts_trunk_failures_is_refused() -> None:
    data = US.model_dump(mode="json")
    data["attempts"]["per_debt"]["outcomes"].append("trunk_failed")
    with pytest.raises(ProfileError, match="trunk_failed never reached the debtor") as err:
        parse_profile(data, "mine.yaml")
    assert "attempts.per_debt.outcomes" in str(err.value) and "mine.yaml" in str(err.value)
