"""Cases and their numbers: bulk upsert from imports, hopper candidates, flags and schedule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Select, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.compliance import dialable
from dialer.domain.model import (
    Bucket,
    Case,
    CaseFlag,
    CaseStatus,
    DialTarget,
    NumberType,
    PhoneNumber,
)
from dialer.store.attempts_repo import contact_history
from dialer.store.batches import chunks
from dialer.store.crypto import blind_index
from dialer.store.records import CaseDetail, NewCase, UpsertResult
from dialer.store.tables import Campaign, CaseNumber, CaseRow, Collector, Team, utcnow

HISTORY_DAYS = 8  # covers the longest look-back of any rule (Reg F: 7 days) plus a margin
_CALLABLE_STATUSES = (CaseStatus.OPEN.value, CaseStatus.PROMISED.value)
_FLAG_COLUMNS = {
    CaseFlag.DO_NOT_CALL: CaseRow.do_not_call,
    CaseFlag.CEASE_COMMUNICATION: CaseRow.cease_communication,
    CaseFlag.DISPUTED: CaseRow.disputed,
    CaseFlag.DEBTOR_UNREACHABLE: CaseRow.debtor_unreachable,
}
# Imports may raise these flags but never lower them: a debtor's request to stop calling
# outlives any re-import of the portfolio.
_STICKY_FLAGS = ("do_not_call", "cease_communication", "disputed")
# The sealed identity: a re-import sets what its row gives and keeps the rest.
IDENTITY_COLUMNS = ("debtor_name", "account_ref", "date_of_birth", "postcode", "address")
# What a re-import overwrites outright.
_IMPORTED_COLUMNS = (
    *("display_name_masked", "timezone", "balance", "currency", "days_past_due"),
    *("bucket", "skills", "updated_at"),
)


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_many(
        self, campaign_id: int, rows: Sequence[NewCase], now: datetime | None = None
    ) -> UpsertResult:
        """Insert new cases and update existing ones (same campaign and debtor_ref).

        On update, numbers are replaced, but a number's do-not-call mark and a withdrawn
        consent carry over; flags are only ever raised; owner and team change only when
        the row names one (the reassigner may have moved the case since the last import);
        status, priority and schedule are left alone.
        """
        refs = [row.debtor_ref for row in rows]
        if len(set(refs)) != len(refs):
            raise ValueError("duplicate debtor_ref in one upsert")
        if not rows:
            return UpsertResult(inserted=0, updated=0)
        now = now or utcnow()
        existing = await self._existing_ids(campaign_id, refs)
        old_numbers = await self._numbers_state(list(existing.values()))
        # One INSERT ... ON CONFLICT DO UPDATE, sent in multi-row batches: an UPDATE per
        # existing case costs a round trip each on PostgreSQL.
        result = await self.session.execute(
            self._upsert_statement().returning(CaseRow.id, CaseRow.debtor_ref),
            [_insert_values(campaign_id, row, now) for row in rows],
        )
        ids = {ref: case_id for case_id, ref in result.tuples()}
        for chunk in chunks(list(existing.values())):
            await self.session.execute(delete(CaseNumber).where(CaseNumber.case_id.in_(chunk)))
        numbers = [
            _number_values(ids[row.debtor_ref], position, number, old_numbers)
            for row in rows
            for position, number in enumerate(row.numbers)
        ]
        if numbers:
            await self.session.execute(insert(CaseNumber), numbers)
        return UpsertResult(inserted=len(rows) - len(existing), updated=len(existing))

    def _upsert_statement(self) -> Insert:
        dialect = self.session.get_bind().dialect.name
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(CaseRow)
        new = statement.excluded
        updates: dict[str, Any] = {column: new[column] for column in _IMPORTED_COLUMNS}
        for column in ("owner_collector_id", "team_id", *IDENTITY_COLUMNS):
            updates[column] = func.coalesce(new[column], CaseRow.__table__.c[column])
        for flag in _STICKY_FLAGS:
            updates[flag] = or_(CaseRow.__table__.c[flag], new[flag])
        return statement.on_conflict_do_update(
            index_elements=["campaign_id", "debtor_ref"], set_=updates
        )

    async def _existing_ids(self, campaign_id: int, refs: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in chunks(refs):
            result = await self.session.execute(
                select(CaseRow.debtor_ref, CaseRow.id).where(
                    CaseRow.campaign_id == campaign_id, CaseRow.debtor_ref.in_(chunk)
                )
            )
            # Not found.update(result): a Result has keys(), so update would treat it as a mapping.
            found.update((ref, case_id) for ref, case_id in result.tuples())
        return found

    async def _numbers_state(
        self, case_ids: Sequence[int]
    ) -> dict[tuple[int, str], tuple[bool, bool]]:
        """(case id, number) -> (dnc, consent), for numbers marked DNC or without consent."""
        state: dict[tuple[int, str], tuple[bool, bool]] = {}
        for chunk in chunks(case_ids):
            result = await self.session.execute(
                select(CaseNumber.case_id, CaseNumber.e164, CaseNumber.dnc, CaseNumber.consent)
                .where(CaseNumber.case_id.in_(chunk))
                .where(or_(CaseNumber.dnc.is_(True), CaseNumber.consent.is_(False)))
            )
            for case_id, e164, dnc, consent in result.tuples():
                state[(case_id, e164)] = (dnc, consent)
        return state

    async def count_by_campaign(self) -> dict[str, int]:
        """Number of cases per campaign name (campaigns without cases included, as 0)."""
        result = await self.session.execute(
            select(Campaign.name, func.count(CaseRow.id))
            .outerjoin(CaseRow, CaseRow.campaign_id == Campaign.id)
            .group_by(Campaign.name)
        )
        return {name: int(count) for name, count in result.tuples()}

    async def count_by_status(self, campaign_id: int) -> dict[CaseStatus, int]:
        result = await self.session.execute(
            select(CaseRow.status, func.count())
            .where(CaseRow.campaign_id == campaign_id)
            .group_by(CaseRow.status)
        )
        return {CaseStatus(status): int(count) for status, count in result.tuples()}

    async def get(self, case_id: int) -> CaseDetail | None:
        result = await self.session.execute(_case_query().where(CaseRow.id == case_id))
        row = result.tuples().first()
        if row is None:
            return None
        case_row, owner, team = row
        numbers = await self._numbers([case_id])
        case = _domain_case(case_row, owner, team, numbers.get(case_id, ()))
        return CaseDetail(
            id=case_row.id,
            campaign_id=case_row.campaign_id,
            debtor_ref=case_row.debtor_ref,
            display_name_masked=case_row.display_name_masked,
            currency=case_row.currency,
            bucket=Bucket(case_row.bucket),
            status=CaseStatus(case_row.status),
            next_attempt_at=case_row.next_attempt_at,
            lease_owner=case_row.lease_owner,
            lease_expires_at=case_row.lease_expires_at,
            created_at=case_row.created_at,
            updated_at=case_row.updated_at,
            case=case,
        )

    async def id_for_ref(self, campaign_id: int, debtor_ref: str) -> int | None:
        case_id: int | None = await self.session.scalar(
            select(CaseRow.id).where(
                CaseRow.campaign_id == campaign_id, CaseRow.debtor_ref == debtor_ref
            )
        )
        return case_id

    async def candidates(self, campaign_id: int, now: datetime, limit: int) -> list[DialTarget]:
        """Cases of the campaign that may be dialed now, by priority (then id), with history.

        Excluded here: closed or paid cases, any flag, a next attempt still in the future,
        a live lease held by some daemon, and cases without a number that has consent and
        is not marked do-not-call. Compliance re-checks everything on the returned targets.
        """
        dialable_number = exists().where(
            CaseNumber.case_id == CaseRow.id,
            CaseNumber.consent.is_(True),
            CaseNumber.dnc.is_(False),
            CaseNumber.type != NumberType.THIRD_PARTY_REFUSED.value,
        )
        query = (
            _case_query()
            .where(
                CaseRow.campaign_id == campaign_id,
                CaseRow.status.in_(_CALLABLE_STATUSES),
                *(column.is_(False) for column in _FLAG_COLUMNS.values()),
                or_(CaseRow.next_attempt_at.is_(None), CaseRow.next_attempt_at <= now),
                or_(CaseRow.lease_expires_at.is_(None), CaseRow.lease_expires_at <= now),
                dialable_number,
            )
            .order_by(CaseRow.priority.desc(), CaseRow.id)
            .limit(limit)
        )
        rows = list((await self.session.execute(query)).tuples())
        ids = [case_row.id for case_row, _, _ in rows]
        numbers = await self._numbers(ids)
        history = await contact_history(self.session, ids, now - timedelta(days=HISTORY_DAYS))
        targets = []
        for case_row, owner, team in rows:
            case = _domain_case(case_row, owner, team, numbers.get(case_row.id, ()))
            number = next(n.e164 for n in case.numbers if dialable(n))
            targets.append(DialTarget(case, number, history.get(case_row.id, ())))
        return targets

    async def set_next_attempt(self, case_id: int, at: datetime | None) -> None:
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(next_attempt_at=at, updated_at=utcnow())
        )

    async def set_priority(self, case_id: int, priority: float) -> None:
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(priority=priority, updated_at=utcnow())
        )

    async def set_lease(self, case_id: int, owner: str | None, expires_at: datetime | None) -> None:
        """Mark the case as held by daemon `owner` until `expires_at` (None: release)."""
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(lease_owner=owner, lease_expires_at=expires_at)
        )

    async def set_status(self, case_id: int, status: CaseStatus) -> None:
        await self.session.execute(
            update(CaseRow)
            .where(CaseRow.id == case_id)
            .values(status=status.value, updated_at=utcnow())
        )

    async def set_flags(
        self,
        case_id: int,
        *,
        do_not_call: bool | None = None,
        cease_communication: bool | None = None,
        disputed: bool | None = None,
        debtor_unreachable: bool | None = None,
    ) -> None:
        """Set the flags given (None leaves a flag as it is)."""
        given = {
            "do_not_call": do_not_call,
            "cease_communication": cease_communication,
            "disputed": disputed,
            "debtor_unreachable": debtor_unreachable,
        }
        values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if values:
            values["updated_at"] = utcnow()
            await self.session.execute(
                update(CaseRow).where(CaseRow.id == case_id).values(**values)
            )

    async def set_number_dnc(self, case_id: int, e164: str, dnc: bool = True) -> None:
        await self.session.execute(
            update(CaseNumber)
            .where(and_(CaseNumber.case_id == case_id, CaseNumber.e164_index == blind_index(e164)))
            .values(dnc=dnc)
        )

    async def _numbers(self, case_ids: Sequence[int]) -> dict[int, tuple[PhoneNumber, ...]]:
        numbers: dict[int, list[PhoneNumber]] = defaultdict(list)
        for chunk in chunks(case_ids):
            result = await self.session.scalars(
                select(CaseNumber)
                .where(CaseNumber.case_id.in_(chunk))
                .order_by(CaseNumber.case_id, CaseNumber.position)
            )
            for row in result:
                numbers[row.case_id].append(
                    PhoneNumber(row.e164, NumberType(row.type), row.consent, row.dnc)
                )
        return {case_id: tuple(found) for case_id, found in numbers.items()}


def _case_query() -> Select[tuple[CaseRow, str, str]]:
    # Owner and team come from outer joins: both may be None despite the inferred type.
    return (
        select(CaseRow, Collector.username, Team.name)
        .outerjoin(Collector, Collector.id == CaseRow.owner_collector_id)
        .outerjoin(Team, Team.id == CaseRow.team_id)
    )


def _domain_case(
    row: CaseRow, owner: str | None, team: str | None, numbers: tuple[PhoneNumber, ...]
) -> Case:
    """The core's view; `ref` is the case id as text, owner and team are names."""
    return Case(
        ref=str(row.id),
        numbers=numbers,
        timezone=row.timezone,
        flags=frozenset(flag for flag, col in _FLAG_COLUMNS.items() if getattr(row, col.key)),
        owner=owner,
        team=team,
        skills=frozenset(row.skills),
        balance=row.balance,
        days_past_due=row.days_past_due,
        priority=row.priority,
    )


