"""Teams, collectors and campaigns: upserted by name from configuration, read by the core."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.lease_repo import LeasedCase
from dialer.store.records import CampaignInfo, CollectorInfo
from dialer.store.tables import Campaign, Collector, Team


class TeamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, name: str) -> int:
        """The id of the team called `name`, created if missing."""
        team_id = await self.session.scalar(select(Team.id).where(Team.name == name))
        if team_id is not None:
            return team_id
        team = Team(name=name)
        self.session.add(team)
        await self.session.flush()
        return team.id

    async def ids_by_name(self, names: Iterable[str]) -> dict[str, int]:
        wanted = set(names)
        if not wanted:
            return {}
        rows = await self.session.execute(select(Team.name, Team.id).where(Team.name.in_(wanted)))
        return {name: team_id for name, team_id in rows.tuples()}


class CollectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self,
        username: str,
        *,
        display_name: str | None = None,
        team: str | None = None,
        skills: Iterable[str] = (),
        is_senior: bool = False,
        max_cases: int | None = None,
        active: bool = True,
    ) -> int:
        """Create or update the collector `username` (its team is created if missing)."""
        team_id = await TeamRepository(self.session).upsert(team) if team else None
        collector = await self.session.scalar(
            select(Collector).where(Collector.username == username)
        )
        if collector is None:
            collector = Collector(username=username)
            self.session.add(collector)
        collector.display_name = display_name or username
        collector.team_id = team_id
        collector.skills = sorted(set(skills))
        collector.is_senior = is_senior
        collector.max_cases = max_cases
        collector.active = active
        await self.session.flush()
        return collector.id

    async def get(self, username: str) -> CollectorInfo | None:
        row = (
            (
                await self.session.execute(
                    select(Collector, Team.name)
                    .outerjoin(Team, Team.id == Collector.team_id)
                    .where(Collector.username == username)
                )
            )
            .tuples()
            .first()
        )
        if row is None:
            return None
        collector, team = row
        return CollectorInfo(
            id=collector.id,
            username=collector.username,
            display_name=collector.display_name,
            team=team,
            skills=frozenset(collector.skills),
            is_senior=collector.is_senior,
            max_cases=collector.max_cases,
            active=collector.active,
        )

    async def ids_by_username(self, usernames: Iterable[str]) -> dict[str, tuple[int, int | None]]:
        """username -> (collector id, team id) for those of `usernames` that exist."""
        wanted = set(usernames)
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(Collector.username, Collector.id, Collector.team_id).where(
                Collector.username.in_(wanted)
            )
        )
        return {username: (cid, team_id) for username, cid, team_id in rows.tuples()}


class CampaignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(
        self,
        name: str,
        *,
        pacing_mode: str = "progressive",
        pacing_params: Mapping[str, Any] | None = None,
        compliance_profile: str,
        calling_window_start: time | None = None,
        calling_window_end: time | None = None,
        caller_id: str | None = None,
        active: bool = True,
    ) -> int:
        """Create or update the campaign `name` (settings are the source of truth)."""
        campaign = await self.session.scalar(select(Campaign).where(Campaign.name == name))
        if campaign is None:
            campaign = Campaign(name=name)
            self.session.add(campaign)
        campaign.pacing_mode = pacing_mode
        campaign.pacing_params = dict(pacing_params or {})
        campaign.compliance_profile = compliance_profile
        campaign.calling_window_start = calling_window_start
        campaign.calling_window_end = calling_window_end
        campaign.caller_id = caller_id
        campaign.active = active
        await self.session.flush()
        return campaign.id

    async def get_by_name(self, name: str) -> CampaignInfo | None:
        campaign = await self.session.scalar(select(Campaign).where(Campaign.name == name))
        return None if campaign is None else _campaign_info(campaign)

    async def list_all(self, *, active_only: bool = False) -> list[CampaignInfo]:
        query = select(Campaign).order_by(Campaign.name)
        if active_only:
            query = query.where(Campaign.active.is_(True))
        return [_campaign_info(c) for c in await self.session.scalars(query)]


def _campaign_info(campaign: Campaign) -> CampaignInfo:
    return CampaignInfo(
        id=campaign.id,
        name=campaign.name,
        pacing_mode=campaign.pacing_mode,
        pacing_params=dict(campaign.pacing_params),
        compliance_profile=campaign.compliance_profile,
        calling_window_start=campaign.calling_window_start,
        calling_window_end=campaign.calling_window_end,
        caller_id=campaign.caller_id,
        active=campaign.active,
    )


@dataclass(slots=True)
class NameCache:
    """Collector and team names by row id (the core speaks names), cached by the hopper's
    supply (dialer.orchestration.supply) between refills."""

    collectors: dict[int, str] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)

    async def load(self, session: AsyncSession, rows: Sequence[LeasedCase]) -> None:
        people = {r.owner_id for r in rows if r.owner_id is not None} - set(self.collectors)
        teams = {r.team_id for r in rows if r.team_id is not None} - set(self.teams)
        if people:
            found = await session.execute(
                select(Collector.id, Collector.username).where(Collector.id.in_(people))
            )
            self.collectors.update(found.tuples().all())
        if teams:
            named = await session.execute(select(Team.id, Team.name).where(Team.id.in_(teams)))
            self.teams.update(named.tuples().all())

    def forget(self) -> None:
        self.collectors.clear()
        self.teams.clear()
