"""What an account has done that the store must keep: whether it may be deleted.

No table references `users` by key (dialer.store.tables.User), so deleting the row breaks
no constraint; what it would break is the record. The audit log names its actors and the
assignments their movers by username, and a collector account's calls and dispositions
are its collector's: with the account gone, its name could be given to somebody else and
the records would then point at the wrong person. So an account with any of these is kept
(disable it instead); one without (set up by mistake, never used) may go. The collector
row itself is never deleted with an account: it owns cases and keeps their history.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.tables import Assignment, AuditLog, Base, CallAttempt, Disposition


@dataclass(frozen=True, slots=True)
class AccountHistory:
    audit_entries: int  # audit rows the account wrote (it is their actor)
    assignments: int  # cases it moved between collectors
    attempts: int  # calls its collector took
    dispositions: int  # outcomes its collector recorded

    @property
    def empty(self) -> bool:
        return not (self.audit_entries or self.assignments or self.attempts or self.dispositions)

    def describe(self) -> str:
        """The records, in words ("3 audit entries, 12 call attempts")."""
        parts = [
            (self.audit_entries, "audit entry", "audit entries"),
            (self.assignments, "case assignment", "case assignments"),
            (self.attempts, "call attempt", "call attempts"),
            (self.dispositions, "disposition", "dispositions"),
        ]
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def history(self, username: str, collector_row: int | None) -> AccountHistory:
        audit = await self._count(AuditLog, AuditLog.actor == username)
        moved = await self._count(Assignment, Assignment.moved_by == username)
        attempts = dispositions = 0
        if collector_row is not None:
            attempts = await self._count(CallAttempt, CallAttempt.collector_id == collector_row)
            dispositions = await self._count(Disposition, Disposition.collector_id == collector_row)
        return AccountHistory(audit, moved, attempts, dispositions)

    async def _count(self, table: type[Base], condition: ColumnElement[bool]) -> int:
        found = await self.session.scalar(select(func.count()).select_from(table).where(condition))
        return int(found or 0)
