"""Compliance rules as pure predicates.

Every rule is `(case, number, history, now, profile) -> RuleResult`. A rule that blocks says
when it would next allow the call (`next_allowed_at`, the earliest such instant, in UTC) or
`None` when time alone will never lift the block. Rules read no clock: `now` and every
`ContactRecord.at` must be timezone-aware. Only history records with `at <= now` count
(a record stamped exactly `now` is an attempt already made).

Local calendar days and local hours are taken in every zone `timezones.resolve_zones` gives;
a rule blocks when it blocks in any of them. The rules and their sources: docs/compliance.md.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from dialer.compliance.profiles import Profile
from dialer.compliance.timezones import resolve_zones
from dialer.domain.model import Case, CaseFlag, ContactOutcome, ContactRecord, PhoneNumber


class Reason(StrEnum):
    """Stable machine codes for why a call is not allowed."""

    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    ATTEMPT_CAP = "attempt_cap"
    POST_CONVERSATION_LOCKOUT = "post_conversation_lockout"
    DAILY_CONVERSATION_CAP = "daily_conversation_cap"
    DAILY_UNANSWERED_CAP = "daily_unanswered_cap"
    ABANDON_LOCKOUT = "abandon_lockout"
    DO_NOT_CALL = "do_not_call"
    CEASE_COMMUNICATION = "cease_communication"
    DISPUTED = "disputed"
    NO_CONSENT = "no_consent"
    NUMBER_TYPE_FORBIDDEN = "number_type_forbidden"
    UNKNOWN_NUMBER = "unknown_number"
    INVALID_TIMEZONE = "invalid_timezone"


PERMANENT_REASONS: frozenset[str] = frozenset(
    {
        Reason.DO_NOT_CALL,
        Reason.CEASE_COMMUNICATION,
        Reason.DISPUTED,
        Reason.NO_CONSENT,
        Reason.NUMBER_TYPE_FORBIDDEN,
        Reason.UNKNOWN_NUMBER,
        Reason.INVALID_TIMEZONE,
    }
)

_MIDNIGHT = time(0)

# How many local days ahead to search for a moment open in every zone at once.
_CALLING_HOURS_SEARCH_DAYS = 4


@dataclass(frozen=True, slots=True)
class RuleResult:
    allowed: bool
    reason: str | None = None
    next_allowed_at: datetime | None = None


ALLOWED = RuleResult(True)

RuleCheck = Callable[[Case, PhoneNumber, Sequence[ContactRecord], datetime, Profile], RuleResult]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named predicate.

    `permanent`: the block never lifts with time (next_allowed_at is None).
    `monotone`: with the same history, once the rule allows at t it allows at every later
    instant (true of caps and lockouts, false of calling hours), so the next_allowed_at
    search need not re-check it.
    """

    code: Reason
    permanent: bool
    check: RuleCheck
    monotone: bool = True

    def __call__(
        self,
        case: Case,
        number: PhoneNumber,
        history: Sequence[ContactRecord],
        now: datetime,
        profile: Profile,
    ) -> RuleResult:
        return self.check(case, number, history, now, profile)


def _block(reason: Reason, at: datetime | None = None) -> RuleResult:
    return RuleResult(False, reason.value, at)


def _zones(case: Case, number: PhoneNumber, profile: Profile) -> tuple[ZoneInfo, ...]:
    return resolve_zones(case.timezone, number.e164, profile.calling_hours.default_timezones)


