"""No record, no call: a PostgreSQL outage mid-shift (a private cluster this test starts,
crashes and starts again) stops dialing at once, loses nothing, and dialing resumes by
itself; afterwards the store matches the simulated carrier's own log call for call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from pgcluster import private_cluster
from sqlalchemy import text

from dialer.daemon import Daemon
from dialer.settings import load_settings
from dialer.store.db import create_engine

pytestmark = pytest.mark.postgres
DAYTIME = 1772553600.0  # 2026-03-03 16:00 UTC: calling hours in every zone of the demo cases
T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T] | T], what: str, timeout: float = 60) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def settings_for(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "{url}", spool_path: "{tmp_path}/spool.jsonl"}}
web: {{host: 127.0.0.1, port: 0}}
collectors: {{count: 6, pause_probability: 0.0}}
demo_cases: 300
drain_timeout: 30
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0, target_abandon_rate: 0.03}}
"""
    )
    return load_settings(path)


async def test_store_outage_stops_dialing_and_loses_nothing(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        daemon = Daemon(settings_for(cluster.url, tmp_path), speed=30, clock_start=DAYTIME, seed=3)
        await daemon.prepare()
        task = asyncio.create_task(daemon.run())
        loop = asyncio.get_running_loop()
        placed_at: list[float] = []
        try:
            await asyncio.wait_for(daemon.wait_ready(), 30)
            trunk = daemon.trunk
            assert trunk is not None
            original = trunk.originate

            async def originate(call_id: str, number: str, ring_timeout: float) -> None:
                placed_at.append(loop.time())
                await original(call_id, number, ring_timeout)

            trunk.originate = originate  # type: ignore[method-assign]
            await until(lambda: len(placed_at) >= 20, "20 calls placed")
            port = await until(lambda: daemon.web_port, "the web server")
            health = f"http://127.0.0.1:{port}/healthz"

            await asyncio.to_thread(cluster.crash)
            crashed_at = loop.time()
            assert daemon.writer is not None
            writer = daemon.writer
            await until(lambda: not writer.up, "the writer to see the outage", 10)
            async with httpx.AsyncClient() as client:
                reply = await client.get(health)
            assert reply.status_code == 503
            assert reply.json()["store"] is False and "not dialing" in reply.json()["store_problem"]
            engine = daemon.runners["c1"].engine
            assert "store_unavailable" in engine.holds
            # Every call up at the outage ends while the store is down; none is placed after.
            await until(lambda: not engine.calls, "the calls up at the outage to end", 60)
            assert writer.pending > 0, "their records wait in memory"
            assert max(placed_at) <= crashed_at + 1.0, "dialing stopped within a second"
            placed_during_outage = len(placed_at)

            await asyncio.to_thread(cluster.start)
            await until(lambda: writer.up and writer.pending == 0, "the writes to land", 60)
            assert not engine.holds
            await until(lambda: len(placed_at) > placed_during_outage + 5, "dialing to resume")
            async with httpx.AsyncClient() as client:
                assert (await client.get(health)).status_code == 200
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, 90)

        # The store, call for call, against the carrier's own log.
        db = create_engine(cluster.url)
        try:
            async with db.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT call_id, outcome, answered_at IS NOT NULL FROM call_attempts")
                    )
                ).all()
                live, abandons = (
                    await conn.execute(
                        text(
                            "SELECT coalesce(sum(live_answers), 0), coalesce(sum(abandons), 0)"
                            " FROM abandon_ledger"
                        )
                    )
                ).one()
                abandoned = await conn.scalar(
                    text("SELECT count(*) FROM call_attempts WHERE outcome = 'abandoned'")
                )
        finally:
            await db.dispose()
    stored = {call_id: (outcome, answered) for call_id, outcome, answered in rows}
    assert set(stored) == set(trunk.log), "an attempt row for every call placed, and no other"
    assert all(outcome is not None for outcome, _ in stored.values()), "every outcome written"
    assert {c for c, (_, answered) in stored.items() if answered} == trunk.live_answered
    assert live == len(trunk.live_answered), "the ledger counts every live answer"
    assert abandons == abandoned
