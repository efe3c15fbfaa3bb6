"""A migrated store with a campaign, a collector, cases and attempts, for the recording
catalogue, retention and playback tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.domain.model import Bucket, PhoneNumber
from dialer.store.cases_repo import CaseRepository
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository, CollectorRepository
from dialer.store.recordings_repo import NewRecording, RecordingRepository
from dialer.store.records import NewCase
from dialer.store.tables import CallAttempt

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass
class Store:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    campaign_id: int
    collector_id: int
    case_ids: list[int]


async def make_store(url: str, campaign: str = "c1", cases: int = 2) -> Store:
    await migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        campaign_id = await CampaignRepository(s).upsert(campaign, compliance_profile="cn_ifac")
        collector_id = await CollectorRepository(s).upsert("alice", team="east")
    rows = [
        NewCase(
            debtor_ref=f"D{i:07d}",
            display_name_masked="J*** D**",
            balance=Decimal("100"),
            days_past_due=30,
            bucket=Bucket.for_days_past_due(30),
            numbers=(PhoneNumber(f"+1212555{i:04d}"),),
            timezone="America/New_York",
        )
        for i in range(1, cases + 1)
    ]
    async with sessions() as s, s.begin():
        await CaseRepository(s).upsert_many(campaign_id, rows, now=NOW)
    return Store(engine, sessions, campaign_id, collector_id, list(range(1, cases + 1)))


async def add_attempt(store: Store, call_id: str, case_id: int, bridged: bool = True) -> None:
    async with store.sessions() as s, s.begin():
        await s.execute(
            insert(CallAttempt).values(
                case_id=case_id,
                campaign_id=store.campaign_id,
                number_e164="+12125550001",
                call_id=call_id,
                dialed_at=NOW,
                abandoned=False,
                outcome="conversation",
                collector_id=store.collector_id if bridged else None,
            )
        )


async def add_recording(
    store: Store,
    call_id: str,
    path: Path,
    *,
    campaign: str = "c1",
    started: datetime = NOW,
    expires: datetime | None = None,
    sealed: bool = False,
) -> int:
    async with store.sessions() as s, s.begin():
        return await RecordingRepository(s).add(
            NewRecording(
                call_id=call_id,
                campaign=campaign,
                path=str(path),
                bytes=path.stat().st_size if path.exists() else 0,
                duration_seconds=1.0,
                started_at=started,
                ended_at=started + timedelta(seconds=1),
                sealed=sealed,
                key_id=None,
                expires_at=expires or started + timedelta(days=730),
            )
        )
