"""The hopper's supply: leases the next callable cases of one campaign from the store.

On the engine's `NeedCases` the campaign runner asks `Hopper.supply(count, queued, now)`.
One refill:
1. moves parked cases whose next attempt is due back into the ready lane (a bounded
   UPDATE; the recycle job does the same in bulk);
2. leases up to `count` cases to this daemon in one statement (dialer.store.lease_repo):
   follow-ups due now first (callbacks and promises, to be routed to their owner), then
   by priority. Another daemon's refill skips them, so no case goes to two dials; an
   expired lease (a crashed daemon's) is taken over. When the lane runs dry, parked cases
   that came due are moved in first;
3. loads their numbers and recent contact history (reads of `count` rows, not of the
   whole hopper), and lets compliance decide (DESIGN §1 step 2): a blocked case is
   parked until the rules allow it and its lease released at once;
4. repeats while compliance blocked some, up to `refill_rounds` times.
When nothing comes out, `reason` says why (the most frequent compliance block, or
all_leased / all_queued / not_due / no_cases from a census of the campaign's cases), for
the `dialer_hopper_empty_reason` metric and the manager page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import Profile, Reason, dialable, evaluate_target
from dialer.compliance.evaluate import history_span
from dialer.domain.model import Case, ContactRecord, DialTarget, PhoneNumber
from dialer.logs import event
from dialer.store import lease_pg
from dialer.store.case_reads import history_of, numbers_of
from dialer.store.lease_repo import Census, LeasedCase, LeaseRepository
from dialer.store.org_repo import NameCache

log = logging.getLogger(__name__)

PROMOTE_PER_REFILL = 1000  # due parked cases moved to the ready lane per refill
BLOCKED_RETRY = timedelta(hours=1)  # when compliance blocks and time alone won't lift it
NO_NUMBER_RETRY = timedelta(days=1)  # a case without a dialable number: look again later
NO_NUMBER = "no_dialable_number"
COMPLIANCE_REASONS = frozenset(reason.value for reason in Reason)
PROMOTE_EVERY = timedelta(seconds=1)  # refills promote due parked cases at most this often
FOLLOWUP_RECHECK = timedelta(seconds=5)  # how often a refill re-reads the next follow-up
_T = TypeVar("_T")
_Reads = asyncio.Future[
    tuple[dict[int, tuple[PhoneNumber, ...]], dict[int, tuple[ContactRecord, ...]]]
]


@dataclass(frozen=True, slots=True)
class RefillResult:
    """One refill, for the manager page and the logs."""

    at: datetime
    asked: int
    leased: int
    supplied: int
    blocked: dict[str, int]
    seconds: float
    reason: str | None
    census: Census | None = None


@dataclass(frozen=True, slots=True)
class _Round:
    """One lease statement's cases, the reads of their numbers and history, its commit."""

    rows: list[LeasedCase]
    reads: _Reads
    committed: asyncio.Future[None]


async def _take_and_commit(
    session: AsyncSession, pg: lease_pg.Lease, ids: list[int], owner: str, until: datetime
) -> None:
    """PostgreSQL: write the lease on the locked rows and commit (or roll back)."""
    try:
        await pg.take(ids, owner, until)
    except BaseException:
        try:
            await pg.rollback()
        finally:
            await session.close()
        raise
    await _commit(session, pg)


async def _commit(session: AsyncSession, pg: lease_pg.Lease | None) -> None:
    try:
        if pg is not None:
            await pg.commit()
        else:
            await session.commit()
    finally:
        await session.close()


