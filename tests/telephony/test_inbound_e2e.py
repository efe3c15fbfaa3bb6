"""Return calls end to end: sipp as the calling debtor, the SIP trunk, the daemon's inbound
desk, a campaign runner, the store (SQLite; PostgreSQL too when configured).

The engine's inbound routing is another part of issue #21: here a scripted engine stands
in for it and answers each event with the commands the engine would emit (`Bridge` to the
collector it routed to, `QueueInbound`, `OfferCallback`, `InboundFinished`, `Hangup`). Which
collector the engine picks (owner, then team, then anyone) is the engine's to test; this
file tests that what it decides happens on the wire and in the store: the case and the
other matching cases reach the runner, the caller's audio reaches the collector's leg,
the queue and the offer play, a key press comes back as the choice, each call is stored
in `inbound_calls`, a callback is booked at a time compliance allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from dialogkit import rtp, wait_until
from inboundkit import caller_args
from sipkit import RtpPeer, RtpPeerFactory, SippFactory, TrunkFactory, trunk_settings
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.clock import Clock
from dialer.compliance import callback_decision, load_profile
from dialer.daemon.inbound_desk import UNFINISHED_SECONDS, InboundDesk
from dialer.daemon.pump import pump
from dialer.daemon.runner import CampaignRunner
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.commands import (
    Bridge,
    Command,
    Hangup,
    InboundFinished,
    OfferCallback,
    QueueInbound,
)
from dialer.domain.events import CallHungUp, Event, InboundCallArrived, InboundCallerChose
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.domain.model import Bucket, ContactOutcome, DialTarget, PhoneNumber
from dialer.engine import Engine
from dialer.metrics import Metrics
from dialer.settings import CampaignSettings, Settings
from dialer.store.db import session_factory
from dialer.store.inbound_repo import InboundRecord, InboundRepository
from dialer.store.records import NewCase
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
    contact_history,
)
from dialer.store.tables import CaseRow
from dialer.telephony.sip import SipTrunk

pytestmark = pytest.mark.sip
OURS = "+12025550100"  # the campaign's caller ID
DEBTOR = "+12125550123"
STRANGER = "+13125550999"
LONG_AGO = datetime(2026, 2, 1, tzinfo=UTC)
LAST_WEEK = datetime(2026, 2, 20, tzinfo=UTC)


@dataclass
class ScriptedEngine:
    """Stands in for the engine's inbound routing: records every event it is handed and
    answers with the commands `script` gives for it (or, on a tick, those queued `later`)."""

    script: Callable[[Event, float], list[Command]]
    seen: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    later: list[Command] = field(default_factory=list)
    calls: dict[str, Any] = field(default_factory=dict)
    collectors: dict[str, Any] = field(default_factory=dict)
    draining: bool = False
    idle: bool = True
    queued_refs: frozenset[str] = frozenset()

    @dataclass
    class config:  # the runner reads engine.config.campaign
        campaign = "c1"

    def handle(self, event: Event, now: float) -> list[Command]:
        self.seen.put_nowait(event)
        return self.script(event, now)

    def tick(self, now: float) -> list[Command]:
        out, self.later = self.later, []
        return out

    def next_wakeup(self, now: float) -> float:
        return now if self.later else now + 0.05

    async def next_seen(self, kind: type, timeout: float = 10) -> Any:
        async def find() -> Any:
            while not isinstance(got := await self.seen.get(), kind):
                pass
            return got

        return await asyncio.wait_for(find(), timeout)


@dataclass
class World:
    desk: InboundDesk
    engine: ScriptedEngine
    trunk: SipTrunk
    metrics: Metrics
    sessions: Any
    cases: dict[str, int]
    collectors: dict[str, int]
    agent: RtpPeer

    @property
    def trunk_port(self) -> int:
        return self.trunk.local_address[1]

    def sample(self, name: str) -> float:
        for family in self.metrics.registry.collect():
            for s in family.samples:
                if s.name == name and s.labels.get("campaign") == "c1":
                    return float(s.value)
        raise KeyError(name)


def debtor_case(ref: str, owner: int | None) -> NewCase:
    return NewCase(
        debtor_ref=ref,
        display_name_masked="J*** S****",
        balance=Decimal("250.00"),
        days_past_due=45,
        bucket=Bucket.M2,
        numbers=(PhoneNumber(DEBTOR),),
        timezone="America/New_York",
        owner_collector_id=owner,
    )


async def no_cases(count: int, queued: frozenset[str], now: datetime) -> list[DialTarget]:
    return []


async def seed_floor(sessions: Any) -> tuple[int, dict[str, int], dict[str, int]]:
    """Campaign c1, alice and bob of team north, and the debtor's two cases: "owned"
    (alice's, contacted last week) and "older" (bob's, long ago), so a return call is about
    "owned". The campaign's id, the collectors' and the cases' ids."""
    async with sessions() as session, session.begin():
        campaign_id = await CampaignRepository(session).upsert(
            "c1", compliance_profile="us_tsr_regf"
        )
        people = CollectorRepository(session)
        collectors = {name: await people.upsert(name, team="north") for name in ("alice", "bob")}
        cases = CaseRepository(session)
        await cases.upsert_many(campaign_id, [debtor_case("older", collectors["bob"])])
        await cases.upsert_many(campaign_id, [debtor_case("owned", collectors["alice"])])
        found = {ref: await cases.id_for_ref(campaign_id, ref) for ref in ("older", "owned")}
        ids = {ref: i for ref, i in found.items() if i is not None}
        attempts = AttemptRepository(session)
        await attempts.start("c1-1", ids["older"], campaign_id, DEBTOR, LONG_AGO)
        await attempts.start("c1-2", ids["owned"], campaign_id, DEBTOR, LAST_WEEK)
    return campaign_id, collectors, ids


