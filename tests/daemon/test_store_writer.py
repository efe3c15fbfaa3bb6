"""The store writer when the store goes away: attempts not yet written are refused (their
calls are never placed), everything else waits, and at a stop it is spooled to disk and
replayed by the next run: no record the ledger or the caps need is lost."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.daemon.store_ops import AttemptEnded, AttemptStarted
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.metrics import Metrics
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository
from dialer.store.records import NewCase
from dialer.store.repositories import CaseRepository
from dialer.store.tables import AbandonLedger, CallAttempt

NOW = 1772553600.0


class Switchable:
    """A session factory whose database can be swapped under the writer."""

    def __init__(self, current: async_sessionmaker[AsyncSession]) -> None:
        self.current = current

    def __call__(self) -> AsyncSession:
        return self.current()


async def _until(check: object, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_an_outage_refuses_new_attempts_keeps_the_rest_and_spools_them(
    tmp_path: Path,
) -> None:
    good_url = f"sqlite+aiosqlite:///{tmp_path / 'dialer.db'}"
    await migrate(good_url)
    good = create_engine(good_url)
    sessions = session_factory(good)
    async with sessions() as session, session.begin():
        campaign = await CampaignRepository(session).upsert("c1", compliance_profile="us_tsr_regf")
        number = PhoneNumber("+12125550101")
        case = NewCase("D1", "D***", Decimal(100), 30, Bucket.M1, (number,))
        await CaseRepository(session).upsert_many(campaign, [case])
        found = await CaseRepository(session).id_for_ref(campaign, "D1")
    assert found is not None
    case_id = found
    # The first run: its attempt is written, then the store goes away (a folder that is
    # not there: SQLite cannot open its file, as a database that is down).
    store = Switchable(sessions)
    first = StoreWriter(store, Metrics())  # type: ignore[arg-type]
    running = asyncio.create_task(first.run())
    assert await first.put_durable(AttemptStarted("call-1", case_id, campaign, number.e164, NOW))
    gone = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dialer.db'}")
    store.current = session_factory(gone)  # the same writer, its store now unreachable
    first.put(
        AttemptEnded(
            "call-1", case_id, campaign, ContactOutcome.CONVERSATION, NOW + 60, True,
            answered_at=NOW + 5, bridged_at=NOW + 6,
        )
    )  # fmt: skip
    await asyncio.sleep(0)  # the writer takes that batch and starts its (failing) write
    late = first.put_durable(AttemptStarted("call-3", case_id, campaign, number.e164, NOW + 61))
    await _until(lambda: not first.up)
    assert await late is False, "queued behind the failing write: refused at once, not later"
    refused = first.put_durable(AttemptStarted("call-2", case_id, campaign, number.e164, NOW + 61))
    assert await refused is False, "no record, no call"
    spool = tmp_path / "spool.jsonl"
    assert first.spool(spool) == 1, "the ended attempt, not the refused one"
    running.cancel()
    await gone.dispose()

    second = StoreWriter(sessions, Metrics())
    running = asyncio.create_task(second.run())
    try:
        assert second.replay_spool(spool) == 1
        assert not spool.exists()
        await asyncio.wait_for(second.flush(), 10)
    finally:
        running.cancel()
    async with sessions() as session:
        attempts = (await session.execute(select(CallAttempt))).scalars().all()
        ledger = (await session.execute(select(AbandonLedger))).scalars().all()
    await good.dispose()
    assert [(a.call_id, a.outcome) for a in attempts] == [("call-1", "conversation")]
    assert attempts[0].talk_seconds == 54.0
    assert [(e.live_answers, e.abandons) for e in ledger] == [(1, 0)]
