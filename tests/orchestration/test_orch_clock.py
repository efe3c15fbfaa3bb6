"""One clock: the orchestrator's jobs run on the daemon's clock, so at speed 30 the lease
heartbeat comes every third of a lease *of that clock* and no lease lapses under it.

(On the wall clock, as before, the heartbeat of a 30 s lease came every 10 real seconds
while the lease lasted 1 real second at speed 30.)
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from orchkit import NOON, make_store, profile
from sqlalchemy import func, select

from dialer.clock import Clock, ManualClock
from dialer.orchestration.jobs import Jobs, next_fire
from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.settings import OrchestrationSettings
from dialer.store.tables import CaseRow

SPEED = 30.0
LEASE = 30.0  # seconds of the daemon's clock: 1 s of real time at speed 30
HEARTBEATS = 6
WAIT = 20.0  # real seconds; the heartbeats need about 2


async def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)  # polling a condition, not timing


async def test_leases_are_extended_before_they_lapse_at_speed_30(db_url: str) -> None:
    store = await make_store(db_url, 30)
    clock = Clock(SPEED, NOON.timestamp())
    seen: list[tuple[datetime, datetime]] = []  # (heartbeat's now, earliest lease it found)
    refs: frozenset[str] = frozenset()

    class Watched(Orchestrator):
        def live_refs(self) -> frozenset[str]:
            return refs

        async def heartbeat(self, now: datetime) -> None:
            async with self.sessions() as s:
                earliest = await s.scalar(
                    select(func.min(CaseRow.lease_expires_at)).where(CaseRow.lease_owner == "d1")
                )
            assert earliest is not None
            seen.append((now, earliest))
            await super().heartbeat(now)

    settings = OrchestrationSettings(lease_seconds=LEASE)
    orchestrator = Watched(settings, store.sessions, owner="d1", clock=clock)
    try:
        hopper = orchestrator.hopper("c1", store.campaign_id, profile())
        targets = await hopper.supply(10, frozenset(), clock.utcnow())
        refs = frozenset(t.case.ref for t in targets)
        assert len(refs) == 10
        await orchestrator.start()
        try:
            await until(lambda: len(seen) >= HEARTBEATS, f"{HEARTBEATS} heartbeats")
        finally:
            await orchestrator.stop()
    finally:
        await store.dispose()
    for now, earliest in seen:
        assert earliest > now, f"a lease lapsed before the heartbeat at {now}: {earliest}"
    beats = [now for now, _ in seen]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(beats)]
    third = LEASE / 3
    # Never twice for one fire time, and on average every third of a lease of the daemon's
    # clock (one late run, under load, is followed by an early one: the phase is kept).
    assert min(gaps) > 0, gaps
    assert third * 0.95 <= sum(gaps) / len(gaps) <= third * 1.5, gaps
    assert beats[0] - NOON < timedelta(seconds=LEASE), "the first one came within the lease"


class Recycles:
    """JobActions that only note when the recycle job ran."""

    def __init__(self) -> None:
        self.ran: list[datetime] = []

    async def recycle(self, now: datetime) -> None:
        self.ran.append(now)

    async def open_campaign(self, campaign: str, now: datetime) -> None: ...
    async def close_campaign(self, campaign: str, now: datetime) -> None: ...
    async def fire_callbacks(self, now: datetime) -> None: ...
    async def check_presence(self, now: datetime) -> None: ...
    async def recompute_priorities(self, now: datetime, *, full: bool) -> None: ...
    async def rebalance(self, now: datetime) -> None: ...
    async def expire_ledger(self, now: datetime) -> None: ...
    async def retention(self, now: datetime) -> None: ...
    async def expire_recordings(self, now: datetime) -> None: ...
    async def heartbeat(self, now: datetime) -> None: ...
    async def sweep_leases(self, now: datetime) -> None: ...


async def test_jobs_wait_real_seconds_of_the_daemons_clock() -> None:
    """An interval of 60 s of a ManualClock at speed 30: the job waits 2 real seconds for
    it (woken early by the test instead), and runs at the clock's time."""
    clock = ManualClock(NOON, speed=SPEED)
    actions = Recycles()
    jobs = Jobs(OrchestrationSettings(jobs={"recycle_seconds": 60}), actions, [], clock=clock)
    ran = actions.ran
    await jobs.start()
    try:
        assert jobs.next_runs()["recycle"] == NOON + timedelta(seconds=60)
        assert clock.real_seconds(60) == 2.0
        clock.move_to(NOON + timedelta(seconds=59))
        jobs.wakeup()
        for _ in range(20):
            await asyncio.sleep(0)
        assert ran == []
        clock.move_to(NOON + timedelta(seconds=61))
        jobs.wakeup()
        await until(lambda: ran, "the recycle job")
        assert ran == [NOON + timedelta(seconds=61)]
        assert jobs.next_runs()["recycle"] == NOON + timedelta(seconds=120), "phase kept"
    finally:
        await jobs.stop()
    assert not jobs.running


def test_next_fire_is_strictly_after_now_and_coalesces() -> None:
    every = IntervalTrigger(seconds=30, start_date=NOON + timedelta(seconds=30), timezone="UTC")
    assert next_fire(every, NOON + timedelta(seconds=30)) == NOON + timedelta(seconds=60)
    late = NOON + timedelta(hours=4, seconds=1)  # 480 fire times missed: one next time
    assert next_fire(every, late) == NOON + timedelta(hours=4, seconds=30)
    hourly = CronTrigger.from_crontab("5 * * * *", timezone="UTC")
    assert next_fire(hourly, NOON + timedelta(minutes=5)) == NOON + timedelta(hours=1, minutes=5)
