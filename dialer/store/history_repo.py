"""Append-only records: dispositions, case assignments and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.records import DispositionInfo, DispositionKind
from dialer.store.tables import Assignment, AuditLog, CaseRow, Disposition, utcnow


class DispositionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        case_id: int,
        kind: DispositionKind,
        *,
        collector_id: int | None = None,
        attempt_id: int | None = None,
        amount: Decimal | None = None,
        promise_date: date | None = None,
        callback_at: datetime | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> int:
        kind = DispositionKind(kind)  # refuses unknown kinds before the database does
        if kind is DispositionKind.PROMISE_TO_PAY and (amount is None or promise_date is None):
            raise ValueError("a promise to pay needs an amount and a date")
        if kind is DispositionKind.CALLBACK and callback_at is None:
            raise ValueError("a callback needs callback_at")
        disposition = Disposition(
            case_id=case_id,
            kind=kind.value,
            collector_id=collector_id,
            attempt_id=attempt_id,
            amount=amount,
            promise_date=promise_date,
            callback_at=callback_at,
            note=note,
            created_at=at or utcnow(),
        )
        self.session.add(disposition)
        await self.session.flush()
        return disposition.id

    async def for_case(self, case_id: int) -> list[DispositionInfo]:
        rows = await self.session.scalars(
            select(Disposition)
            .where(Disposition.case_id == case_id)
            .order_by(Disposition.created_at, Disposition.id)
        )
        return [
            DispositionInfo(
                id=row.id,
                case_id=row.case_id,
                kind=DispositionKind(row.kind),
                collector_id=row.collector_id,
                attempt_id=row.attempt_id,
                amount=row.amount,
                promise_date=row.promise_date,
                callback_at=row.callback_at,
                note=row.note,
                created_at=row.created_at,
            )
            for row in rows
        ]


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        case_id: int,
        from_collector_id: int | None,
        to_collector_id: int | None,
        reason: str,
        moved_by: str,
        at: datetime,
    ) -> int:
        """Write one line of the assignments history (the move itself is the caller's)."""
        assignment = Assignment(
            case_id=case_id,
            from_collector_id=from_collector_id,
            to_collector_id=to_collector_id,
            reason=reason,
            moved_by=moved_by,
            moved_at=at,
        )
        self.session.add(assignment)
        await self.session.flush()
        return assignment.id

    async def move(
        self, case_id: int, to_collector_id: int | None, reason: str, moved_by: str, at: datetime
    ) -> int | None:
        """Give the case to `to_collector_id` and record the move; None if already theirs."""
        current = await self.session.scalar(
            select(CaseRow.owner_collector_id).where(CaseRow.id == case_id)
        )
        if current == to_collector_id:
            return None
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(owner_collector_id=to_collector_id, updated_at=at)
        )
        return await self.record(case_id, current, to_collector_id, reason, moved_by, at)

    async def for_case(self, case_id: int) -> list[tuple[int | None, int | None, str, datetime]]:
        """(from, to, reason, moved_at) for each move of the case, oldest first."""
        rows = await self.session.execute(
            select(
                Assignment.from_collector_id,
                Assignment.to_collector_id,
                Assignment.reason,
                Assignment.moved_at,
            )
            .where(Assignment.case_id == case_id)
            .order_by(Assignment.moved_at, Assignment.id)
        )
        return list(rows.tuples())


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: str,
        action: str,
        subject: str,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> int:
        entry = AuditLog(
            actor=actor, action=action, subject=subject, old=old, new=new, at=at or utcnow()
        )
        self.session.add(entry)
        await self.session.flush()
        return entry.id
