"""Case priority: a configurable, explainable score.

A case's priority is a sum of points, one term per component, each a normalised value
(0..1) times a configured weight (`orchestration.priority` in the settings):
- days_past_due: DPD up to a cap, linear;
- balance: log scale up to a cap;
- bucket: points per delinquency bucket (M1, M2, ...);
- callback_due: a callback promised to the debtor is due;
- promise_due / promise_broken: a promise to pay reached its follow-up, or was broken;
- since_contact: time since the last live contact, full points after N days (or never);
- best_hour: how good the current hour of the debtor's day is for this case, learned from
  past answers per local hour (Beta-smoothed towards the campaign's answer rate): the
  answer rate now divided by the rate at the case's best hour.
`score` returns the total and each component with its input, so the manager page and
`Score.explain()` can say why a case comes before another. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.domain.priority_inputs import HOURS, HourStats, PriorityInputs, local_zone
from dialer.orchestration.settings import PriorityWeights


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    value: float  # the normalised input, 0..1
    weight: float
    detail: str

    @property
    def points(self) -> float:
        return self.value * self.weight


@dataclass(frozen=True, slots=True)
class Score:
    case_id: int
    total: float
    components: tuple[Component, ...]

    def explain(self) -> str:
        """One line per component that contributes, largest first."""
        lines = [f"priority {self.total:.1f}"]
        for c in sorted(self.components, key=lambda c: -abs(c.points)):
            if c.points:
                lines.append(f"  {c.points:+7.1f}  {c.name}: {c.detail}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "case_id": self.case_id,
            "total": self.total,
            "components": [
                {
                    "name": c.name,
                    "value": c.value,
                    "weight": c.weight,
                    "points": c.points,
                    "detail": c.detail,
                }
                for c in self.components
            ],
        }


class PriorityModel:
    """Scores cases with the configured weights; `prior` is the campaign's answer rate."""

    def __init__(self, weights: PriorityWeights, prior: float = 0.3) -> None:
        self.w = weights
        self.prior = min(max(prior, 1e-3), 1.0)
        self._log_cap = math.log1p(weights.balance_cap)

    def with_prior(self, prior: float) -> PriorityModel:
        return PriorityModel(self.w, prior)

    def score(self, case: PriorityInputs, now: datetime) -> Score:
        w = self.w
        dpd = max(case.days_past_due, 0)
        balance = float(case.balance)
        components = [
            Component(
                "days_past_due",
                min(dpd / w.dpd_cap_days, 1.0),
                w.days_past_due,
                f"{dpd} days past due (full at {w.dpd_cap_days})",
            ),
            Component(
                "balance",
                min(math.log1p(max(balance, 0.0)) / self._log_cap, 1.0),
                w.balance,
                f"balance {balance:,.2f} (log scale, full at {w.balance_cap:,.0f})",
            ),
            Component("bucket", 1.0, w.bucket.get(case.bucket, 0.0), f"bucket {case.bucket}"),
            *self._followup(case, now),
            self._since_contact(case, now),
            self._best_hour(case, now),
        ]
        return Score(case.case_id, sum(c.points for c in components), tuple(components))

    def scores(self, cases: Iterable[PriorityInputs], now: datetime) -> list[Score]:
        return [self.score(case, now) for case in cases]

    def _followup(self, case: PriorityInputs, now: datetime) -> list[Component]:
        w = self.w
        due = case.followup_at is not None and case.followup_at <= now
        kind = case.followup_kind
        when = "" if case.followup_at is None else f" at {case.followup_at:%Y-%m-%d %H:%M}Z"
        return [
            Component(
                "callback_due",
                float(kind == "callback" and due),
                w.callback_due,
                f"callback due{when}" if kind == "callback" else "no callback due",
            ),
            Component(
                "promise_due",
                float(kind == "promise" and due),
                w.promise_due,
                f"promise follow-up due{when}" if kind == "promise" else "no promise due",
            ),
            Component(
                "promise_broken",
                float(kind == "broken_promise"),
                w.promise_broken,
                "promise broken" if kind == "broken_promise" else "no broken promise",
            ),
        ]

    def _since_contact(self, case: PriorityInputs, now: datetime) -> Component:
        w = self.w
        if case.last_contact_at is None:
            return Component("since_contact", 1.0, w.since_contact, "never reached")
        days = max((now - case.last_contact_at) / timedelta(days=1), 0.0)
        value = min(days / w.since_contact_days, 1.0)
        return Component(
            "since_contact",
            value,
            w.since_contact,
            f"last reached {days:.1f} days ago (full at {w.since_contact_days:g})",
        )

    def _best_hour(self, case: PriorityInputs, now: datetime) -> Component:
        w = self.w
        hours = case.hours or HourStats()
        rates = hours.rates(self.prior, w.hour_prior_strength)
        tz = local_zone(case.timezone)
        hour = (now.astimezone(tz) if tz is not None else now).hour
        best = max(range(HOURS), key=lambda h: (rates[h], -h))
        value = rates[hour] / rates[best] if rates[best] > 0 else 1.0
        seen = sum(hours.attempts)
        return Component(
            "best_hour",
            value,
            w.best_hour,
            f"answer rate {rates[hour]:.2f} at {hour:02d}h local vs {rates[best]:.2f} at the "
            f"best hour {best:02d}h ({seen} attempts learned)",
        )


def campaign_prior(attempts: int, answers: int, default: float = 0.3) -> float:
    """The campaign's live-answer rate, the prior every case's hours shrink towards."""
    return answers / attempts if attempts >= 20 else default


def order(scores: Iterable[Score]) -> list[Score]:
    """Highest first; ties by case id, newest first (the hopper's order)."""
    return sorted(scores, key=lambda s: (-s.total, -s.case_id))


def totals(scores: Iterable[Score]) -> Mapping[int, float]:
    return {s.case_id: s.total for s in scores}
