"""Debtors calling back on the simulated carrier: the daemon on its embedded defaults plus
`trunk.simulated.callers` takes them through the inbound desk (identified by the numbers it
dialed, routed, queued, offered a callback), records each, and counts them in the metrics;
the blended campaign's pacer keeps its reservation for them."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dialer.daemon import Daemon
from dialer.pacing.blending import ErlangReservation
from dialer.settings import load_settings
from dialer.store.tables import CaseNumber, InboundCallRow
from dialer.telephony.simulated import SimulatedTrunk

DAYTIME = 1772553600.0  # 2026-03-03 16:00 UTC: calling hours in every zone of the demo cases


def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{host: 127.0.0.1, port: 0}}
trunk:
  kind: simulated
  simulated:
    answer_probability: 0.5
    answer_delay: {{dist: fixed, value: 5}}
    callers:
      calls_per_hour: 240
      talk: {{dist: fixed, value: 200}}
      patience: {{dist: fixed, value: 40}}
      callback_share: 1.0
      unknown_share: 0.5
collectors: {{count: 3, pause_probability: 0.0, talk: {{dist: fixed, value: 200}}}}
demo_cases: 200
drain_timeout: 5
logging: {{level: WARNING}}
inbound: {{service_level_seconds: 10}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: predictive, target_abandon_rate: 0.03}}
    inbound: {{max_wait_seconds: 30, service_level: 0.8, answer_within_seconds: 10}}
"""
    )
    return load_settings(path)


async def until_true(check, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_simulated_debtors_call_back_and_every_call_is_recorded(tmp_path: Path) -> None:
    daemon = Daemon(settings_for(tmp_path), speed=60, clock_start=DAYTIME, seed=5)
    await daemon.prepare()
    task = asyncio.create_task(daemon.run())

    async def rows() -> list[InboundCallRow]:
        async with daemon.sessions() as session:
            return list(await session.scalars(select(InboundCallRow)))

    async def enough() -> bool:
        outcomes = Counter((r.outcome, r.case_id is not None) for r in await rows())
        answered = outcomes["answered", True] + outcomes["answered", False]
        return answered >= 3 and outcomes["callback_requested", True] >= 1

    try:
        await asyncio.wait_for(daemon.wait_ready(), 30)
        assert daemon.inbound is not None, "the desk takes the simulated carrier's callers"
        pacer = daemon.runners["c1"].engine.pacer
        assert isinstance(getattr(pacer, "inbound", None), ErlangReservation)
        # Callers call back from numbers the dialer called; with 3 collectors flooded by
        # callers it may not have dialed yet, so one it "dialed" is handed over here.
        async with daemon.sessions() as session:
            number, index = (
                await session.execute(select(CaseNumber.e164, CaseNumber.e164_index).limit(1))
            ).one()
            # demo numbers come from the 555-01xx fiction range: cases may share one
            cases = set(
                await session.scalars(
                    select(CaseNumber.case_id).where(CaseNumber.e164_index == index)
                )
            )
        trunk = daemon.trunk
        assert isinstance(trunk, SimulatedTrunk) and trunk.callers is not None
        trunk.callers.dialed(number)
        await until_true(enough, "answered callers and a callback request", 90)
        port = daemon.web_port
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)

    stored = await rows()
    # Known callers: numbers the dialer called, each matched to its case; the rest unknown.
    assert {r.case_id for r in stored} & cases
    assert all(r.number_index is not None for r in stored)
    answered = [r for r in stored if r.outcome == "answered"]
    assert all(r.collector_id is not None and r.bridged_at is not None for r in answered)
    callbacks = [r for r in stored if r.outcome == "callback_requested"]
    # Three collectors busy 200 s a call: a caller waited the 30 s, then pressed 1.
    assert all(r.wait_seconds >= 29.0 and r.offered_at is not None for r in callbacks)
    # A known caller's request is a callback on their case; an unknown caller's cannot be.
    assert all((r.callback_at is not None) == (r.case_id is not None) for r in callbacks)
    offered = [
        line for line in metrics.splitlines() if line.startswith("dialer_inbound_offered_total")
    ]
    assert offered and float(offered[0].split()[-1]) >= len(answered)
    assert reservation_learnt(pacer)


def reservation_learnt(pacer: object) -> bool:
    reservation = getattr(pacer, "inbound", None)
    return isinstance(reservation, ErlangReservation) and reservation.seen > 0


async def test_a_restarted_daemon_records_its_callers_on_the_same_store(tmp_path: Path) -> None:
    """The simulated callers' call ids are unique across runs: the second run's callers
    are recorded next to the first's, none refused as a duplicate."""
    stored: list[set[str]] = []
    for seed in (5, 6):
        daemon = Daemon(settings_for(tmp_path), speed=60, clock_start=DAYTIME, seed=seed)
        await daemon.prepare()
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.wait_for(daemon.wait_ready(), 30)
            trunk = daemon.trunk
            assert isinstance(trunk, SimulatedTrunk) and trunk.callers is not None
            prefix = f"in-sim-{trunk.callers.run_id}-"

            async def ids(daemon: Daemon = daemon) -> set[str]:
                async with daemon.sessions() as session:
                    return set(await session.scalars(select(InboundCallRow.call_id)))

            async def two_of_this_run(prefix: str = prefix) -> bool:
                return sum(i.startswith(prefix) for i in await ids()) >= 2

            await until_true(two_of_this_run, "two callers of this run recorded", 90)
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, 60)
        stored.append(await ids())
    first, both = stored
    assert first < both and len(both - first) >= 2
