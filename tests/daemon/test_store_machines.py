"""A message left on a machine is stored as `machine_message_left` with AMD's verdict and
its time (migration 0009), counts no live answer in the ledger, and recycles after a day;
on SQLite and, when set, PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import select

from dialer.daemon.store_ops import AttemptEnded, AttemptStarted, from_plain, to_plain
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.calls import AmdVerdict, Call, CallState
from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.metrics import Metrics
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository
from dialer.store.records import NewCase
from dialer.store.repositories import CaseRepository
from dialer.store.tables import AbandonLedger, CallAttempt, CaseRow

NOW = 1772553600.0


def _voicemail_call() -> Call:
    call = Call("call-1", "case", "+12125550101")
    call.dial(NOW)
    call.leave_voicemail(NOW + 9.0)
    assert call.state is CallState.VOICEMAIL
    call.amd, call.amd_seconds = AmdVerdict.MACHINE, 3.25
    call.voicemail_ended(True, NOW + 40.0)
    return call


async def test_a_message_left_is_stored_with_the_verdict(db_url: str) -> None:
    await migrate(db_url)
    db = create_engine(db_url)
    sessions = session_factory(db)
    async with sessions() as session, session.begin():
        campaign = await CampaignRepository(session).upsert("c1", compliance_profile="us_tsr_regf")
        number = PhoneNumber("+12125550101")
        case = NewCase("D1", "D***", Decimal(100), 30, Bucket.M1, (number,))
        await CaseRepository(session).upsert_many(campaign, [case])
        case_id = await CaseRepository(session).id_for_ref(campaign, "D1")
    assert case_id is not None
    ended = AttemptEnded.of(_voicemail_call(), case_id, campaign)
    assert ended.outcome is ContactOutcome.MACHINE_MESSAGE_LEFT and not ended.live_answer
    assert (ended.amd, ended.amd_seconds) == ("machine", 3.25)
    assert from_plain({"kind": "AttemptEnded", **to_plain(ended)}) == ended  # the spool
    writer = StoreWriter(sessions, Metrics())
    running = asyncio.create_task(writer.run())
    try:
        assert await writer.put_durable(
            AttemptStarted("call-1", case_id, campaign, number.e164, NOW)
        )
        writer.put(ended)
        await asyncio.wait_for(writer.flush(), 10)
    finally:
        running.cancel()
    async with sessions() as session:
        attempt = (await session.execute(select(CallAttempt))).scalar_one()
        ledger = (await session.execute(select(AbandonLedger))).scalars().all()
        next_at = (await session.execute(select(CaseRow.next_attempt_at))).scalar_one()
    await db.dispose()
    assert (attempt.outcome, attempt.amd, attempt.amd_seconds) == (
        "machine_message_left",
        "machine",
        3.25,
    )
    assert attempt.talk_seconds is None and not attempt.abandoned
    assert sum(e.live_answers for e in ledger) == 0, "a machine is no live answer"
    assert next_at is not None
    assert (next_at - attempt.ended_at).total_seconds() == 86400.0  # a day to call back