def _insert_values(campaign_id: int, row: NewCase, now: datetime) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "debtor_ref": row.debtor_ref,
        "status": CaseStatus.OPEN.value,
        "priority": 0.0,
        "debtor_unreachable": False,
        "created_at": now,
        "display_name_masked": row.display_name_masked,
        "timezone": row.timezone,
        "balance": row.balance,
        "currency": row.currency,
        "days_past_due": row.days_past_due,
        "bucket": row.bucket.value,
        "skills": list(row.skills),
        "updated_at": now,
        "owner_collector_id": row.owner_collector_id,
        "team_id": row.team_id,
        "do_not_call": row.do_not_call,
        "cease_communication": row.cease_communication,
        "disputed": row.disputed,
        **_identity_values(row),
    }


def _identity_values(row: NewCase) -> dict[str, str | None]:
    """The identity columns' clear values (sealed by the column type on the way in)."""
    who = row.identity
    if who is None:
        return dict.fromkeys(IDENTITY_COLUMNS)
    born = who.date_of_birth.isoformat() if who.date_of_birth is not None else None
    values = (who.name, who.account_ref, born, who.postcode, who.address)
    return dict(zip(IDENTITY_COLUMNS, values, strict=True))


def _number_values(
    case_id: int,
    position: int,
    number: PhoneNumber,
    old: dict[tuple[int, str], tuple[bool, bool]],
) -> dict[str, Any]:
    old_dnc, old_consent = old.get((case_id, number.e164), (False, True))
    return {
        "case_id": case_id,
        "e164": number.e164,  # sealed by its column type
        "e164_index": blind_index(number.e164),
        "type": number.type.value,
        "consent": number.consent and old_consent,
        "dnc": number.dnc or old_dnc,
        "position": position,
    }
