"""The daemon with orchestration wired in: refills through leases, a collector logging off
moves their due callbacks while dialing goes on, and a clean stop leaves no lease."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from dialer.daemon import Daemon
from dialer.domain.agents import CollectorState
from dialer.domain.events import CollectorLoggedOut
from dialer.settings import load_settings
from dialer.store.tables import Assignment, CaseRow, Collector

CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()  # 11:00 in New York
WAIT = 30.0


async def until(check: object, what: str) -> None:
    """Bounded polling for something the running daemon does on its own."""
    async with asyncio.timeout(WAIT):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_daemon_leases_reassigns_on_logoff_and_releases_at_stop(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text(f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{enabled: false}}
collectors: {{count: 6, pause_probability: 0.0}}
demo_cases: 300
drain_timeout: 20
logging: {{level: WARNING}}
orchestration: {{lease_seconds: 120, jobs: {{priorities_cron: "5 3 * * *"}}}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0}}
""")
    daemon = Daemon(load_settings(path), speed=40, clock_start=CLOCK_START, seed=5)
    await daemon.prepare()
    sessions = daemon.sessions
    soon = datetime.fromtimestamp(CLOCK_START, UTC) + timedelta(minutes=30)
    async with sessions() as s, s.begin():
        people = dict((await s.execute(select(Collector.username, Collector.id))).tuples().all())
        team = await s.scalar(select(Collector.team_id).where(Collector.username == "sim-001"))
        # Ten cases of sim-001 with callbacks due in half an hour, last in priority order.
        await s.execute(
            update(CaseRow)
            .where(CaseRow.id <= 10)
            .values(
                owner_collector_id=people["sim-001"],
                team_id=team,
                priority=-1.0,
                followup_at=soon,
                followup_kind="callback",
            )
        )
    # No wall-clock duration: on a loaded machine it could end the run before the move.
    # (The full priority recompute is moved to 03:05: the jobs run on the daemon's clock,
    # and at 16:05 it would lift the ten cases' priority -1, so they would be dialed.)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.wait_ready(), WAIT)
    runner = daemon.runners["c1"]
    engine = runner.engine
    assert daemon.orchestrator is not None and daemon.orchestrator.jobs is not None

    async def dialing() -> bool:
        return engine.stats.dials > 10

    await until(dialing, "the daemon dials")

    async def leased_match() -> bool:
        async with sessions() as s:
            held = await s.scalar(
                select(func.count()).where(CaseRow.lease_owner == daemon.instance)
            )
        return bool(held) and held >= engine.hopper_size

    await until(leased_match, "the hopper's cases are leased to this daemon")

    # A collector logs off from wrap-up (not mid-call: the engine refuses that).
    async def wrapping_up() -> bool:
        return engine.collectors["sim-001"].state is CollectorState.WRAP_UP

    await until(wrapping_up, "sim-001 in wrap-up")
    runner.push(CollectorLoggedOut("sim-001"))

    async def moved() -> bool:
        async with sessions() as s:
            return bool(await s.scalar(select(func.count()).select_from(Assignment)) == 10)

    await until(moved, "sim-001's due callbacks moved")
    assert engine.collectors["sim-001"].state is CollectorState.LOGGED_OUT
    dials_at_move = engine.stats.dials

    async def dialing_went_on() -> bool:
        return engine.stats.dials > dials_at_move

    await until(dialing_went_on, "dialing goes on after the move")
    daemon.request_stop()
    await asyncio.wait_for(task, 120)
    async with sessions() as s:
        moves = (await s.execute(select(Assignment.to_collector_id, Assignment.reason))).all()
        held = await s.scalar(select(func.count()).where(CaseRow.lease_owner.is_not(None)))
    assert {to for to, _ in moves} <= {people[f"sim-00{i}"] for i in range(2, 7)}
    assert all(reason.startswith("logoff: sim-001 logged off") for _, reason in moves)
    assert held == 0, "a clean stop releases every lease"
    assert not daemon.orchestrator.jobs.running
    assert daemon.orchestrator.hoppers["c1"].last is not None
