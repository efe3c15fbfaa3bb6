"""Case leases: which daemon holds which case, so that no case goes to two dials.

A case handed to a daemon's hopper is leased to it (`lease_owner`, `lease_expires_at`) in
the transaction that selects it: `lease()` is one `UPDATE ... WHERE id IN (SELECT ... FOR
NO KEY UPDATE SKIP LOCKED)`, atomic on SQLite (one writer at a time); on PostgreSQL the
hopper runs the same two steps as separate statements on asyncpg (`lease_pg`: lock, then
lease while it reads the cases' numbers). Concurrent daemons skip each other's locked rows
instead of waiting, and a row changed meanwhile is re-checked (still unleased or expired)
before its lock is taken. The holder extends its leases while it runs and releases each
case when its attempt ends (or a rule defers it); a crashed holder's leases expire, and an
expired lease is taken over by the next refill that reaches it (the sweep job only tidies
stale markers).

The ready lane: callable cases with no next attempt pending (`tables.READY_PREDICATE`),
indexed by priority. Cases whose next attempt lies in the future are parked; `promote_due`
moves them back into the lane when their time comes. Lease columns are in no index (so a
lease is a HOT update): a refill filters out the lane's few thousand live leases by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.batches import chunks
from dialer.store.tables import READY_PREDICATE, CaseRow, UTCDateTime

_CALLABLE = ("open", "promised")
# Follow-ups an attempt fulfils once it is dialed at or after their time. A promise stays
# until the broken-promise rule has looked at it (dialer.orchestration.reassign).
_FULFILLED_BY_A_CALL = ("callback", "broken_promise")
_READY = text(READY_PREDICATE)
# Core statements on the table: plain multi-row UPDATEs, not ORM bulk-by-primary-key.
CASES = cast(Table, CaseRow.__table__)
_C = CASES.c


@dataclass(frozen=True, slots=True)
class LeasedCase:
    """What the hopper needs of a case it just leased."""

    id: int
    timezone: str | None
    owner_id: int | None
    team_id: int | None
    skills: tuple[str, ...]
    balance: Decimal
    days_past_due: int
    priority: float
    followup_at: datetime | None
    followup_kind: str | None


@dataclass(frozen=True, slots=True)
class Census:
    """Why a campaign may have nothing to dial: what its callable cases are doing."""

    ready: bool  # some case is in the ready lane (unleased, due)
    leased_mine: int  # held by this daemon (in its hopper or on its calls)
    leased_others: int  # held by other daemons, lease still live
    parked: bool  # some callable case has its next attempt in the future
    callable: bool  # the campaign has any callable case at all
    next_due_at: datetime | None  # the earliest parked case's next attempt


_RETURNED = (
    _C.id,
    _C.timezone,
    _C.owner_collector_id,
    _C.team_id,
    _C.skills,
    _C.balance,
    _C.days_past_due,
    _C.priority,
    _C.followup_at,
    _C.followup_kind,
)


def _callable() -> list[Any]:
    return [
        _C.status.in_(_CALLABLE),
        _C.do_not_call.is_(False),
        _C.cease_communication.is_(False),
        _C.disputed.is_(False),
        _C.debtor_unreachable.is_(False),
    ]


def _leased(result: Any) -> list[LeasedCase]:
    return [
        LeasedCase(
            id=row[0],
            timezone=row[1],
            owner_id=row[2],
            team_id=row[3],
            skills=tuple(row[4] or ()),
            balance=row[5],
            days_past_due=row[6],
            priority=row[7],
            followup_at=row[8],
            followup_kind=row[9],
        )
        for row in result.tuples()
    ]


def _free(now: datetime) -> Any:
    """Not leased, or the lease has expired."""
    return or_(_C.lease_owner.is_(None), _C.lease_expires_at <= now)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class LeaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ----- taking cases -------------------------------------------------------------------

    async def lease(
        self,
        campaign_id: int,
        owner: str,
        now: datetime,
        until: datetime,
        limit: int,
        *,
        followups: bool = True,
    ) -> list[LeasedCase]:
        """Lease up to `limit` ready cases to `owner` until `until`: follow-ups due by `now`
        first (longest due first; skipped with `followups=False`), then by priority
        (highest first, newest first on ties). Commit promptly: on PostgreSQL the rows stay
        locked until the transaction ends."""
        if limit <= 0:
            return []
        first: list[LeasedCase] = []
        if followups:
            due = self._ids(campaign_id, limit, now).where(_C.followup_at <= now)
            first = await self._take(due.order_by(_C.followup_at), owner, until)
            first.sort(key=lambda c: (c.followup_at or now, c.id))
        if len(first) >= limit:
            return first
        ready = self._ids(campaign_id, limit - len(first), now).order_by(
            _C.priority.desc(), _C.id.desc()
        )
        rest = await self._take(ready, owner, until)
        rest.sort(key=lambda c: (-c.priority, -c.id))
        return first + rest

    @staticmethod
    def _ids(campaign_id: int, limit: int, now: datetime) -> Select[tuple[int]]:
        return (
            select(_C.id)
            .where(_C.campaign_id == campaign_id, _READY, _free(now))
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )

    async def _take(self, ids: Select[tuple[int]], owner: str, until: datetime) -> list[LeasedCase]:
        result = await self.session.execute(
            update(CASES)
            .where(_C.id.in_(ids.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=until)
            .returning(*_RETURNED)
        )
        return _leased(result)

    async def next_followup(self, campaign_id: int) -> datetime | None:
        """When the campaign's earliest pending follow-up is (or was) due."""
        found: datetime | None = await self.session.scalar(
            select(func.min(_C.followup_at)).where(
                _C.campaign_id == campaign_id, _C.followup_at.is_not(None)
            )
        )
        return found

    async def promote_due(self, campaign_id: int | None, now: datetime, limit: int) -> int:
        """Move up to `limit` parked cases whose next attempt is due back into the ready
        lane (oldest due first); returns how many moved."""
        ids = select(_C.id).where(_C.next_attempt_at.is_not(None), _C.next_attempt_at <= now)
        if campaign_id is not None:
            ids = ids.where(_C.campaign_id == campaign_id)
        ids = (
            ids.order_by(_C.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )
        result = await self.session.execute(
            update(CASES).where(_C.id.in_(ids.scalar_subquery())).values(next_attempt_at=None)
        )
        return _rowcount(result)

    # ----- holding and giving back --------------------------------------------------------

    async def extend(self, owner: str, until: datetime, case_ids: Sequence[int]) -> int:
        """Push `owner`'s leases on these cases (its hopper and calls) to `until`: the
        heartbeat. Returns how many it still held."""
        extended = 0
        for chunk in chunks(list(case_ids)):
            result = await self.session.execute(
                update(CASES)
                .where(_C.id.in_(chunk), _C.lease_owner == owner)
                .values(lease_expires_at=until)
            )
            extended += _rowcount(result)
        return extended

    async def defer(self, owner: str, items: Sequence[tuple[int, datetime]]) -> None:
        """Park each (case, not before) and release `owner`'s lease on it, in one step."""
        if not items:
            return
        await self.session.execute(
            update(CASES)
            .where(_C.id == bindparam("b_id"), _C.lease_owner == bindparam("b_owner"))
            .values(
                next_attempt_at=bindparam("b_at", type_=UTCDateTime()),
                lease_owner=None,
                lease_expires_at=None,
            ),
            [{"b_id": case_id, "b_owner": owner, "b_at": at} for case_id, at in items],
        )

    async def release(self, owner: str, case_ids: Sequence[int]) -> int:
        """Release `owner`'s leases on these cases (a case leased by another is untouched)."""
        released = 0
        for chunk in chunks(list(case_ids)):
            result = await self.session.execute(
                update(CASES)
                .where(_C.id.in_(chunk), _C.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
            released += _rowcount(result)
        return released

    async def after_attempts(
        self, owner: str, ended: Sequence[tuple[int, datetime]], deferred: Sequence[int]
    ) -> None:
        """After the store writer parked these cases: release `owner`'s leases, and clear
        the follow-ups that the ended attempts (case, ended at) fulfilled."""
        await self.release(owner, [case_id for case_id, _ in ended] + list(deferred))
        if ended:
            await self.session.execute(
                update(CASES)
                .where(
                    _C.id == bindparam("b_id"),
                    or_(*(_C.followup_kind == kind for kind in _FULFILLED_BY_A_CALL)),
                    _C.followup_at <= bindparam("b_at", type_=UTCDateTime()),
                )
                .values(followup_at=None, followup_kind=None),
                # (no IN list here: an expanding parameter cannot be sent as executemany)
                [{"b_id": case_id, "b_at": at} for case_id, at in ended],
            )

    async def release_all(self, owner: str) -> int:
        """Release every lease `owner` holds (a clean stop; a scan: no index on leases)."""
        result = await self.session.execute(
            update(CASES)
            .where(_C.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        return _rowcount(result)

    async def sweep_expired(
        self, now: datetime, limit: int = 10_000, *, campaign_id: int | None = None
    ) -> int:
        """Clear up to `limit` expired lease markers (of crashed or stalled daemons). Not
        needed for correctness (a refill takes an expired lease over), but keeps counts
        and the store's view tidy. A scan: run it seldom, on one daemon."""
        ids = (
            select(_C.id)
            .where(_C.lease_owner.is_not(None), _C.lease_expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )
        if campaign_id is not None:
            ids = ids.where(_C.campaign_id == campaign_id)
        result = await self.session.execute(
            update(CASES)
            .where(_C.id.in_(ids.scalar_subquery()))
            .values(lease_owner=None, lease_expires_at=None)
        )
        return _rowcount(result)

    # ----- looking ------------------------------------------------------------------------

    async def census(self, campaign_id: int, now: datetime, owner: str) -> Census:
        """A few cheap probes. Leased cases stay in the ready lane, so the lease counts walk
        only the lane (its index), which is short when a refill came up empty."""
        mine = _C.campaign_id == campaign_id
        lane = (mine, _READY)
        s = self.session
        ready = await s.scalar(select(exists().where(*lane, _free(now))))
        live = (_C.lease_owner.is_not(None), _C.lease_expires_at > now)
        leased_mine = await s.scalar(
            select(func.count()).select_from(CASES).where(*lane, *live, _C.lease_owner == owner)
        )
        leased_others = await s.scalar(
            select(func.count()).select_from(CASES).where(*lane, *live, _C.lease_owner != owner)
        )
        parked = await s.scalar(
            select(exists().where(mine, _C.next_attempt_at > now, *_callable()))
        )
        any_callable = await s.scalar(select(exists().where(mine, *_callable())))
        next_due = await s.scalar(
            select(func.min(_C.next_attempt_at)).where(
                mine, _C.next_attempt_at.is_not(None), _C.next_attempt_at > now
            )
        )
        return Census(
            ready=bool(ready),
            leased_mine=int(leased_mine or 0),
            leased_others=int(leased_others or 0),
            parked=bool(parked),
            callable=bool(any_callable),
            next_due_at=next_due,
        )


# ----- what the hopper reads of the cases it leased ------------------------------------------
