"""The check behind a scheduled callback: would the dialer be allowed to call the case at
that later instant, which number it would dial, which zone the debtor's times are in, and
every reason code in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

from dialer.compliance import (
    NO_DIALABLE_NUMBER,
    Reason,
    callback_decision,
    debtor_zones,
    evaluate,
    explain,
    load_profile,
    number_to_dial,
)
from dialer.domain.model import Case, ContactOutcome, ContactRecord, NumberType, PhoneNumber

US = load_profile("us_tsr_regf")
UK = load_profile("uk_ofcom")
CN = load_profile("cn_ifac")
NY = "+12125550123"  # America/New_York
CHICAGO = "+13125550123"  # America/Chicago
TALK = ContactOutcome.CONVERSATION


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def case(*numbers: PhoneNumber, tz: str | None = None) -> Case:
    return Case(ref="1", numbers=numbers, timezone=tz)


def test_a_callback_inside_the_lockout_of_the_call_just_made_is_refused() -> None:
    # Tue 1 Dec 2026 15:00 Chicago: the conversation being dispositioned.
    c = case(PhoneNumber(CHICAGO))
    history = [ContactRecord(z("2026-12-01T21:00:00Z"), CHICAGO, TALK)]
    tomorrow = z("2026-12-02T16:30:00Z")  # Wed 10:30 Chicago
    decision = callback_decision(US, c, history, tomorrow)
    assert not decision.allowed
    assert decision.reasons == (Reason.POST_CONVERSATION_LOCKOUT.value,)
    # Day 8 is Tue 8 Dec; 08:00 Chicago (CST, UTC-6).
    assert decision.next_allowed_at == z("2026-12-08T14:00:00Z")
    assert callback_decision(US, c, history, z("2026-12-08T15:00:00Z")).allowed
    # The same instant as `dialer compliance evaluate` sees it.
    assert decision == evaluate(US, c, CHICAGO, history, tomorrow)


def test_the_attempt_cap_counts_every_attempt_up_to_the_callback() -> None:
    c = case(PhoneNumber(NY))
    misses = [
        ContactRecord(z(f"2026-03-0{d}T15:00:00Z"), NY, ContactOutcome.NO_ANSWER)
        for d in range(1, 8)
    ]  # 7 attempts on 1..7 March
    decision = callback_decision(UK, c, misses, z("2026-03-07T16:00:00Z"))
    assert decision.allowed, "UK has no per-debt cap"
    decision = callback_decision(US, c, misses, z("2026-03-07T16:00:00Z"))
    assert decision.reasons == (Reason.ATTEMPT_CAP.value,)
    assert decision.next_allowed_at == z("2026-03-08T12:00:00Z")  # 08:00 EDT on the 8th


def test_the_number_dialed_is_the_first_dialable_and_gives_the_zone() -> None:
    refused = PhoneNumber(NY, NumberType.THIRD_PARTY_REFUSED)
    no_consent = PhoneNumber("+12125550124", consent=False)
    chicago = PhoneNumber(CHICAGO)
    c = case(refused, no_consent, chicago)
    assert number_to_dial(c) == chicago
    assert [z.key for z in debtor_zones(c, US)] == ["America/Chicago"]
    assert [z.key for z in debtor_zones(case(chicago, tz="Europe/Paris"), US)] == ["Europe/Paris"]
    assert [z.key for z in debtor_zones(case(chicago, tz="Mars/Base"), US)] == ["America/Chicago"]
    nothing = callback_decision(US, case(refused, no_consent), [], z("2026-03-03T16:00:00Z"))
    assert nothing.reasons == (NO_DIALABLE_NUMBER,) and nothing.next_allowed_at is None


def test_every_reason_has_plain_words() -> None:
    for profile in (US, UK, CN):
        for reason in [*Reason, NO_DIALABLE_NUMBER]:
            words = explain(str(reason), profile)
            assert "_" not in words, (profile.name, reason, words)
    assert explain("post_conversation_lockout", US).startswith(
        "too soon after a conversation: no call for 7 days"
    )
    assert "at most 7 calls in 7 days" in explain("attempt_cap", US)
    assert "72 hours" in explain("abandon_lockout", UK)
    assert "at most 3 conversations" in explain("daily_conversation_cap", CN)
    assert "at most 6 unanswered calls" in explain("daily_unanswered_cap", CN)
    assert explain("outside_calling_hours", CN).endswith(
        "between 08:00 and 22:00 in the debtor's local time"
    )
    assert explain("trunk_down", US) == "trunk down"


def test_a_callback_nothing_forbids_is_allowed() -> None:
    at = datetime(2026, 3, 3, 16, tzinfo=UTC)
    assert callback_decision(US, case(PhoneNumber(NY)), [], at).allowed
