"""The compliance report of one campaign, built from data (no I/O, no clock).

`dialer compliance report` (`dialer.cli.compliance_report`) reads the store and hands the
numbers here:

- the abandon rate over the profile's window, from the abandonment ledger's totals, and
  the budget left: `cap x live answers - abandons` abandons, and that as a share of the
  allowance `cap x live answers`;
- the open cases blocked now, by reason: every number of every case is evaluated with the
  case's history; a case is callable when at least one of its numbers is, else blocked and
  counted under every reason that blocks one of its numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dialer.compliance.evaluate import evaluate, format_instant, history_span
from dialer.compliance.profiles import Profile
from dialer.domain.model import Case, ContactRecord

NO_NUMBER = "no_number"
"""Report-only reason: a case without any phone number."""

DEFAULT_ABANDON_WINDOW = timedelta(hours=24)
"""Window for the abandon rate when the profile sets no abandonment cap (cn_ifac)."""


def abandon_window(profile: Profile) -> timedelta:
    """The rolling window of the profile's abandonment cap (24 h when it has none)."""
    cap = profile.abandonment
    return DEFAULT_ABANDON_WINDOW if cap is None else timedelta(seconds=cap.window_seconds)


def history_since(profile: Profile, now: datetime) -> datetime:
    """The oldest contact record any rule of `profile` can count at `now`."""
    return now - history_span(profile)


@dataclass(frozen=True, slots=True)
class AbandonSummary:
    """Abandons / live answers of the campaign over [since, now)."""

    since: datetime
    window_seconds: int
    live_answers: int
    abandons: int
    cap: float | None  # None: the profile sets no abandonment cap
    strict: bool | None  # True: the rate must stay below the cap; False: at most the cap

    @property
    def rate(self) -> float | None:
        """None before the first live answer of the window."""
        return self.abandons / self.live_answers if self.live_answers else None

    @property
    def within_cap(self) -> bool | None:
        if self.cap is None or self.strict is None:
            return None
        if not self.live_answers:
            return self.abandons == 0
        rate = self.abandons / self.live_answers
        return rate < self.cap if self.strict else rate <= self.cap

    @property
    def allowance(self) -> float | None:
        """Abandons the cap allows for the window's live answers: cap x live answers."""
        return None if self.cap is None else self.cap * self.live_answers

    @property
    def abandons_left(self) -> float | None:
        """cap x live answers - abandons (negative: over the cap)."""
        allowance = self.allowance
        return None if allowance is None else allowance - self.abandons

    @property
    def share_left(self) -> float | None:
        """abandons_left / allowance: 1 = untouched, 0 = spent, < 0 = over the cap."""
        allowance, left = self.allowance, self.abandons_left
        if allowance is None or left is None or allowance <= 0:
            return None
        return left / allowance

    def to_json(self) -> dict[str, object]:
        return {
            "since": format_instant(self.since),
            "window_seconds": self.window_seconds,
            "live_answers": self.live_answers,
            "abandons": self.abandons,
            "rate": self.rate,
            "cap": self.cap,
            "strict": self.strict,
            "within_cap": self.within_cap,
            "budget": None
            if self.cap is None
            else {"abandons_left": self.abandons_left, "share_left": self.share_left},
        }


def summarize_abandonment(
    profile: Profile, now: datetime, live_answers: int, abandons: int
) -> AbandonSummary:
    """The summary of the ledger totals over `abandon_window(profile)` ending at `now`."""
    window = abandon_window(profile)
    cap = profile.abandonment
    return AbandonSummary(
        since=now - window,
        window_seconds=int(window.total_seconds()),
        live_answers=live_answers,
        abandons=abandons,
        cap=None if cap is None else cap.max_rate,
        strict=None if cap is None else cap.strict,
    )


@dataclass(frozen=True, slots=True)
class CaseSummary:
    open_cases: int
    callable_now: int
    blocked_now: int
    blocked_for_good: int  # blocked, and no number will open with time alone
    by_reason: dict[str, int]  # cases per reason, most frequent first

    def to_json(self) -> dict[str, object]:
        return {
            "open": self.open_cases,
            "callable_now": self.callable_now,
            "blocked_now": self.blocked_now,
            "blocked_for_good": self.blocked_for_good,
            "blocked_by_reason": dict(self.by_reason),
        }


@dataclass(slots=True)
class CaseTally:
    """Counts open cases as they are evaluated one by one (the store reads in chunks)."""

    profile: Profile
    now: datetime
    open_cases: int = 0
    callable_now: int = 0
    blocked_for_good: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, case: Case, history: Sequence[ContactRecord]) -> bool:
        """Evaluate every number of `case` now; returns whether one of them is callable."""
        self.open_cases += 1
        if not case.numbers:
            self.reasons[NO_NUMBER] += 1
            self.blocked_for_good += 1
            return False
        reasons: set[str] = set()
        for_good = True
        for number in case.numbers:
            decision = evaluate(self.profile, case, number.e164, history, self.now)
            if decision.allowed:
                self.callable_now += 1
                return True
            reasons.update(decision.reasons)
            # No next_allowed_at: a permanent block, or calling windows that never overlap.
            for_good = for_good and decision.next_allowed_at is None
        self.reasons.update(reasons)
        self.blocked_for_good += for_good
        return False

    def summary(self) -> CaseSummary:
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        return CaseSummary(
            open_cases=self.open_cases,
            callable_now=self.callable_now,
            blocked_now=self.open_cases - self.callable_now,
            blocked_for_good=self.blocked_for_good,
            by_reason=dict(ranked),
        )


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    campaign: str
    profile: str  # "name vN"
    now: datetime
    abandonment: AbandonSummary
    cases: CaseSummary

    def to_json(self) -> dict[str, object]:
        """The `dialer compliance report --json` document."""
        return {
            "campaign": self.campaign,
            "profile": self.profile,
            "now": format_instant(self.now),
            "abandonment": self.abandonment.to_json(),
            "cases": self.cases.to_json(),
        }


def build_report(
    campaign: str,
    profile: Profile,
    now: datetime,
    *,
    live_answers: int,
    abandons: int,
    cases: CaseTally,
) -> ComplianceReport:
    """The report of `campaign` at `now`: ledger totals over the window, and the tally."""
    return ComplianceReport(
        campaign=campaign,
        profile=profile.label,
        now=now,
        abandonment=summarize_abandonment(profile, now, live_answers, abandons),
        cases=cases.summary(),
    )
