"""Clear reads of a debtor's identity, each one written to the access audit.

The identity (name, account reference, date of birth, postcode, address) is sealed at
rest; this is the one place that reads it back in the clear, and it writes who read which
case, when and why in the same transaction. The callers decide who may read
(dialer.web.collector_ops: the collector the call is routed to, managers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.records import DebtorIdentity
from dialer.store.tables import AccessAudit, CaseRow, utcnow

ROUTED_CALL = "routed_call"  # the collector the call to the case is routed to
MANAGER_VIEW = "manager_view"  # a manager opening the case
RECORDING_PLAY = "recording_play"  # a manager playing a call's recording (recordings_repo)
REASONS = (ROUTED_CALL, MANAGER_VIEW)  # the reasons `read` takes


@dataclass(frozen=True, slots=True)
class AccessRecord:
    at: datetime
    actor: str
    role: str
    case_id: int
    reason: str


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def read(
        self, case_id: int, *, actor: str, role: str, reason: str, now: datetime | None = None
    ) -> DebtorIdentity | None:
        """The case's identity in the clear (None: no such case), audited."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason for a clear read: {reason!r}")
        result = await self.session.execute(
            select(
                CaseRow.debtor_name,
                CaseRow.account_ref,
                CaseRow.date_of_birth,
                CaseRow.postcode,
                CaseRow.address,
            ).where(CaseRow.id == case_id)
        )
        row = result.tuples().first()
        if row is None:
            return None
        await self.session.execute(
            insert(AccessAudit).values(
                at=now or utcnow(), actor=actor, role=role, case_id=case_id, reason=reason
            )
        )
        name, account_ref, born, postcode, address = row
        return DebtorIdentity(
            name=name,
            account_ref=account_ref,
            date_of_birth=date.fromisoformat(born) if born else None,
            postcode=postcode,
            address=address,
        )

    async def audit_of(self, case_id: int) -> list[AccessRecord]:
        """Who read the case's identity in the clear, oldest first."""
        rows = await self.session.scalars(
            select(AccessAudit)
            .where(AccessAudit.case_id == case_id)
            .order_by(AccessAudit.at, AccessAudit.id)
        )
        return [AccessRecord(r.at, r.actor, r.role, r.case_id, r.reason) for r in rows]
