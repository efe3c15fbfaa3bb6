"""Helpers for the orchestration tests: a migrated store with a campaign, teams,
collectors and cases, built through the repositories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.compliance import Profile, load_profile
from dialer.domain.model import Bucket, PhoneNumber
from dialer.settings import PACKAGE_CONFIG_DIR
from dialer.store.cases_repo import CaseRepository
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository, CollectorRepository
from dialer.store.records import NewCase
from dialer.store.tables import CaseRow

# A Tuesday, 11:00 in New York: inside the US calling hours.
NOON = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


def profile(name: str = "us_tsr_regf") -> Profile:
    return load_profile(name, PACKAGE_CONFIG_DIR / "compliance")


@dataclass
class Store:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    campaign_id: int
    collectors: dict[str, int]

    async def dispose(self) -> None:
        await self.engine.dispose()


def new_case(
    i: int,
    *,
    dpd: int = 30,
    balance: str = "1000",
    tz: str = "America/New_York",
    owner: int | None = None,
    team: int | None = None,
    skills: Sequence[str] = (),
) -> NewCase:
    return NewCase(
        debtor_ref=f"D{i:07d}",
        display_name_masked="J*** D**",
        balance=Decimal(balance),
        days_past_due=dpd,
        bucket=Bucket.for_days_past_due(dpd),
        numbers=(PhoneNumber(f"+1212555{i % 10_000:04d}"),),
        timezone=tz,
        owner_collector_id=owner,
        team_id=team,
        skills=tuple(skills),
    )


async def make_store(
    url: str,
    cases: int = 0,
    *,
    collectors: Sequence[tuple[str, str]] = (),
    campaign: str = "c1",
) -> Store:
    """A migrated store with one campaign, the collectors (username, team) and `cases`
    plain cases (priority = case number, so the order is known)."""
    await migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        campaign_id = await CampaignRepository(s).upsert(campaign, compliance_profile="us_tsr_regf")
        people = CollectorRepository(s)
        ids = {name: await people.upsert(name, team=team) for name, team in collectors}
    store = Store(engine, sessions, campaign_id, ids)
    if cases:
        await add_cases(store, [new_case(i) for i in range(1, cases + 1)])
        async with sessions() as s, s.begin():
            await s.execute(update(CaseRow).values(priority=CaseRow.id * 1.0))
    return store


async def add_cases(store: Store, rows: Sequence[NewCase]) -> None:
    async with store.sessions() as s, s.begin():
        await CaseRepository(s).upsert_many(store.campaign_id, rows, now=NOON)
