"""What a case's priority score reads: its figures, its follow-up, and its answers per hour
of the debtor's local day.

The store gathers these (dialer.store.priority_repo) and the orchestration scores them
(dialer.orchestration.priority); they are plain values of the domain so the two sides meet
here, with no import from one to the other. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.domain.model import ContactOutcome

HOURS = 24
ANSWERED = frozenset({ContactOutcome.CONVERSATION, ContactOutcome.ANSWERED})
_ZONES: dict[str, ZoneInfo | None] = {}


@dataclass(frozen=True, slots=True)
class HourStats:
    """Attempts and live answers per hour of the debtor's local day (index 0..23)."""

    attempts: tuple[int, ...] = (0,) * HOURS
    answers: tuple[int, ...] = (0,) * HOURS

    @classmethod
    def learn(
        cls, records: Iterable[tuple[datetime, ContactOutcome]], zone: str | None
    ) -> HourStats:
        """Count (dialed at, outcome) records by the debtor's local hour."""
        attempts = [0] * HOURS
        answers = [0] * HOURS
        tz = local_zone(zone)
        for at, outcome in records:
            hour = (at.astimezone(tz) if tz is not None else at).hour
            attempts[hour] += 1
            if outcome in ANSWERED:
                answers[hour] += 1
        return cls(tuple(attempts), tuple(answers))

    def rates(self, prior: float, strength: float) -> list[float]:
        """Answer rate per hour, each pulled towards `prior` by `strength` pseudo-attempts."""
        return [
            (a + strength * prior) / (n + strength) if n + strength > 0 else prior
            for n, a in zip(self.attempts, self.answers, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class PriorityInputs:
    """What the score reads of one case (the store gathers it: dialer.store.priority_repo)."""

    case_id: int
    days_past_due: int
    balance: Decimal | float
    bucket: str
    timezone: str | None = None
    followup_at: datetime | None = None
    followup_kind: str | None = None  # callback | promise | broken_promise
    last_contact_at: datetime | None = None  # last live answer
    hours: HourStats | None = None


def local_zone(name: str | None) -> ZoneInfo | None:
    """The zone called `name`, or None when absent or unknown (cached)."""
    if not name:
        return None
    if name not in _ZONES:
        try:
            _ZONES[name] = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            _ZONES[name] = None
    return _ZONES[name]
