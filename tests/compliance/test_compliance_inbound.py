"""Inbound return calls in the rules: a conversation on the debtor's own call is a
conversation (US lockout, CN daily cap), never an attempt of ours (US 7-in-7, CN
unanswered cap) nor an abandon of ours (UK 72 h)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from dialer.compliance import evaluate
from dialer.compliance.profiles import load_profile
from dialer.domain.model import Case, ContactOutcome, ContactRecord, PhoneNumber

Out = ContactOutcome
NY = "+12125550123"
CN = "+8613800138000"
UK = "+442079460123"
US = load_profile("us_tsr_regf")
UKP = load_profile("uk_ofcom")
CNP = load_profile("cn_ifac")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def case(number: str) -> Case:
    return Case(ref="C-1", numbers=(PhoneNumber(number),))


def inbound(at: str, number: str, outcome: ContactOutcome = Out.CONVERSATION) -> ContactRecord:
    return ContactRecord(z(at), number, outcome, inbound=True)


def test_us_an_inbound_conversation_starts_the_seven_day_lockout() -> None:
    c = case(NY)
    talk = (inbound("2026-01-05T15:00:00Z", NY),)
    decision = evaluate(US, c, NY, talk, z("2026-01-06T15:00:00Z"))
    assert decision.reasons == ("post_conversation_lockout",)
    assert evaluate(US, c, NY, talk, z("2026-01-12T15:00:00Z")).allowed  # local day 8


def test_us_inbound_calls_are_not_attempts_toward_seven_in_seven() -> None:
    c = case(NY)
    start = z("2026-01-05T15:00:00Z")
    six = tuple(ContactRecord(start + timedelta(days=i), NY, Out.NO_ANSWER) for i in range(6))
    # Seven records in the window, but one is the debtor's own (unanswered) return call.
    theirs = inbound("2026-01-10T20:00:00Z", NY, Out.NO_ANSWER)
    now = z("2026-01-10T22:00:00Z")
    assert evaluate(US, c, NY, (*six, theirs), now).allowed
    ours = replace(theirs, inbound=False)
    assert evaluate(US, c, NY, (*six, ours), now).reasons == ("attempt_cap",)


def test_cn_inbound_conversations_count_toward_the_daily_cap() -> None:
    c = case(CN)
    two = (
        ContactRecord(z("2026-01-15T01:00:00Z"), CN, Out.CONVERSATION),
        ContactRecord(z("2026-01-15T02:00:00Z"), CN, Out.CONVERSATION),
    )
    now = z("2026-01-15T05:00:00Z")
    assert evaluate(CNP, c, CN, two, now).allowed
    third = inbound("2026-01-15T03:00:00Z", CN)
    assert evaluate(CNP, c, CN, (*two, third), now).reasons == ("daily_conversation_cap",)


def test_cn_inbound_calls_are_not_unanswered_attempts() -> None:
    c = case(CN)
    now = z("2026-01-15T08:00:00Z")
    misses = tuple(inbound(f"2026-01-15T0{i}:00:00Z", CN, Out.NO_ANSWER) for i in range(1, 7))
    assert evaluate(CNP, c, CN, misses, now).allowed
    ours = tuple(replace(r, inbound=False) for r in misses)
    assert evaluate(CNP, c, CN, ours, now).reasons == ("daily_unanswered_cap",)


def test_uk_an_inbound_caller_who_hung_up_is_no_abandon_of_ours() -> None:
    c = case(UK)
    now = z("2026-01-10T12:00:00Z")
    theirs = inbound("2026-01-10T10:00:00Z", UK, Out.ABANDONED)
    assert evaluate(UKP, c, UK, (theirs,), now).allowed
    ours = replace(theirs, inbound=False)
    assert evaluate(UKP, c, UK, (ours,), now).reasons == ("abandon_lockout",)
