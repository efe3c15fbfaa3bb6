"""A case's pending follow-up: a callback promised to the debtor, or a promise to pay to
check on. Whoever records a callback or a promise sets it (the web's dispositions);
the hopper supplies due follow-ups first, an ended attempt clears a fulfilled callback,
and the broken-promise rule (dialer.orchestration.reassign) turns an unkept promise into an
escalation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.tables import CaseRow

FollowupKind = Literal["callback", "promise", "broken_promise"]


class FollowupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set(self, case_id: int, kind: FollowupKind, at: datetime) -> None:
        await self.session.execute(
            update(CaseRow).where(CaseRow.id == case_id).values(followup_at=at, followup_kind=kind)
        )

    async def clear(self, case_id: int) -> None:
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(followup_at=None, followup_kind=None)
        )
