"""Scheduled jobs fire at the right times (a controlled clock: the test moves a
ManualClock and wakes the jobs, nothing sleeps), and their actions do their work."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from orchkit import NOON, make_store
from sqlalchemy import func, insert, select, update

from dialer.clock import ManualClock
from dialer.orchestration.jobs import Jobs, window_open
from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.settings import CallingWindow, OrchestrationSettings
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.history_repo import DispositionRepository
from dialer.store.tables import AbandonLedger, CallAttempt, CaseRow, Disposition

START = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # a Tuesday; 05:00 in New York
WINDOW = CallingWindow(
    start=time(9, 0), end=time(17, 0), timezone="America/New_York", days="mon-fri"
)


class Recorder:
    """JobActions that note what ran, and when (the wall clock the job saw)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime]] = []

    def _note(self, name: str, now: datetime) -> None:
        self.calls.append((name, now))

    async def open_campaign(self, campaign: str, now: datetime) -> None:
        self._note(f"open:{campaign}", now)

    async def close_campaign(self, campaign: str, now: datetime) -> None:
        self._note(f"close:{campaign}", now)

    async def recycle(self, now: datetime) -> None:
        self._note("recycle", now)

    async def fire_callbacks(self, now: datetime) -> None:
        self._note("callbacks", now)

    async def check_presence(self, now: datetime) -> None:
        self._note("presence", now)

    async def recompute_priorities(self, now: datetime, *, full: bool) -> None:
        self._note("priorities" if full else "dirty_priorities", now)

    async def rebalance(self, now: datetime) -> None:
        self._note("rebalance", now)

    async def expire_ledger(self, now: datetime) -> None:
        self._note("ledger_expiry", now)

    async def retention(self, now: datetime) -> None:
        self._note("retention", now)

    async def expire_recordings(self, now: datetime) -> None:
        self._note("recording_expiry", now)

    async def heartbeat(self, now: datetime) -> None:
        self._note("heartbeat", now)

    async def sweep_leases(self, now: datetime) -> None:
        self._note("sweep", now)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    yield ManualClock(START)