@lru_cache(maxsize=65536)
def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant local `day` starts in `zone` (after the gap if midnight is skipped)."""
    return _local_instant(day, _MIDNIGHT, zone)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


# -- permanent rules -----------------------------------------------------------------------


def do_not_call(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """The number is on a do-not-call list, or the case is flagged do_not_call."""
    if number.dnc or CaseFlag.DO_NOT_CALL.value in case.flags:
        return _block(Reason.DO_NOT_CALL)
    return ALLOWED


def cease_communication(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    if CaseFlag.CEASE_COMMUNICATION.value in case.flags:
        return _block(Reason.CEASE_COMMUNICATION)
    return ALLOWED


def disputed(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    if CaseFlag.DISPUTED.value in case.flags:
        return _block(Reason.DISPUTED)
    return ALLOWED


def no_consent(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """No consent to automated calls on this number: never dialled by the dialer."""
    return ALLOWED if number.consent else _block(Reason.NO_CONSENT)


def number_type_allowed(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    types = p.number_types
    if number.type in types.forbidden:
        return _block(Reason.NUMBER_TYPE_FORBIDDEN)
    if number.type in types.allowed:
        return ALLOWED
    if (
        number.type in types.allowed_when_debtor_unreachable
        and CaseFlag.DEBTOR_UNREACHABLE.value in case.flags
    ):
        return ALLOWED
    return _block(Reason.NUMBER_TYPE_FORBIDDEN)


# -- time-based rules ----------------------------------------------------------------------


def _open(zone: ZoneInfo, at: datetime, start: time, end: time) -> bool:
    local = at.astimezone(zone).time()
    return start <= local < end


def calling_hours(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """Local wall-clock time in [start, end) in every zone of the debtor."""
    hours = p.calling_hours
    zones = _zones(case, number, p)
    if all(_open(z, now, hours.start, hours.end) for z in zones):
        return ALLOWED
    # The earliest instant open everywhere is the start of some zone's window.
    candidates: list[datetime] = []
    for z in zones:
        today = now.astimezone(z).date()
        for offset in range(_CALLING_HOURS_SEARCH_DAYS):
            start_utc = _local_instant(today + timedelta(days=offset), hours.start, z)
            if start_utc > now:
                candidates.append(start_utc)
                if len(zones) == 1:
                    break  # the next opening of the only zone
    for candidate in sorted(set(candidates)):
        if all(_open(z, candidate, hours.start, hours.end) for z in zones):
            return _block(Reason.OUTSIDE_CALLING_HOURS, candidate)
    return _block(Reason.OUTSIDE_CALLING_HOURS)  # the zones' windows never overlap


def attempt_cap(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """At most N attempts per debt (all numbers) within any W consecutive local days."""
    cap = p.attempts.per_debt
    if cap is None:
        return ALLOWED
    horizon = now - timedelta(days=cap.window_days + 1)  # a superset of the window
    recent = [
        r.at
        for r in history
        if horizon < r.at <= now
        and not r.inbound  # the debtor's own call is no attempt of ours
        and (r.outcome in cap.outcomes or r.outcome is ContactOutcome.INTERRUPTED)
    ]
    if len(recent) < cap.max_attempts:
        return ALLOWED
    result: datetime | None = None
    for z in _zones(case, number, p):
        today = now.astimezone(z).date()
        start = local_midnight(today - timedelta(days=cap.window_days - 1), z)
        in_window = [at for at in recent if at >= start]
        if len(in_window) >= cap.max_attempts:
            # Allowed again on the first day whose window holds fewer than N attempts: W days
            # after the local day of the N-th most recent attempt (local dates follow UTC).
            nth = heapq.nlargest(cap.max_attempts, in_window)[-1]
            free_day = nth.astimezone(z).date() + timedelta(days=cap.window_days)
            result = _later(result, local_midnight(free_day, z))
    return ALLOWED if result is None else _block(Reason.ATTEMPT_CAP, result)


def post_conversation_lockout(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """No call on the conversation's local day nor the following D-1 local days."""
    days = p.lockouts.post_conversation_days
    if days is None:
        return ALLOWED
    horizon = now - timedelta(days=days + 1)
    talks = [r.at for r in history if r.outcome.counts_as_conversation and horizon < r.at <= now]
    if not talks:
        return ALLOWED
    result: datetime | None = None
    last = max(talks)
    for z in _zones(case, number, p):
        today = now.astimezone(z).date()
        free_day = last.astimezone(z).date() + timedelta(days=days)
        if free_day > today:
            result = _later(result, local_midnight(free_day, z))
    return ALLOWED if result is None else _block(Reason.POST_CONVERSATION_LOCKOUT, result)


