"""Housekeeping for scheduled jobs: retention of attempt records, follow-ups coming due,
and a lock so that one daemon of several runs a store-wide job at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.store.tables import CallAttempt, CaseRow

_KEY = text("SELECT hashtext(current_schema() || ':' || CAST(:name AS text))")


class MaintenanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete_attempts_before(self, cutoff: datetime, batch: int = 10_000) -> int:
        """Delete up to `batch` attempt records dialed before `cutoff` (oldest first);
        dispositions that pointed at them keep their text (attempt_id becomes null)."""
        ids = (
            select(CallAttempt.id)
            .where(CallAttempt.dialed_at < cutoff)
            .order_by(CallAttempt.dialed_at)
            .limit(batch)
        )
        result = await self.session.execute(
            delete(CallAttempt).where(CallAttempt.id.in_(ids.scalar_subquery())),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def followups_due(
        self, campaign_ids: Sequence[int], after: datetime, until: datetime
    ) -> list[int]:
        """Cases whose follow-up came due in (after, until]."""
        rows = await self.session.scalars(
            select(CaseRow.id).where(
                CaseRow.campaign_id.in_(list(campaign_ids)),
                CaseRow.followup_at > after,
                CaseRow.followup_at <= until,
            )
        )
        return list(rows)


@asynccontextmanager
async def exclusive(sessions: async_sessionmaker[AsyncSession], name: str) -> AsyncIterator[bool]:
    """Yields True when this daemon may run the store-wide job `name` now: on PostgreSQL
    a session advisory lock (another daemon holding it means False); SQLite: always."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield True
            return
        # One key per schema and job: daemons of another schema (tenant, test) don't clash.
        key = await session.scalar(_KEY, {"name": f"dialer.job.{name}"})
        got = bool(await session.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        try:
            yield got
        finally:
            if got:
                await session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