async def settle() -> None:
    """Let the woken jobs run (no time passes: each iteration only yields to the event
    loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def step(jobs: Jobs, clock: ManualClock, at: datetime, rec: Recorder) -> set[str]:
    """Move the clock to `at`, wake the jobs, return the names of what ran."""
    before = len(rec.calls)
    clock.move_to(at)
    jobs.wakeup()
    await settle()
    ran = rec.calls[before:]
    assert all(now == at for _, now in ran), "each job saw the clock's time"
    return {name for name, _ in ran}


async def test_jobs_fire_at_their_times(clock: ManualClock) -> None:
    settings = OrchestrationSettings(
        lease_seconds=300,
        windows={"c1": WINDOW},
        jobs={
            "recycle_seconds": 60,
            "callbacks_seconds": 30,
            "presence_seconds": 60,
            "dirty_priorities_seconds": 120,
            "lease_sweep_seconds": 30,
        },
    )
    rec = Recorder()
    jobs = Jobs(settings, rec, ["c1", "c2"], clock=clock)
    await jobs.start()
    try:
        assert rec.calls == [("close:c1", START)], "05:00 in New York: closed at start"
        s = START
        assert await step(jobs, clock, s + timedelta(seconds=29), rec) == set()
        assert await step(jobs, clock, s + timedelta(seconds=30), rec) == {"callbacks", "sweep"}
        assert await step(jobs, clock, s + timedelta(seconds=60), rec) == {
            "callbacks",
            "sweep",
            "recycle",
            "presence",
        }
        assert await step(jobs, clock, s + timedelta(seconds=90), rec) == {"callbacks", "sweep"}
        assert await step(jobs, clock, s + timedelta(seconds=100), rec) == {"heartbeat"}
        assert await step(jobs, clock, s + timedelta(seconds=120), rec) == {
            "callbacks",
            "sweep",
            "recycle",
            "presence",
            "dirty_priorities",
        }
        assert "priorities" in await step(jobs, clock, s + timedelta(minutes=5), rec)
        # Four hours on: each interval job runs once (missed runs coalesce), and 09:00 in
        # New York opens the window.
        ran = await step(jobs, clock, datetime(2026, 3, 3, 14, 0, tzinfo=UTC), rec)
        assert "open:c1" in ran and "close:c1" not in ran
        assert rec.calls.count(("recycle", datetime(2026, 3, 3, 14, 0, tzinfo=UTC))) == 1
        ran = await step(jobs, clock, datetime(2026, 3, 3, 22, 0, tzinfo=UTC), rec)
        assert "close:c1" in ran, "17:00 in New York"
        nightly = {
            datetime(2026, 3, 4, 2, 30, tzinfo=UTC): "rebalance",
            datetime(2026, 3, 4, 3, 15, tzinfo=UTC): "ledger_expiry",
            datetime(2026, 3, 4, 3, 45, tzinfo=UTC): "retention",
            datetime(2026, 3, 4, 3, 50, tzinfo=UTC): "recording_expiry",
        }
        for at, name in nightly.items():
            assert name in await step(jobs, clock, at, rec)
        assert [n for n, _ in rec.calls].count("rebalance") == 1
        # Saturday: the mon-fri window stays closed.
        ran = await step(jobs, clock, datetime(2026, 3, 7, 14, 0, tzinfo=UTC), rec)
        assert "open:c1" not in ran
        assert not any(name.endswith(":c2") for name, _ in rec.calls), "c2 has no window"
        assert jobs.failures == {}
    finally:
        await jobs.stop()


async def test_window_state_at_start_follows_the_clock(clock: ManualClock) -> None:
    clock.move_to(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # 10:00 in New York
    rec = Recorder()
    jobs = Jobs(OrchestrationSettings(windows={"c1": WINDOW}), rec, ["c1"], clock=clock)
    await jobs.start()
    await jobs.stop()
    assert [name for name, _ in rec.calls] == ["open:c1"]


def test_window_open() -> None:
    assert window_open(WINDOW, datetime(2026, 3, 3, 14, 0, tzinfo=UTC))  # Tue 09:00 NY
    assert not window_open(WINDOW, datetime(2026, 3, 3, 13, 59, tzinfo=UTC))
    assert not window_open(WINDOW, datetime(2026, 3, 3, 22, 0, tzinfo=UTC))  # 17:00: closed
    assert not window_open(WINDOW, datetime(2026, 3, 7, 15, 0, tzinfo=UTC))  # Saturday
    assert window_open(WINDOW, datetime(2026, 3, 9, 13, 0, tzinfo=UTC))  # EDT: 09:00 NY


async def test_a_failing_job_is_counted_and_the_others_go_on(clock: ManualClock) -> None:
    class Broken(Recorder):
        async def recycle(self, now: datetime) -> None:
            raise RuntimeError("database down")

    rec = Broken()
    jobs = Jobs(OrchestrationSettings(jobs={"recycle_seconds": 60}), rec, [], clock=clock)
    await jobs.start()
    try:
        ran = await step(jobs, clock, START + timedelta(seconds=60), rec)
        assert "callbacks" in ran and jobs.failures["recycle"] == 1
    finally:
        await jobs.stop()


async def test_job_actions_on_the_store(db_url: str) -> None:
    """recycle, retention (>= 2 years kept) and ledger expiry on a real store."""
    store = await make_store(db_url, 3)
    try:
        old = NOON - timedelta(days=800)
        recent = NOON - timedelta(days=700)
        async with store.sessions() as s, s.begin():
            await s.execute(
                update(CaseRow)
                .where(CaseRow.id == 1)
                .values(next_attempt_at=NOON - timedelta(minutes=1))
            )
            await s.execute(
                update(CaseRow)
                .where(CaseRow.id == 2)
                .values(next_attempt_at=NOON + timedelta(minutes=1))
            )
            for i, at in enumerate((old, recent)):
                await s.execute(
                    insert(CallAttempt).values(
                        case_id=1,
                        campaign_id=store.campaign_id,
                        number_e164="+12125550001",
                        call_id=f"a{i}",
                        dialed_at=at,
                        abandoned=False,
                        outcome="no_answer",
                    )
                )
            attempt = await s.scalar(select(CallAttempt.id).where(CallAttempt.call_id == "a0"))
            await DispositionRepository(s).add(1, "note", attempt_id=attempt, note="kept", at=old)
            ledger = LedgerRepository(s)
            await ledger.record(store.campaign_id, NOON - timedelta(days=40), 5, 1)
            await ledger.record(store.campaign_id, NOON - timedelta(days=20), 5, 1)
        o = Orchestrator(OrchestrationSettings(), store.sessions, owner="d1", now=lambda: NOON)
        o.campaign_ids["c1"] = store.campaign_id
        await o.recycle(NOON)
        await o.retention(NOON)
        await o.expire_ledger(NOON)
        async with store.sessions() as s:
            parked = dict(
                (await s.execute(select(CaseRow.id, CaseRow.next_attempt_at))).tuples().all()
            )
            calls = list(await s.scalars(select(CallAttempt.call_id)))
            note = (await s.execute(select(Disposition.note, Disposition.attempt_id))).one()
            ledger_rows = await s.scalar(select(func.count()).select_from(AbandonLedger))
        assert parked[1] is None, "due: back in the ready lane"
        assert parked[2] == NOON + timedelta(minutes=1), "not yet due: still parked"
        assert calls == ["a1"], "older than 2 years deleted; 700 days kept"
        assert tuple(note) == ("kept", None), "the disposition outlives its attempt record"
        assert ledger_rows == 1, "ledger entries beyond the longest window (30 days) expire"
    finally:
        await store.dispose()


def test_retention_below_two_years_is_refused() -> None:
    with pytest.raises(ValueError, match="730"):
        OrchestrationSettings(retention_days=365)
    with pytest.raises(ValueError, match="crontab"):
        OrchestrationSettings(jobs={"rebalance_cron": "every night"})