@pytest.fixture
async def world(
    migrated_engine: AsyncEngine,
    sipp: SippFactory,
    trunks: TrunkFactory,
    rtp_peers: RtpPeerFactory,
    tmp_path: Path,
) -> AsyncIterator[World]:
    sessions = session_factory(migrated_engine)
    campaign_id, collectors, ids = await seed_floor(sessions)
    settings = Settings(
        campaigns=[CampaignSettings(name="c1", compliance_profile="us_tsr_regf", caller_id=OURS)],
    )
    metrics, clock = Metrics(), Clock()
    runners: dict[str, CampaignRunner] = {}
    desk = InboundDesk(
        settings, metrics, sessions, clock, runners, {"c1": load_profile("us_tsr_regf")}
    )
    agent = await rtp_peers()
    phone = await sipp(2, rtpport=agent.port)
    # uas.xml answers at once a number starting 200 00000 (then whatever: 1 alice, 2 bob)
    phones = {c: f"sip:20000000{i}@127.0.0.1:{phone.port}" for i, c in enumerate(("alice", "bob"))}
    trunk, events = await trunks(
        trunk_settings(1, collectors=phones, voicemail_dir=tmp_path / "vm"), inbound=desk
    )
    engine = ScriptedEngine(lambda event, now: [])
    runner = CampaignRunner(
        cast(Engine, engine),
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
    yield World(desk, engine, trunk, metrics, sessions, ids, collectors, agent)
    engine.draining = True
    await asyncio.wait_for(running, 5)
    pumping.cancel()
    await desk.drain()


def finished(
    arrival: InboundCallArrived, outcome: InboundOutcome, now: float, **kw: Any
) -> InboundFinished:
    target = arrival.target
    call = InboundCall(
        arrival.call_id,
        arrival.number,
        target.case.ref if target is not None else None,
        arrival.other_case_refs,
        outcome=outcome,
        ended_at=now,
        **kw,
    )
    return InboundFinished(call)


async def stored(world: World, call_id: str) -> InboundRecord:
    async def row() -> InboundRecord:
        while True:
            async with world.sessions() as session:
                found = await InboundRepository(session).get(call_id)
            if found is not None:
                return found
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(row(), 10)


async def collector_hears_the_caller(world: World, call_id: str) -> None:
    """The caller speaks (from the address its SDP named): the collector's phone hears it."""
    port = world.trunk.call_rtp_port(call_id)
    assert port is not None
    loop = asyncio.get_running_loop()
    speaker, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        words = b"\x22" * 160
        world.agent.drain()
        for seq in range(5):
            speaker.sendto(rtp(77, seq, words), ("127.0.0.1", port))

        async def heard() -> None:
            while (await world.agent.next())[0][12:] != words:
                pass

        await asyncio.wait_for(heard(), 5)
    finally:
        speaker.close()


def bridging(world: World, collector: str) -> dict[str, InboundCallArrived]:
    """The engine routes every arrival to `collector` and reports it answered at the end."""
    arrivals: dict[str, InboundCallArrived] = {}
    bridged: dict[str, float] = {}

    def engine(event: Event, now: float) -> list[Command]:
        if isinstance(event, InboundCallArrived):
            arrivals[event.call_id] = event
            bridged[event.call_id] = now
            return [Bridge(event.call_id, collector)]
        if isinstance(event, CallHungUp) and event.call_id in arrivals:
            at = bridged[event.call_id]
            kw = {"arrived_at": at - 1.0, "bridged_at": at, "collector_id": collector}
            return [finished(arrivals[event.call_id], InboundOutcome.ANSWERED, now, **kw)]
        return []

    world.engine.script = engine
    return arrivals


async def test_a_known_debtor_reaches_the_owner_with_the_case_and_the_call_is_stored(
    world: World, sipp: SippFactory
) -> None:
    bridging(world, "alice")  # the owner is free
    caller = await sipp(1, "inbound_caller.xml", extra=caller_args(world.trunk_port, OURS, DEBTOR))
    arrival = await world.engine.next_seen(InboundCallArrived)
    assert arrival.number == DEBTOR
    assert arrival.target is not None and arrival.target.case.ref == str(world.cases["owned"])
    assert arrival.target.case.owner == "alice"
    assert arrival.other_case_refs == (str(world.cases["older"]),)
    await wait_until(lambda: world.trunk.call_rtp_port(arrival.call_id) is not None)
    await collector_hears_the_caller(world, arrival.call_id)
    world.engine.later.append(Hangup(arrival.call_id))  # the collector ends the call
    await caller.assert_all_calls_passed()  # 180, 200 with SDP, our BYE
    record = await stored(world, arrival.call_id)
    assert record.outcome is InboundOutcome.ANSWERED
    assert (record.case_id, record.collector_id) == (
        world.cases["owned"],
        world.collectors["alice"],
    )
    assert record.other_case_refs == (str(world.cases["older"]),)
    assert record.number == DEBTOR and record.wait_seconds == pytest.approx(1.0)
    async with world.sessions() as session:
        history = await contact_history(session, [world.cases["owned"]], LONG_AGO)
        attempts = await AttemptRepository(session).count(case_id=world.cases["owned"])
    last = history[world.cases["owned"]][-1]
    assert (last.outcome, last.inbound) == (ContactOutcome.CONVERSATION, True)
    assert attempts == 1  # the one outbound attempt: the return call is not an attempt
    assert world.sample("dialer_inbound_offered_total") == 1
    assert world.sample("dialer_inbound_answered_total") == 1
    assert world.sample("dialer_inbound_answered_in_target_total") == 1


async def test_with_the_owner_busy_the_team_mate_takes_it_and_the_record_names_them(
    world: World, sipp: SippFactory
) -> None:
    bridging(world, "bob")  # the engine's choice when alice is on a call
    caller = await sipp(1, "inbound_caller.xml", extra=caller_args(world.trunk_port, OURS, DEBTOR))
    arrival = await world.engine.next_seen(InboundCallArrived)
    await wait_until(lambda: world.trunk.call_rtp_port(arrival.call_id) is not None)
    await collector_hears_the_caller(world, arrival.call_id)
    world.engine.later.append(Hangup(arrival.call_id))
    await caller.assert_all_calls_passed()
    record = await stored(world, arrival.call_id)
    assert (record.case_id, record.collector_id) == (world.cases["owned"], world.collectors["bob"])


async def test_an_unknown_caller_arrives_without_a_case(world: World, sipp: SippFactory) -> None:
    bridging(world, "bob")
    caller = await sipp(
        1, "inbound_caller.xml", extra=caller_args(world.trunk_port, OURS, STRANGER)
    )
    arrival = await world.engine.next_seen(InboundCallArrived)
    assert (arrival.number, arrival.target, arrival.other_case_refs) == (STRANGER, None, ())
    world.engine.later.append(Hangup(arrival.call_id))
    await caller.assert_all_calls_passed()
    record = await stored(world, arrival.call_id)
    assert (record.case_id, record.number) == (None, STRANGER)


async def test_a_call_the_engine_never_records_is_forgotten_after_its_end(
    world: World, sipp: SippFactory
) -> None:
    """An engine that refuses the call (no InboundFinished): the desk drops it a while after
    the trunk reported its end, so nothing is kept for ever."""
    world.engine.script = lambda event, now: []  # no routing, no record
    caller = await sipp(1, "inbound_caller.xml", extra=caller_args(world.trunk_port, OURS, DEBTOR))
    arrival = await world.engine.next_seen(InboundCallArrived)
    await world.trunk.hangup(arrival.call_id)  # still ringing: refused (480)
    await world.engine.next_seen(CallHungUp)
    await wait_until(lambda: world.desk.owns(arrival.call_id))
    loop_now = asyncio.get_running_loop().time()
    assert world.desk.sweep(loop_now) == []  # just ended: the record may still come
    assert world.desk.sweep(loop_now + UNFINISHED_SECONDS + 1) == [arrival.call_id]
    assert not world.desk.owns(arrival.call_id)
    await caller.kill()  # it waited for a 200 that never came


async def test_a_number_not_ours_is_refused_and_counted(world: World, sipp: SippFactory) -> None:
    caller = await sipp(
        1, "inbound_refused.xml", extra=caller_args(world.trunk_port, "+12025550111", DEBTOR)
    )
    await caller.assert_all_calls_passed()  # 404
    assert world.engine.seen.empty()
    assert world.metrics.inbound_refused._value.get() == 1  # prometheus_client


async def test_with_no_one_free_the_caller_queues_then_presses_1_and_a_callback_is_booked(
    world: World, sipp: SippFactory
) -> None:
    arrivals: dict[str, InboundCallArrived] = {}

    def engine(event: Event, now: float) -> list[Command]:
        if isinstance(event, InboundCallArrived):  # nobody free: queue it
            arrivals[event.call_id] = event
            return [QueueInbound(event.call_id)]
        if isinstance(event, InboundCallerChose) and event.call_id in arrivals:
            arrival = arrivals[event.call_id]
            outcome = {"callback": InboundOutcome.CALLBACK_REQUESTED}.get(
                event.choice, InboundOutcome.UNANSWERED
            )
            kw = {"arrived_at": now - 3.0, "queued_at": now - 3.0, "offered_at": now - 1.0}
            return [finished(arrival, outcome, now, **kw), Hangup(event.call_id)]
        return []

    world.engine.script = engine
    caller = await sipp(1, "inbound_dtmf.xml", extra=caller_args(world.trunk_port, OURS, DEBTOR))
    arrival = await world.engine.next_seen(InboundCallArrived)
    # the queue message plays (the caller's side hears our RTP), then the engine offers
    await wait_until(lambda: world.trunk.stats.rtp_sent > 10, timeout=5)
    world.engine.later.append(OfferCallback(arrival.call_id))
    chose = await world.engine.next_seen(InboundCallerChose, timeout=15)
    assert chose == InboundCallerChose(arrival.call_id, "callback")  # sipp's RFC 4733 "1"
    await caller.assert_all_calls_passed()  # our BYE after the choice
    record = await stored(world, arrival.call_id)
    assert record.outcome is InboundOutcome.CALLBACK_REQUESTED
    assert record.case_id == world.cases["owned"] and record.callback_at is not None
    assert record.callback_at >= record.ended_at + timedelta(minutes=15)
    async with world.sessions() as session:
        case = await session.get(CaseRow, world.cases["owned"])
        detail = await CaseRepository(session).get(world.cases["owned"])
        history = await contact_history(session, [world.cases["owned"]], LONG_AGO)
    assert case is not None and detail is not None
    assert (case.followup_kind, case.followup_at) == ("callback", record.callback_at)
    profile = load_profile("us_tsr_regf")
    decision = callback_decision(
        profile, detail.case, history.get(world.cases["owned"], ()), record.callback_at
    )
    assert decision.allowed  # the booked time is one the dialer may call at
    assert world.sample("dialer_inbound_answered_total") == 0
