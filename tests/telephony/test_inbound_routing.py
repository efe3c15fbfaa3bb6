"""Return calls routed by the real engine: sipp as the calling debtor, the SIP trunk, the
daemon's inbound desk, a campaign runner over the campaign's own engine (build_engine),
the store. test_inbound_e2e.py holds the wire and the store to a scripted engine; here the
engine decides: the case's owner when free, else the owner's team, and with no one free
the queue, the callback offer after `inbound.max_wait_seconds`, and the caller's key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dialogkit import wait_until
from inboundkit import caller_args
from sipkit import RtpPeer, RtpPeerFactory, SippFactory, TrunkFactory, trunk_settings
from sqlalchemy.ext.asyncio import AsyncEngine
from test_inbound_e2e import (
    DEBTOR,
    OURS,
    collector_hears_the_caller,
    no_cases,
    seed_floor,
    stored,
)

from dialer.clock import Clock
from dialer.compliance import load_profile
from dialer.daemon.build import build_engine
from dialer.daemon.inbound_desk import InboundDesk
from dialer.daemon.pump import pump
from dialer.daemon.runner import CampaignRunner
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.agents import CollectorState
from dialer.domain.events import CollectorLoggedIn, CollectorPaused, CollectorReady
from dialer.domain.inbound import InboundOutcome
from dialer.engine import Engine
from dialer.metrics import Metrics
from dialer.settings import CampaignInboundSettings, CampaignSettings, Settings
from dialer.store.db import session_factory
from dialer.store.tables import CaseRow
from dialer.telephony.sip import SipTrunk

pytestmark = pytest.mark.sip


@dataclass
class Floor:
    engine: Engine
    runner: CampaignRunner
    trunk: SipTrunk
    sessions: Any
    cases: dict[str, int]
    collectors: dict[str, int]
    agent: RtpPeer

    @property
    def trunk_port(self) -> int:
        return self.trunk.local_address[1]

    async def state(self, collector: str, state: CollectorState) -> None:
        await wait_until(lambda: self.engine.collectors[collector].state is state, timeout=5)


@pytest.fixture
async def floor(
    migrated_engine: AsyncEngine,
    sipp: SippFactory,
    trunks: TrunkFactory,
    rtp_peers: RtpPeerFactory,
    tmp_path: Path,
) -> AsyncIterator[Floor]:
    sessions = session_factory(migrated_engine)
    campaign_id, collectors, ids = await seed_floor(sessions)
    campaign = CampaignSettings(
        name="c1",
        compliance_profile="us_tsr_regf",
        caller_id=OURS,
        inbound=CampaignInboundSettings(max_wait_seconds=1.0),
    )
    settings = Settings(campaigns=[campaign])
    profile = load_profile("us_tsr_regf")
    metrics, clock = Metrics(), Clock()
    runners: dict[str, CampaignRunner] = {}
    desk = InboundDesk(settings, metrics, sessions, clock, runners, {"c1": profile})
    agent = await rtp_peers()
    phone = await sipp(2, rtpport=agent.port)
    phones = {c: f"sip:20000000{i}@127.0.0.1:{phone.port}" for i, c in enumerate(("alice", "bob"))}
    trunk, events = await trunks(
        trunk_settings(1, collectors=phones, voicemail_dir=tmp_path / "vm"), inbound=desk
    )
    engine = build_engine(campaign, profile, np.random.default_rng(3))
    runner = CampaignRunner(
        engine,
        campaign_id,
        trunk,
        StoreWriter(sessions, metrics),
        metrics,
        clock,
        no_cases,
        dict(collectors),
    )
    runners["c1"] = runner
    desk.attach()
    for name in ("alice", "bob"):
        await asyncio.wait_for(trunk.collector_login(name, None), 5)
    running = asyncio.create_task(runner.run())
    pumping = asyncio.create_task(pump(events, runners, desk))
    floor = Floor(engine, runner, trunk, sessions, ids, collectors, agent)
    for name in ("alice", "bob"):
        runner.push(CollectorLoggedIn(name, team="north"))
        runner.push(CollectorReady(name))
        await floor.state(name, CollectorState.READY)
    yield floor
    runner.drain()
    await asyncio.wait_for(running, 10)
    pumping.cancel()
    await desk.drain()


async def _answered_by(floor: Floor, sipp: SippFactory, collector: str) -> None:
    caller = await sipp(1, "inbound_caller.xml", extra=caller_args(floor.trunk_port, OURS, DEBTOR))
    await floor.state(collector, CollectorState.ON_CALL)
    [call_id] = list(floor.engine.inbound_calls)
    await wait_until(lambda: floor.trunk.call_rtp_port(call_id) is not None)
    await collector_hears_the_caller(floor, call_id)  # type: ignore[arg-type]
    await floor.runner.hang_up(call_id)  # the collector ends the call
    await caller.assert_all_calls_passed()
    record = await stored(floor, call_id)  # type: ignore[arg-type]
    assert record.outcome is InboundOutcome.ANSWERED
    assert (record.case_id, record.collector_id) == (
        floor.cases["owned"],
        floor.collectors[collector],
    )
    await floor.state(collector, CollectorState.WRAP_UP)  # a call like any: wrap-up after it


async def test_the_engine_puts_a_known_debtor_through_to_the_cases_owner(
    floor: Floor, sipp: SippFactory
) -> None:
    await _answered_by(floor, sipp, "alice")


async def test_with_the_owner_not_free_the_engine_puts_it_through_to_her_team(
    floor: Floor, sipp: SippFactory
) -> None:
    floor.runner.push(CollectorPaused("alice", "break"))
    await floor.state("alice", CollectorState.PAUSED)
    await _answered_by(floor, sipp, "bob")


async def test_with_no_one_free_the_engine_queues_offers_and_books_the_callback(
    floor: Floor, sipp: SippFactory
) -> None:
    for name in ("alice", "bob"):
        floor.runner.push(CollectorPaused(name, "break"))
        await floor.state(name, CollectorState.PAUSED)
    caller = await sipp(1, "inbound_dtmf.xml", extra=caller_args(floor.trunk_port, OURS, DEBTOR))
    await wait_until(lambda: bool(floor.engine.inbound_calls), timeout=10)
    [call_id] = list(floor.engine.inbound_calls)
    await caller.assert_all_calls_passed()  # the queue, the offer, its "1", our BYE
    record = await stored(floor, call_id)  # type: ignore[arg-type]
    assert record.outcome is InboundOutcome.CALLBACK_REQUESTED
    assert record.queued_at is not None and record.offered_at is not None
    # offered after the campaign's longest wait in the queue
    assert record.offered_at - record.queued_at >= timedelta(seconds=0.9)
    assert record.case_id == floor.cases["owned"] and record.callback_at is not None
    async with floor.sessions() as session:
        case = await session.get(CaseRow, floor.cases["owned"])
    assert case is not None and (case.followup_kind, case.followup_at) == (
        "callback",
        record.callback_at,
    )
    assert all(c.state is CollectorState.PAUSED for c in floor.engine.collectors.values())