def _daily_cap(
    times: list[datetime], cap: int, zones: tuple[ZoneInfo, ...], now: datetime
) -> datetime | None:
    """Next local midnight when `cap` or more `times` fall on today's local date, else None."""
    result: datetime | None = None
    for z in zones:
        today = now.astimezone(z).date()
        start = local_midnight(today, z)
        if sum(1 for at in times if at >= start) >= cap:
            result = _later(result, local_midnight(today + timedelta(days=1), z))
    return result


def daily_conversation_cap(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """At most N conversations per debtor (all numbers) per local calendar day."""
    cap = p.attempts.conversations_per_debtor_per_day
    if cap is None:
        return ALLOWED
    horizon = now - timedelta(days=2)
    talks = [r.at for r in history if r.outcome.counts_as_conversation and horizon < r.at <= now]
    if len(talks) < cap:
        return ALLOWED
    until = _daily_cap(talks, cap, _zones(case, number, p), now)
    return ALLOWED if until is None else _block(Reason.DAILY_CONVERSATION_CAP, until)


def daily_unanswered_cap(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """At most N unanswered attempts to this number per local calendar day."""
    cap = p.attempts.unanswered_per_number_per_day
    if cap is None:
        return ALLOWED
    horizon = now - timedelta(days=2)
    misses = [
        r.at
        for r in history
        if r.number == number.e164
        and not r.inbound
        and (r.outcome in cap.outcomes or r.outcome is ContactOutcome.INTERRUPTED)
        and horizon < r.at <= now
    ]
    if len(misses) < cap.max:
        return ALLOWED
    until = _daily_cap(misses, cap.max, _zones(case, number, p), now)
    return ALLOWED if until is None else _block(Reason.DAILY_UNANSWERED_CAP, until)


def abandon_lockout(
    case: Case, number: PhoneNumber, history: Sequence[ContactRecord], now: datetime, p: Profile
) -> RuleResult:
    """No call to a number during the H elapsed hours after an abandoned call to it."""
    hours = p.lockouts.abandon_hours
    if hours is None:
        return ALLOWED
    span = timedelta(hours=hours)
    last: datetime | None = None
    for r in history:
        if (
            r.outcome.counts_as_abandon
            and not r.inbound  # an inbound caller who hung up is no abandon of ours
            and r.number == number.e164
            and now - span < r.at <= now
        ):
            last = _later(last, r.at)
    if last is None:
        return ALLOWED
    return _block(Reason.ABANDON_LOCKOUT, (last + span).astimezone(UTC))


RULES: tuple[Rule, ...] = (
    Rule(Reason.DO_NOT_CALL, True, do_not_call),
    Rule(Reason.CEASE_COMMUNICATION, True, cease_communication),
    Rule(Reason.DISPUTED, True, disputed),
    Rule(Reason.NO_CONSENT, True, no_consent),
    Rule(Reason.NUMBER_TYPE_FORBIDDEN, True, number_type_allowed),
    Rule(Reason.OUTSIDE_CALLING_HOURS, False, calling_hours, monotone=False),
    Rule(Reason.ATTEMPT_CAP, False, attempt_cap),
    Rule(Reason.POST_CONVERSATION_LOCKOUT, False, post_conversation_lockout),
    Rule(Reason.DAILY_CONVERSATION_CAP, False, daily_conversation_cap),
    Rule(Reason.DAILY_UNANSWERED_CAP, False, daily_unanswered_cap),
    Rule(Reason.ABANDON_LOCKOUT, False, abandon_lockout),
)
"""Every rule, in evaluation order; a rule whose profile setting is absent always allows."""

NON_MONOTONE_RULES: tuple[Rule, ...] = tuple(rule for rule in RULES if not rule.monotone)
