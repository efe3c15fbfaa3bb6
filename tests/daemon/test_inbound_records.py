"""An inbound call's record survives a store outage: kept and retried while PostgreSQL is
down (a private cluster this test crashes and starts again), and at a stop with the store
still down left in a spool, the caller's number sealed, that the next start writes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pgcluster import Cluster, private_cluster
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import load_profile
from dialer.daemon.inbound_records import InboundRecorder
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.domain.model import Bucket, PhoneNumber
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.inbound_repo import CallerMatch
from dialer.store.records import NewCase
from dialer.store.repositories import CampaignRepository, CaseRepository
from dialer.store.tables import CaseRow, InboundCallRow
from dialer.telephony.inbound_settings import InboundSettings

pytestmark = pytest.mark.postgres
CALLER = "+12125550123"
ARRIVED = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()


def finished(call_id: str, outcome: InboundOutcome) -> InboundCall:
    call = InboundCall(call_id, CALLER, None, arrived_at=ARRIVED, queued_at=ARRIVED + 1.0)
    call.offered_at, call.ended_at, call.outcome = ARRIVED + 61.0, ARRIVED + 70.0, outcome
    return call


async def seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        campaign_id = await CampaignRepository(session).upsert(
            "c1", compliance_profile="us_tsr_regf"
        )
        cases = CaseRepository(session)
        new = NewCase(
            debtor_ref="d1",
            display_name_masked="J*** S****",
            balance=Decimal("250.00"),
            days_past_due=45,
            bucket=Bucket.M2,
            numbers=(PhoneNumber(CALLER),),
            timezone="America/New_York",
        )
        await cases.upsert_many(campaign_id, [new])
        case_id = await cases.id_for_ref(campaign_id, "d1")
    assert case_id is not None
    return campaign_id, case_id


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[InboundCallRow]:
    async with sessions() as session:
        return list(await session.scalars(select(InboundCallRow).order_by(InboundCallRow.id)))


def recorder(sessions: async_sessionmaker[AsyncSession]) -> InboundRecorder:
    return InboundRecorder(InboundSettings(), sessions, {"c1": load_profile("us_tsr_regf")})


async def started(cluster: Cluster) -> tuple[async_sessionmaker[AsyncSession], int, int]:
    await migrate(cluster.url)
    sessions = session_factory(create_engine(cluster.url))
    campaign_id, case_id = await seed(sessions)
    return sessions, campaign_id, case_id


async def test_a_record_waits_for_the_store_and_lands_when_it_is_back() -> None:
    with private_cluster() as cluster:
        sessions, campaign_id, case_id = await started(cluster)
        desk = recorder(sessions)
        cluster.crash()
        call = finished("in-1", InboundOutcome.CALLBACK_REQUESTED)
        task = asyncio.create_task(
            desk.record(campaign_id, "c1", call, CALLER, CallerMatch(case_id), None, None)
        )
        while not desk.pending:  # the first write has failed and it is kept
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert not task.done() and list(desk.pending) == ["in-1"]
        cluster.start()
        await asyncio.wait_for(task, 30)
        assert not desk.pending and desk.written == 1
        (row,) = await stored(sessions)
        assert (row.call_id, row.outcome, row.case_id) == ("in-1", "callback_requested", case_id)
        assert row.number_e164 == CALLER and row.callback_at is not None
        async with sessions() as session:
            followup = await session.scalar(
                select(CaseRow.followup_kind).where(CaseRow.id == case_id)
            )
            at_rest = await session.scalar(text("select number_e164 from inbound_calls"))
        assert followup == "callback"
        assert CALLER not in str(at_rest)  # sealed at rest


async def test_a_stop_with_the_store_down_spools_and_the_next_start_writes(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "store-spool.inbound.jsonl"
    with private_cluster() as cluster:
        sessions, campaign_id, case_id = await started(cluster)
        desk = recorder(sessions)
        cluster.crash()
        calls = [
            finished("in-1", InboundOutcome.CALLBACK_REQUESTED),
            finished("in-2", InboundOutcome.ABANDONED),
        ]
        tasks = [
            asyncio.create_task(
                desk.record(campaign_id, "c1", call, CALLER, CallerMatch(case_id), None, None)
            )
            for call in calls
        ]
        while len(desk.pending) < 2:
            await asyncio.sleep(0.05)
        for task in tasks:  # the stop: the drain's grace is over
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert desk.spool(spool) == 2 and not desk.pending
        text_at_rest = spool.read_text()
        assert CALLER not in text_at_rest and "in-1" in text_at_rest
        spool.write_text(text_at_rest + "not json\n")  # a line damaged by hand

        cluster.start()
        again = recorder(sessions)
        replayed = InboundRecorder.replay(spool)
        assert [p.record.call_id for p in replayed] == ["in-1", "in-2"]
        assert replayed[0].record.number == CALLER and replayed[0].callback
        assert not spool.exists()
        bad = spool.with_name(spool.name + ".bad").read_text().splitlines()
        assert bad == ["not json"]  # kept aside, not lost
        for pending in replayed:
            await again.commit(pending)
        rows = await stored(sessions)
        assert [(r.call_id, r.outcome) for r in rows] == [
            ("in-1", "callback_requested"),
            ("in-2", "abandoned"),
        ]
        assert rows[0].callback_at is not None and rows[1].callback_at is None
        # Written twice (a replay of a spool already taken): the store keeps one.
        await again.commit(replayed[1])
        assert len(await stored(sessions)) == 2
        assert json.loads(text_at_rest.splitlines()[0])["record"]["call_id"] == "in-1"
