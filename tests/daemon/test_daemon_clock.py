"""One clock for everything the daemon schedules (dialer.clock): clocks that share a start
and an anchor agree however far apart they were made; the running daemon's jobs and lease
heartbeat run on its clock at speed 30, and every case it holds stays leased ahead of that
clock."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.clock import Clock, ManualClock
from dialer.daemon import Daemon
from dialer.settings import load_settings
from dialer.store.tables import CaseRow

DAYTIME = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 11:00 in New York
SPEED = 30
WAIT = 30.0


class FakeTime:
    """time.time and time.monotonic that move only when told."""

    def __init__(self) -> None:
        self.wall, self.mono = 1_800_000_000.0, 100.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    # dialer.clock reads time.time and time.monotonic of the time module (restored after).
    monkeypatch.setattr(time, "time", lambda: fake.wall)
    monkeypatch.setattr(time, "monotonic", lambda: fake.mono)
    return fake


def test_clocks_with_one_anchor_agree_however_late_they_start(fake_time: FakeTime) -> None:
    start = DAYTIME.timestamp()
    anchor = fake_time.wall
    first = Clock(SPEED, start, anchor)
    assert first.now() == start
    fake_time.advance(5.0)  # the second daemon starts 5 s later
    second = Clock(SPEED, start, anchor)
    unanchored = Clock(SPEED, start)
    assert first.now() == second.now() == start + 5.0 * SPEED
    assert first.now() - unanchored.now() == 5.0 * SPEED, "without the anchor: 150 s apart"
    fake_time.advance(1.0)
    assert second.now() - first.now() == 0.0
    assert first.utcnow() == datetime.fromtimestamp(start + 6.0 * SPEED, UTC)
    assert first.real_seconds(300) == 10.0, "a 300 s lease lasts 10 real seconds"


def test_the_wall_clock_at_speed_1(fake_time: FakeTime) -> None:
    clock = Clock()
    assert clock.now() == fake_time.wall
    fake_time.advance(2.5)
    assert clock.now() == fake_time.wall
    assert clock.real_seconds(4.0) == 4.0 and clock.real_seconds(-1.0) == 0.0


def test_manual_clock() -> None:
    clock = ManualClock(DAYTIME, speed=SPEED)
    assert clock.utcnow() == DAYTIME
    clock.advance(90)
    assert clock.utcnow() == DAYTIME + timedelta(seconds=90)
    clock.move_to(DAYTIME.timestamp())
    assert clock.now() == DAYTIME.timestamp()
    assert clock.real_seconds(90) == 3.0
    with pytest.raises(ValueError):
        Clock(0)


async def test_the_daemon_keeps_its_leases_ahead_of_its_clock_at_speed_30(
    tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "{db_url}", spool_path: "{tmp_path}/spool.jsonl"}}
web: {{enabled: false}}
collectors: {{count: 6, pause_probability: 0.0}}
demo_cases: 200
drain_timeout: 5
logging: {{level: WARNING}}
orchestration: {{lease_seconds: 60}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0}}
"""
    )
    # 60 s leases: 2 s of real time at speed 30, a heartbeat every 20 s of the clock.
    daemon = Daemon(load_settings(path), speed=SPEED, clock_start=DAYTIME.timestamp(), seed=4)
    await daemon.prepare()
    task = asyncio.create_task(daemon.run())
    checked = 0
    try:
        await asyncio.wait_for(daemon.wait_ready(), WAIT)
        assert daemon.orchestrator is not None and daemon.orchestrator.jobs is not None
        jobs = daemon.orchestrator.jobs
        engine = daemon.runners["c1"].engine
        deadline = time.monotonic() + WAIT
        beats = jobs.runs["lease_heartbeat"]
        while checked < 4:  # four heartbeats, the store looked at after each
            assert time.monotonic() < deadline, f"only {checked} heartbeats in {WAIT} s"
            await asyncio.sleep(0.01)  # polling for the next heartbeat, not timing
            if jobs.runs["lease_heartbeat"] == beats:
                continue
            beats = jobs.runs["lease_heartbeat"]
            last = jobs.last_run["lease_heartbeat"]
            now = daemon.clock.utcnow()
            # On the daemon's clock (the wall clock is months away from DAYTIME). Not within
            # one lease: at speed 30 a loaded machine's second of scheduling jitter is 30 s
            # of the daemon's clock; whether the leases stay ahead is checked below.
            assert timedelta(0) <= now - last < timedelta(hours=1), "stamped on its clock"
            held = {int(ref) for ref in engine.queued_refs}
            async with daemon.sessions() as s:
                rows = (
                    await s.execute(
                        select(CaseRow.id, CaseRow.lease_owner, CaseRow.lease_expires_at).where(
                            CaseRow.id.in_(held)
                        )
                    )
                ).all()
            for case_id, owner, expires in rows:
                if str(case_id) not in engine.queued_refs:
                    continue  # its call ended meanwhile: the lease went with it
                assert owner == daemon.instance, f"case {case_id} lost its lease"
                assert expires > now, f"case {case_id}'s lease lapsed at {expires}, now {now}"
            checked += 1 if rows else 0
        assert engine.stats.dials > 0
        assert jobs.failures == {}
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)