class Hopper:
    """Lease-based case supply for one campaign of one daemon (`owner`)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        campaign: str,
        campaign_id: int,
        profile: Profile,
        owner: str,
        lease_seconds: float,
        rounds: int = 3,
    ) -> None:
        self.sessions = sessions
        self.campaign = campaign
        self.campaign_id = campaign_id
        self.profile = profile
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.rounds = rounds
        self.reason: str | None = None
        self.error: str | None = None  # why the last refill failed (reason refill_failed)
        self.last: RefillResult | None = None
        self.history_since = max(history_span(profile), timedelta(days=1))
        self._names = NameCache()
        self._promoted_at: datetime | None = None
        self._followups_seen: datetime | None = None
        self._pg = False
        self._next_followup: datetime | None = None

    async def supply(self, count: int, queued: frozenset[str], now: datetime) -> list[DialTarget]:
        """Up to `count` callable cases, leased to this daemon, best first."""
        started = time.perf_counter()
        targets: list[DialTarget] = []
        blocked: Counter[str] = Counter()
        leased = 0
        try:
            if self._promoted_at is None or not now - PROMOTE_EVERY < self._promoted_at <= now:
                await self._promote(now)
            replenished = False
            for _ in range(self.rounds):
                wanted = count - len(targets)
                if wanted <= 0:
                    break
                lease = await self._lease(wanted, now)
                rows = lease.rows
                leased += len(rows)
                if rows:
                    await self._filter(lease, queued, now, targets, blocked)
                else:
                    await lease.committed
                if len(rows) < wanted:
                    # The ready lane ran dry: move in what came due, once, and try again.
                    if replenished or not await self._promote(now):
                        break
                    replenished = True
            census = None if targets else await self._census(now)
        except Exception as exc:
            self.reason = "refill_failed"
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        self.error = None
        self.reason = None if targets else self._why_empty(blocked, census)
        self.last = RefillResult(
            now,
            count,
            leased,
            len(targets),
            dict(blocked),
            time.perf_counter() - started,
            self.reason,
            census,
        )
        return targets

    async def _promote(self, now: datetime) -> int:
        self._promoted_at = now
        async with self.sessions() as session, session.begin():
            return await LeaseRepository(session).promote_due(
                self.campaign_id, now, PROMOTE_PER_REFILL
            )

    async def _lease(self, wanted: int, now: datetime) -> _Round:
        """Lease up to `wanted` cases. Their numbers and history are read on other
        connections meanwhile (the reads do not depend on the lease), and compliance looks
        at them while the lease is written and committed: on PostgreSQL the rows are
        locked first, then leased in the background; on SQLite the lease is one UPDATE
        whose commit runs on. `_filter` awaits the commit before offering any case."""
        due = await self._followups_due(now)
        until = now + self.lease
        session = self.sessions()
        reads: _Reads | None = None
        pg: lease_pg.Lease | None = None
        try:
            self._pg = session.get_bind().dialect.name == "postgresql"
            if self._pg:  # lock, then lease while the reads run (asyncpg, see lease_pg)
                pg = lease_pg.Lease(await lease_pg.driver(session))
                rows = await pg.lock(self.campaign_id, now, wanted, followups=due)
                ids = [r.id for r in rows]
                reads = asyncio.ensure_future(self._read_all(ids, now))
                leased = asyncio.ensure_future(
                    _take_and_commit(session, pg, ids, self.owner, until)
                )
                return self._round(rows, reads, leased, due, now)
            else:  # one atomic conditional UPDATE: SQLite has one writer at a time
                await session.begin()
                rows = await LeaseRepository(session).lease(
                    self.campaign_id, self.owner, now, until, wanted, followups=due
                )
                reads = asyncio.ensure_future(self._read_all([r.id for r in rows], now))
        except BaseException:
            if reads is not None:
                reads.cancel()
            try:
                if pg is not None:
                    await pg.rollback()
            finally:
                await session.close()  # rolls back
            raise
        return self._round(rows, reads, asyncio.ensure_future(_commit(session, None)), due, now)

    def _round(
        self,
        rows: list[LeasedCase],
        reads: _Reads,
        leased: asyncio.Future[None],
        due: bool,
        now: datetime,
    ) -> _Round:
        if due and not any(r.followup_at and r.followup_at <= now for r in rows):
            self._followups_seen = None  # none left due: look again next time
        return _Round(rows, reads, leased)

    async def _followups_due(self, now: datetime) -> bool:
        """Whether a follow-up may be due. Follow-ups are set ahead of their time (a
        callback, a promise's date): knowing the earliest spares most refills the
        follow-up lane's query; it is read again every few seconds."""
        if self._followups_seen is None or not now - FOLLOWUP_RECHECK < self._followups_seen <= now:
            async with self.sessions() as session:
                self._next_followup = await LeaseRepository(session).next_followup(self.campaign_id)
            self._followups_seen = now
        return self._next_followup is not None and self._next_followup <= now

    async def _read_all(
        self, ids: list[int], now: datetime
    ) -> tuple[dict[int, tuple[PhoneNumber, ...]], dict[int, tuple[ContactRecord, ...]]]:
        if not ids:
            return {}, {}
        since = now - self.history_since
        if self._pg:
            numbers, history = await asyncio.gather(
                self._read(lease_pg.numbers_of, ids), self._read(lease_pg.history_of, ids, since)
            )
        else:
            numbers, history = await asyncio.gather(
                self._read(numbers_of, ids), self._read(history_of, ids, since)
            )
        return numbers, history

    async def _filter(
        self,
        lease: _Round,
        queued: frozenset[str],
        now: datetime,
        targets: list[DialTarget],
        blocked: Counter[str],
    ) -> None:
        """Compliance on the leased rows: allowed ones join `targets` once the lease is
        committed, the others are parked and released. On any failure every row of the
        round is released."""
        rows = lease.rows
        allowed: list[DialTarget] = []
        deferred: list[tuple[int, datetime]] = []
        try:
            numbers, history = await lease.reads
            await self._read(self._names.load, rows)
            built = self._targets(rows, numbers, history)
            for row, target in zip(rows, built, strict=True):
                if target is None:
                    blocked[NO_NUMBER] += 1
                    deferred.append((row.id, now + NO_NUMBER_RETRY))
                    continue
                if target.case.ref in queued:
                    continue  # already ours, in the hopper or on a call
                decision = evaluate_target(self.profile, target, now)
                if decision.allowed:
                    allowed.append(target)
                else:
                    blocked.update(decision.reasons)
                    deferred.append((row.id, decision.next_allowed_at or now + BLOCKED_RETRY))
            await lease.committed
            targets.extend(allowed)
            if deferred:
                async with self.sessions() as session, session.begin():
                    await LeaseRepository(session).defer(self.owner, deferred)
        except BaseException:
            await asyncio.gather(lease.committed, return_exceptions=True)
            await self._release_quietly([row.id for row in rows])
            raise

    async def _release_quietly(self, case_ids: list[int]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await LeaseRepository(session).release(self.owner, case_ids)
        except Exception as exc:  # they expire on their own
            event(
                log,
                "hopper.release_failed",
                logging.ERROR,
                campaign=self.campaign,
                cases=len(case_ids),
                error=str(exc),
            )

    def _targets(
        self,
        rows: list[LeasedCase],
        numbers: dict[int, tuple[PhoneNumber, ...]],
        history: dict[int, tuple[ContactRecord, ...]],
    ) -> list[DialTarget | None]:
        out: list[DialTarget | None] = []
        for row in rows:
            owned = numbers.get(row.id, ())
            number = next((n.e164 for n in owned if dialable(n)), None)
            if number is None:
                out.append(None)
                continue
            case = Case(
                ref=str(row.id),
                numbers=owned,
                timezone=row.timezone,
                owner=None if row.owner_id is None else self._names.collectors.get(row.owner_id),
                team=None if row.team_id is None else self._names.teams.get(row.team_id),
                skills=frozenset(row.skills),
                balance=row.balance,
                days_past_due=row.days_past_due,
                priority=row.priority,
            )
            out.append(DialTarget(case, number, history.get(row.id, ())))
        return out

    async def _read(self, query: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        async with self.sessions() as session:
            return await query(session, *args)

    def forget_names(self) -> None:
        """Collectors or teams were renamed or moved: read names afresh."""
        self._names.forget()

    async def _census(self, now: datetime) -> Census:
        async with self.sessions() as session:
            return await LeaseRepository(session).census(self.campaign_id, now, self.owner)

    def _why_empty(self, blocked: Counter[str], census: Census | None) -> str:
        previous = self.reason
        if blocked:
            return min(blocked.items(), key=lambda item: (-item[1], item[0]))[0]
        if census is None:
            return "no_cases"
        if census.ready or census.leased_others:
            return "all_leased"  # locked or held by other daemons
        if census.parked:
            # Cases a rule blocked were parked until it allows them: the rule stays the
            # reason until a refill finds a case again.
            if previous in COMPLIANCE_REASONS or previous == NO_NUMBER:
                return previous
            return "not_due"
        if census.leased_mine:
            return "all_queued"
        return "no_cases"
