"""The day's work of a campaign's collectors, for the manager's wallboard: per collector
the contacts (calls bridged to them), right-party contacts (conversations not dispositioned
`wrong_party`), promises to pay and their total, and the talk seconds, in one grouped
query (collectors joined to two aggregates), not a query per collector.

Attempts count by when they were dialed, promises (and wrong-party marks) by when they
were recorded, on the cases the campaign dialed in that span: both ranges ride the
indexes the store already has (call_attempts by campaign and dial time, dispositions by
case and time); the span's dispositions are read once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.tables import CallAttempt, Collector, Disposition, Team

CONVERSATION = "conversation"
WRONG_PARTY = "wrong_party"
PROMISE = "promise_to_pay"


@dataclass(frozen=True, slots=True)
class CollectorDay:
    """One collector's figures over a span of the campaign's day."""

    username: str
    team: str | None
    contacts: int  # calls bridged to them
    right_party: int  # conversations not dispositioned wrong party
    promises: int
    promised_amount: Decimal
    talk_seconds: float


class FloorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def day(self, campaign_id: int, start: datetime, end: datetime) -> list[CollectorDay]:
        """Every collector with an attempt or a promise in [start, end), by username."""
        a, d = CallAttempt, Disposition
        span = and_(a.campaign_id == campaign_id, a.dialed_at >= start, a.dialed_at < end)
        # The span's dispositions, found through the cases it dialed (the case-and-time
        # index), read once: both the wrong-party marks and the promises come from here.
        dialed_cases = select(a.case_id).where(span).distinct()
        said = (
            select(d.attempt_id, d.collector_id, d.kind, d.amount)
            .where(d.case_id.in_(dialed_cases), d.created_at >= start, d.created_at < end)
            .cte("said")
        )
        wrong = select(said.c.attempt_id).where(
            said.c.kind == WRONG_PARTY, said.c.attempt_id.is_not(None)
        )
        attempts = (
            select(
                a.collector_id.label("collector_id"),
                func.count(a.bridged_at).label("contacts"),
                func.sum(
                    case((and_(a.outcome == CONVERSATION, a.id.not_in(wrong)), 1), else_=0)
                ).label("right_party"),
                func.sum(func.coalesce(a.talk_seconds, 0.0)).label("talk"),
            )
            .where(span, a.collector_id.is_not(None))
            .group_by(a.collector_id)
            .subquery()
        )
        promises = (
            select(
                said.c.collector_id.label("collector_id"),
                func.count().label("promises"),
                func.sum(said.c.amount).label("amount"),
            )
            .where(said.c.kind == PROMISE, said.c.collector_id.is_not(None))
            .group_by(said.c.collector_id)
            .subquery()
        )
        query = (
            select(
                Collector.username,
                Team.name,
                func.coalesce(attempts.c.contacts, 0),
                func.coalesce(attempts.c.right_party, 0),
                func.coalesce(promises.c.promises, 0),
                func.coalesce(promises.c.amount, literal(0)),
                func.coalesce(attempts.c.talk, 0.0),
            )
            .select_from(Collector)
            .outerjoin(Team, Team.id == Collector.team_id)
            .outerjoin(attempts, attempts.c.collector_id == Collector.id)
            .outerjoin(promises, promises.c.collector_id == Collector.id)
            .where((attempts.c.collector_id.is_not(None)) | (promises.c.collector_id.is_not(None)))
            .order_by(Collector.username)
        )
        rows = await self.session.execute(query)
        return [
            CollectorDay(
                username,
                team,
                int(contacts),
                int(right_party),
                int(count),
                Decimal(str(amount)).quantize(Decimal("0.01")),
                float(talk),
            )
            for username, team, contacts, right_party, count, amount, talk in rows.tuples()
        ]
