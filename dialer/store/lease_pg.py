"""The PostgreSQL fast path of a hopper refill, on the session's asyncpg connection.

Same statements and semantics as `lease_repo.LeaseRepository.lock` / `take`, `numbers_of`
and `history_of`, without SQLAlchemy's per-row result handling: on a 500-case refill that
handling costs about 3 ms per statement, a sixth of the refill (benchmarks/
bench_orchestration.py). Only plain values cross the boundary (aware UTC datetimes,
Decimals, ints, strings); SQLAlchemy never sees these statements, so its connection
adapter neither begins nor ends a transaction for them: `Lease` does, on asyncpg.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.model import ContactRecord, NumberType, PhoneNumber
from dialer.store.attempts_repo import contact_outcome
from dialer.store.crypto import keyring
from dialer.store.inbound_repo import inbound_contacts, merged
from dialer.store.lease_repo import LeasedCase
from dialer.store.tables import READY_PREDICATE, utcnow

_COLUMNS = (
    "id, timezone, owner_collector_id, team_id, skills, balance, days_past_due, priority, "
    "followup_at, followup_kind"
)
_FREE = "(lease_owner IS NULL OR lease_expires_at <= $2)"
_LOCK_DUE = (
    f"SELECT {_COLUMNS} FROM cases WHERE campaign_id = $1 AND {READY_PREDICATE} AND {_FREE} "
    "AND followup_at <= $2 ORDER BY followup_at, id LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED"
)
_LOCK_READY = (
    f"SELECT {_COLUMNS} FROM cases WHERE campaign_id = $1 AND {READY_PREDICATE} AND {_FREE} "
    "AND NOT (id = ANY($4::integer[])) ORDER BY priority DESC, id DESC LIMIT $3 "
    "FOR NO KEY UPDATE SKIP LOCKED"
)
_TAKE = (
    "UPDATE cases SET lease_owner = $2, lease_expires_at = $3, updated_at = $4 "
    "WHERE id = ANY($1::integer[])"
)
_NUMBERS = (
    "SELECT case_id, e164, type, consent, dnc FROM case_numbers "
    "WHERE case_id = ANY($1::integer[]) ORDER BY case_id, position"
)
_HISTORY = (
    "SELECT case_id, dialed_at, number_e164, outcome FROM call_attempts "
    "WHERE case_id = ANY($1::integer[]) AND dialed_at >= $2 ORDER BY case_id, dialed_at, id"
)


async def driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection (checked out of the pool for the session's life)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


class Lease:
    """One lease transaction on asyncpg: `lock` then `take`, then `commit` or `rollback`."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.transaction: Any = None

    async def lock(
        self, campaign_id: int, now: datetime, limit: int, *, followups: bool
    ) -> list[LeasedCase]:
        self.transaction = self.db.transaction()
        await self.transaction.start()
        found: list[LeasedCase] = []
        if followups:
            found = _leased(await self.db.fetch(_LOCK_DUE, campaign_id, now, limit))
        if len(found) < limit:
            taken = [case.id for case in found]
            rows = await self.db.fetch(_LOCK_READY, campaign_id, now, limit - len(found), taken)
            found += _leased(rows)
        return found

    async def take(self, case_ids: Sequence[int], owner: str, until: datetime) -> None:
        if case_ids:
            await self.db.execute(_TAKE, list(case_ids), owner, until, utcnow())

    async def commit(self) -> None:
        if self.transaction is not None:
            await self.transaction.commit()

    async def rollback(self) -> None:
        if self.transaction is not None:
            await self.transaction.rollback()


async def numbers_of(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[PhoneNumber, ...]]:
    # Raw statements skip the column type: numbers are opened here, for the engine to dial.
    found: dict[int, list[PhoneNumber]] = {}
    opener = keyring()
    for case_id, sealed, kind, consent, dnc in await (await driver(session)).fetch(
        _NUMBERS, list(ids)
    ):
        e164 = opener.open(sealed, "case_numbers.e164")
        found.setdefault(case_id, []).append(PhoneNumber(e164, NumberType(kind), consent, dnc))
    return {case_id: tuple(numbers) for case_id, numbers in found.items()}


async def history_of(
    session: AsyncSession, ids: Sequence[int], since: datetime
) -> dict[int, tuple[ContactRecord, ...]]:
    found: dict[int, list[ContactRecord]] = {}
    opener = keyring()
    for case_id, at, sealed, outcome in await (await driver(session)).fetch(
        _HISTORY, list(ids), since
    ):
        number = opener.open(sealed, "call_attempts.number_e164")
        found.setdefault(case_id, []).append(ContactRecord(at, number, contact_outcome(outcome)))
    return merged(found, await inbound_contacts(session, ids, since))  # a few rows: ORM


def _leased(rows: Sequence[Any]) -> list[LeasedCase]:
    return [
        LeasedCase(
            id=r[0],
            timezone=r[1],
            owner_id=r[2],
            team_id=r[3],
            skills=tuple(json.loads(r[4]) if isinstance(r[4], str) else (r[4] or ())),
            balance=r[5],
            days_past_due=r[6],
            priority=r[7],
            followup_at=r[8],
            followup_kind=r[9],
        )
        for r in rows
    ]
