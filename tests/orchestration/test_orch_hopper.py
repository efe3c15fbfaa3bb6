"""The hopper: leases by priority (due follow-ups first), tops the engine's queue up,
never hands a case out twice, parks what compliance blocks, says why it is empty, and
releases each case when its attempt ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
from orchkit import NOON, Store, add_cases, make_store, new_case, profile
from sqlalchemy import func, select, update

from dialer.daemon.store_ops import AttemptEnded, AttemptStarted
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.calls import CallOutcome
from dialer.domain.commands import AttemptFinished, Command, NeedCases, Originate
from dialer.domain.events import CallFailed, CasesSupplied, CollectorLoggedIn
from dialer.engine import Engine, EngineConfig
from dialer.metrics import Metrics
from dialer.orchestration.supply import Hopper
from dialer.pacing.policies import make_pacer
from dialer.store.followup_repo import FollowupRepository
from dialer.store.tables import CaseRow, Collector


def hopper(store: Store, owner: str = "d1", lease: float = 300.0) -> Hopper:
    return Hopper(
        store.sessions,
        campaign="c1",
        campaign_id=store.campaign_id,
        profile=profile(),
        owner=owner,
        lease_seconds=lease,
    )


async def leased_by(store: Store, owner: str) -> set[str]:
    async with store.sessions() as s:
        ids = await s.scalars(select(CaseRow.id).where(CaseRow.lease_owner == owner))
        return {str(i) for i in ids}


async def test_refills_by_priority_without_repeats(db_url: str) -> None:
    store = await make_store(db_url, 250)
    try:
        h = hopper(store)
        batches = [[t.case.ref for t in await h.supply(100, frozenset(), NOON)] for _ in range(3)]
        assert batches[0] == [str(i) for i in range(250, 150, -1)], "highest priority first"
        assert batches[1] == [str(i) for i in range(150, 50, -1)]
        assert batches[2] == [str(i) for i in range(50, 0, -1)]
        assert await h.supply(100, frozenset(), NOON) == []
        assert h.reason == "all_queued", "everything is in this daemon's hopper or on calls"
        assert await leased_by(store, "d1") == {str(i) for i in range(1, 251)}
    finally:
        await store.dispose()


async def test_due_followups_come_first(db_url: str) -> None:
    store = await make_store(db_url, 50, collectors=[("ann", "east")])
    try:
        async with store.sessions() as s, s.begin():
            team = await s.scalar(select(Collector.team_id))
            await s.execute(
                update(CaseRow)
                .where(CaseRow.id == 3)
                .values(owner_collector_id=store.collectors["ann"], team_id=team)
            )
        async with store.sessions() as s, s.begin():
            followups = FollowupRepository(s)
            await followups.set(3, "callback", NOON - timedelta(minutes=5))
            await followups.set(7, "promise", NOON - timedelta(minutes=30))
            await followups.set(9, "callback", NOON + timedelta(hours=2))  # not due yet
        targets = await hopper(store).supply(5, frozenset(), NOON)
        refs = [t.case.ref for t in targets]
        assert refs == ["7", "3", "50", "49", "48"], "due follow-ups, oldest first, then priority"
        assert (targets[1].case.owner, targets[1].case.team) == ("ann", "east"), "to its owner"
    finally:
        await store.dispose()


async def test_compliance_blocks_park_the_case_and_name_the_reason(db_url: str) -> None:
    store = await make_store(db_url)
    try:
        # 02:00 in Honolulu at NOON (16:00 UTC): outside the calling hours.
        await add_cases(store, [new_case(i, tz="Pacific/Honolulu") for i in range(1, 31)])
        h = hopper(store)
        assert await h.supply(10, frozenset(), NOON) == []
        assert h.reason == "outside_calling_hours"
        assert h.last is not None and h.last.leased == 30, "three rounds of ten, all blocked"
        async with store.sessions() as s:
            rows = (await s.execute(select(CaseRow.next_attempt_at, CaseRow.lease_owner))).all()
        opening = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # 08:00 in Honolulu
        assert {r[0] for r in rows} == {opening}, "parked until the window opens"
        assert {r[1] for r in rows} == {None}, "and released at once"
        assert await h.supply(10, frozenset(), NOON) == []
        assert h.reason == "outside_calling_hours", "the rule stays the reason while parked"
        later = await h.supply(10, frozenset(), opening)
        assert len(later) == 10 and h.reason is None, "due again when the window opens"
    finally:
        await store.dispose()


async def test_empty_reasons(db_url: str) -> None:
    store = await make_store(db_url)
    try:
        h = hopper(store)
        assert await h.supply(10, frozenset(), NOON) == []
        assert h.reason == "no_cases"
        await add_cases(store, [new_case(i) for i in range(1, 11)])
        assert len(await hopper(store, "other").supply(10, frozenset(), NOON)) == 10
        assert await h.supply(10, frozenset(), NOON) == []
        assert h.reason == "all_leased", "another daemon holds them"
        async with store.sessions() as s, s.begin():
            later = NOON + timedelta(hours=1)
            await s.execute(update(CaseRow).values(lease_owner=None, next_attempt_at=later))
        assert await h.supply(10, frozenset(), NOON) == []
        assert h.reason == "not_due"
        assert h.last is not None and h.last.census is not None
        assert h.last.census.next_due_at == NOON + timedelta(hours=1)
    finally:
        await store.dispose()


async def test_engine_stays_topped_up_and_cases_are_released_when_attempts_end(
    db_url: str,
) -> None:
    """The engine's NeedCases drive refills while calls start and end; at every step the
    leases this daemon holds are exactly the engine's hopper plus its calls."""
    store = await make_store(db_url, 400)
    h = hopper(store)
    config = EngineConfig(campaign="c1", hopper_low_water=20, hopper_batch=50)
    engine = Engine(config, make_pacer("ratio:3"), np.random.default_rng(1))
    writer = StoreWriter(store.sessions, Metrics(), lease_owner="d1")
    writing = asyncio.create_task(writer.run())
    now = NOON.timestamp()
    dialed: list[str] = []

    async def carry_out(commands: list[Command]) -> None:
        """What the runner does: refills through the hopper, writes through the writer."""
        while commands:
            more: list[Command] = []
            for c in commands:
                if isinstance(c, NeedCases):
                    at = datetime.fromtimestamp(now, UTC)
                    targets = await h.supply(c.count, engine.queued_refs, at)
                    more += engine.handle(CasesSupplied(tuple(targets)), now)
                elif isinstance(c, Originate):
                    dialed.append(c.case_ref)
                    started = AttemptStarted(
                        c.call_id, int(c.case_ref), store.campaign_id, c.number, now
                    )
                    writer.put(started)
                elif isinstance(c, AttemptFinished):
                    writer.put(AttemptEnded.of(c.call, int(c.case_ref), store.campaign_id))
            commands = more
        await writer.flush()

    try:
        for i in range(10):
            await carry_out(engine.handle(CollectorLoggedIn(f"agent{i}"), now))
        for _ in range(12):
            await carry_out(engine.tick(now))
            assert engine.hopper_size >= config.hopper_low_water, "topped up ahead of need"
            assert await leased_by(store, "d1") == set(engine.queued_refs)
            now += 20.0
            for call_id in list(engine.calls):  # every call ends unanswered
                await carry_out(engine.handle(CallFailed(call_id, CallOutcome.NO_ANSWER), now))
            assert await leased_by(store, "d1") == set(engine.queued_refs)
        assert len(dialed) == len(set(dialed)) > 200, "no case dialed twice"
        async with store.sessions() as s:
            parked = await s.scalar(
                select(func.count()).where(CaseRow.next_attempt_at.is_not(None))
            )
        ended = len(dialed) - len(engine.calls)
        assert parked == ended, "each ended attempt parked its case for the recycle delay"
    finally:
        writing.cancel()
        await store.dispose()
