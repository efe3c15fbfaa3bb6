"""Case ownership for the reassigner: people, workloads, movable cases, and moves that
are applied and written to the assignments history in one step.

A case is movable when no daemon holds a live lease on it (a leased case is in some
hopper or on a call). `apply` re-checks that, and the expected current owner, in the
UPDATE itself, so a case leased or moved by someone else meanwhile is left alone; only
the moves that happened are recorded. On PostgreSQL the whole batch is one statement
(UPDATE ... FROM unnest(...) feeding an INSERT INTO assignments).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.tables import Assignment, CaseRow, Collector, Team

_IN_CHUNK = 1000
_OPEN = ("open", "promised")
FOLLOWUPS = ("callback", "promise", "broken_promise")
CASES = cast(Table, CaseRow.__table__)
_PG_APPLY = text(
    """
WITH v AS (
    SELECT * FROM unnest(
        CAST(:ids AS integer[]), CAST(:froms AS integer[]), CAST(:tos AS integer[]),
        CAST(:teams AS integer[]), CAST(:reasons AS varchar[])
    ) AS v(id, from_id, to_id, team_id, reason)
), moved AS (
    UPDATE cases AS c
    SET owner_collector_id = v.to_id, team_id = COALESCE(v.team_id, c.team_id),
        updated_at = CAST(:now AS timestamptz)
    FROM v
    WHERE c.id = v.id
      AND c.owner_collector_id IS NOT DISTINCT FROM v.from_id
      AND (c.lease_owner IS NULL OR c.lease_expires_at <= CAST(:now AS timestamptz))
    RETURNING c.id, v.from_id, v.to_id, v.reason
)
INSERT INTO assignments (case_id, from_collector_id, to_collector_id, reason, moved_at, moved_by)
SELECT id, from_id, to_id, reason, CAST(:now AS timestamptz), CAST(:by AS varchar)
FROM moved
RETURNING case_id
"""
)


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    username: str
    team_id: int | None
    skills: frozenset[str]
    is_senior: bool
    max_cases: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class Movable:
    case_id: int
    campaign_id: int
    owner_id: int | None
    team_id: int | None
    skills: frozenset[str]
    followup_kind: str | None
    followup_at: datetime | None


@dataclass(frozen=True, slots=True)
class Move:
    case_id: int
    campaign_id: int
    from_id: int | None
    to_id: int | None
    rule: str
    detail: str
    to_team_id: int | None = None  # set when the case changes team too

    @property
    def reason(self) -> str:
        return f"{self.rule}: {self.detail}"[:200]


def unleased(now: datetime) -> Any:
    return or_(CaseRow.lease_owner.is_(None), CaseRow.lease_expires_at <= now)


def _movable_query() -> Any:
    return select(
        CaseRow.id,
        CaseRow.campaign_id,
        CaseRow.owner_collector_id,
        CaseRow.team_id,
        CaseRow.skills,
        CaseRow.followup_kind,
        CaseRow.followup_at,
    )


def _movables(rows: Iterable[Any]) -> list[Movable]:
    return [
        Movable(case_id, campaign_id, owner, team, frozenset(skills or ()), kind, at)
        for case_id, campaign_id, owner, team, skills, kind, at in rows
    ]


class ReassignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def people(self, *, team_ids: Iterable[int] | None = None) -> list[Person]:
        query = select(Collector).order_by(Collector.id)
        if team_ids is not None:
            query = query.where(Collector.team_id.in_(list(team_ids)))
        return [_person(c) for c in await self.session.scalars(query)]

    async def person(self, username: str) -> Person | None:
        found = await self.session.scalar(select(Collector).where(Collector.username == username))
        return None if found is None else _person(found)

    async def team_id(self, name: str) -> int | None:
        found: int | None = await self.session.scalar(select(Team.id).where(Team.name == name))
        return found

    async def loads(self, collector_ids: Iterable[int]) -> dict[int, int]:
        """Open (or promised) cases owned, per collector (0 for those without any)."""
        ids = sorted(set(collector_ids))
        loads = dict.fromkeys(ids, 0)
        for start in range(0, len(ids), _IN_CHUNK):
            rows = await self.session.execute(
                select(CaseRow.owner_collector_id, func.count())
                .where(
                    CaseRow.owner_collector_id.in_(ids[start : start + _IN_CHUNK]),
                    CaseRow.status.in_(_OPEN),
                )
                .group_by(CaseRow.owner_collector_id)
            )
            loads.update((owner, int(n)) for owner, n in rows.tuples() if owner is not None)
        return loads

    async def due_followups(self, owner_id: int, until: datetime, now: datetime) -> list[Movable]:
        """The owner's callbacks and promises due by `until`, not leased."""
        rows = await self.session.execute(
            _movable_query().where(
                CaseRow.owner_collector_id == owner_id,
                CaseRow.status.in_(_OPEN),
                CaseRow.followup_kind.in_(FOLLOWUPS),
                CaseRow.followup_at <= until,
                unleased(now),
            )
        )
        return _movables(rows.tuples())

    async def owned(
        self, owner_id: int, now: datetime, limit: int, *, without_followups: bool = False
    ) -> list[Movable]:
        """Open cases of the owner, not leased, newest first."""
        query = _movable_query().where(
            CaseRow.owner_collector_id == owner_id, CaseRow.status.in_(_OPEN), unleased(now)
        )
        if without_followups:
            query = query.where(CaseRow.followup_kind.is_(None))
        rows = await self.session.execute(query.order_by(CaseRow.id.desc()).limit(limit))
        return _movables(rows.tuples())

    async def broken_promises(self, now: datetime, limit: int) -> list[Movable]:
        """Promises whose follow-up time has come while the case is still `promised`."""
        rows = await self.session.execute(
            _movable_query()
            .where(
                CaseRow.followup_kind == "promise",
                CaseRow.followup_at <= now,
                CaseRow.status == "promised",
                unleased(now),
            )
            .order_by(CaseRow.followup_at)
            .limit(limit)
        )
        return _movables(rows.tuples())

    async def settle_kept_promises(self, now: datetime) -> int:
        """Promise follow-ups of cases no longer `promised` (paid, closed) are moot."""
        result = await self.session.execute(
            update(CASES)
            .where(
                CASES.c.followup_kind == "promise",
                CASES.c.followup_at <= now,
                CASES.c.status != "promised",
            )
            .values(followup_at=None, followup_kind=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mark_broken(self, case_ids: Sequence[int]) -> None:
        """The promise is broken: the case is open again, with a broken-promise follow-up."""
        ids = list(case_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            await self.session.execute(
                update(CASES)
                .where(CASES.c.id.in_(ids[start : start + _IN_CHUNK]))
                .values(status="open", followup_kind="broken_promise")
            )

    async def apply(self, moves: Sequence[Move], moved_by: str, now: datetime) -> set[int]:
        """Make the moves whose case is still unleased and owned by `from_id`, and record
        each in the assignments history; returns the ids of the cases moved."""
        if not moves:
            return set()
        if self.session.get_bind().dialect.name == "postgresql":
            return await self._apply_postgresql(moves, moved_by, now)
        moved: set[int] = set()
        for m in moves:
            result = await self.session.execute(
                update(CASES)
                .where(
                    CASES.c.id == m.case_id,
                    CASES.c.owner_collector_id.is_not_distinct_from(m.from_id),
                    or_(CASES.c.lease_owner.is_(None), CASES.c.lease_expires_at <= now),
                )
                .values(
                    owner_collector_id=m.to_id,
                    team_id=func.coalesce(m.to_team_id, CASES.c.team_id),
                    updated_at=now,
                )
                .returning(CASES.c.id)
            )
            if result.first() is not None:
                moved.add(m.case_id)
        rows = [
            {
                "case_id": m.case_id,
                "from_collector_id": m.from_id,
                "to_collector_id": m.to_id,
                "reason": m.reason,
                "moved_at": now,
                "moved_by": moved_by,
            }
            for m in moves
            if m.case_id in moved
        ]
        if rows:
            await self.session.execute(insert(Assignment), rows)
        return moved

    async def _apply_postgresql(
        self, moves: Sequence[Move], moved_by: str, now: datetime
    ) -> set[int]:
        moved: set[int] = set()
        for start in range(0, len(moves), 20_000):
            part = moves[start : start + 20_000]
            result = await self.session.execute(
                _PG_APPLY,
                {
                    "ids": [m.case_id for m in part],
                    "froms": [m.from_id for m in part],
                    "tos": [m.to_id for m in part],
                    "teams": [m.to_team_id for m in part],
                    "reasons": [m.reason for m in part],
                    "now": now,
                    "by": moved_by,
                },
            )
            moved.update(row[0] for row in result.tuples())
        return moved


def _person(c: Collector) -> Person:
    return Person(
        id=c.id,
        username=c.username,
        team_id=c.team_id,
        skills=frozenset(c.skills or ()),
        is_senior=c.is_senior,
        max_cases=c.max_cases,
        active=c.active,
    )
