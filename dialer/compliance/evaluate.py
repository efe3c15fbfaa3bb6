"""Combine the rules of a profile into one decision for one case and number at one instant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dialer.compliance.profiles import Profile
from dialer.compliance.rules import NON_MONOTONE_RULES, RULES, Reason, RuleResult
from dialer.compliance.timezones import is_valid_zone
from dialer.domain.model import Case, ContactRecord, DialTarget, PhoneNumber

# Bound on the search for next_allowed_at: each step moves strictly later, and in practice
# two or three steps suffice (e.g. lockout end -> next opening of the calling hours).
MAX_SEARCH_STEPS = 64


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a call may be placed now; if not, why (sorted codes) and from when.

    `next_allowed_at` is the earliest instant at which every rule allows the call given the
    same history, in UTC; None when the call is allowed now or time alone will not lift the
    block (do-not-call, cease, dispute, consent, number type, unknown number, or calling
    windows of the debtor's zones that never overlap).
    """

    allowed: bool
    reasons: tuple[str, ...] = ()
    next_allowed_at: datetime | None = None

    def to_json(self) -> dict[str, object]:
        """The `dialer compliance evaluate` output form."""
        return {
            "allowed": self.allowed,
            "reasons": list(self.reasons),
            "next_allowed_at": (
                None if self.next_allowed_at is None else format_instant(self.next_allowed_at)
            ),
        }


ALLOWED_DECISION = Decision(True)


def format_instant(at: datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix, e.g. 2026-03-08T12:00:00Z."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def history_span(profile: Profile) -> timedelta:
    """How far back any rule of `profile` looks (with a day of margin for local days)."""
    span = timedelta(0)
    attempts, lockouts = profile.attempts, profile.lockouts
    if attempts.per_debt is not None:
        span = max(span, timedelta(days=attempts.per_debt.window_days + 1))
    if lockouts.post_conversation_days is not None:
        span = max(span, timedelta(days=lockouts.post_conversation_days + 1))
    if (
        attempts.conversations_per_debtor_per_day is not None
        or attempts.unanswered_per_number_per_day is not None
    ):
        span = max(span, timedelta(days=2))
    if lockouts.abandon_hours is not None:
        span = max(span, timedelta(hours=lockouts.abandon_hours))
    return span


def relevant_history(
    profile: Profile, history: Sequence[ContactRecord], now: datetime
) -> Sequence[ContactRecord]:
    """The records any rule could count at `now` or later: `now - span < at <= now`.

    Rules only look back from the instant they are evaluated at, so this subset is also
    enough for every later candidate instant of the next_allowed_at search.
    """
    oldest = now - history_span(profile)
    # A trunk failure never left the carrier: no rule counts it (dialer.domain.model).
    return [r for r in history if oldest < r.at <= now and r.outcome.reached_network]


def _blocked(
    case: Case,
    phone: PhoneNumber,
    history: Sequence[ContactRecord],
    at: datetime,
    profile: Profile,
) -> tuple[list[RuleResult], bool]:
    """Failing rule results at `at`, and whether any of them is permanent."""
    failed: list[RuleResult] = []
    permanent = False
    for rule in RULES:
        result = rule.check(case, phone, history, at, profile)
        if not result.allowed:
            failed.append(result)
            permanent = permanent or rule.permanent or result.next_allowed_at is None
    return failed, permanent


def _next_allowed(
    case: Case,
    phone: PhoneNumber,
    history: Sequence[ContactRecord],
    candidate: datetime,
    profile: Profile,
) -> datetime | None:
    """Walk forward from `candidate` until every timed rule allows the call.

    `candidate` is the latest next_allowed_at of the rules blocking now: no earlier instant
    can be allowed (each rule is blocked throughout [now, its next_allowed_at)). Monotone
    rules allow from their next_allowed_at on, so only the others (calling hours) need
    re-checking; each step moves to the latest instant they name, which again cannot skip
    an allowed instant. The result is the earliest instant every rule allows.
    """
    for _ in range(MAX_SEARCH_STEPS):
        later: datetime | None = None
        for rule in NON_MONOTONE_RULES:
            result = rule.check(case, phone, history, candidate, profile)
            if result.allowed:
                continue
            if result.next_allowed_at is None:
                return None
            if later is None or result.next_allowed_at > later:
                later = result.next_allowed_at
        if later is None:
            return candidate
        if later <= candidate:  # a rule broke its contract; refuse to guess
            return None
        candidate = later
    return None


def evaluate(
    profile: Profile,
    case: Case,
    number: str,
    history: Sequence[ContactRecord],
    now: datetime,
) -> Decision:
    """May `number` of `case` be dialled automatically at `now` under `profile`?

    `now` and every record's `at` must be timezone-aware; records after `now` are ignored.
    """
    _require_aware(now)
    phone = case.number(number)
    if phone is None:
        return Decision(False, (Reason.UNKNOWN_NUMBER.value,))
    if case.timezone is not None and not is_valid_zone(case.timezone):
        return Decision(False, (Reason.INVALID_TIMEZONE.value,))
    history = relevant_history(profile, history, now)
    failed, permanent = _blocked(case, phone, history, now, profile)
    if not failed:
        return ALLOWED_DECISION
    reasons = tuple(sorted({r.reason for r in failed if r.reason is not None}))
    if permanent:
        return Decision(False, reasons)
    candidate = max(r.next_allowed_at for r in failed if r.next_allowed_at is not None)
    return Decision(False, reasons, _next_allowed(case, phone, history, candidate, profile))


def evaluate_target(profile: Profile, target: DialTarget, now: datetime) -> Decision:
    """`evaluate` for a hopper entry."""
    return evaluate(profile, target.case, target.number, target.history, now)


def evaluate_case(
    profile: Profile, case: Case, history: Sequence[ContactRecord], now: datetime
) -> dict[str, Decision]:
    """A decision for every number of the case, keyed by E.164 (case order)."""
    return {n.e164: evaluate(profile, case, n.e164, history, now) for n in case.numbers}
