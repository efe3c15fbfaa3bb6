"""Today's figures per collector and per team of one campaign, for the wallboard.

From the store (one grouped query, dialer.store.floor_repo): contacts (calls bridged to
the collector), right-party contacts (conversations not dispositioned wrong party),
promises to pay and their total, the talk seconds of their finished calls. From the live
engine (dialer.web.day_tally): today's wrap-up, talk + wrap-up ("busy") and logged-in
seconds, since the day's start or the daemon's, whichever is later. Average handle time
is (talk + wrap) / contacts; occupancy busy / logged-in time, both today in the
campaign's day. A collector logged in today with no call yet shows with zeros.

A campaign's figures are computed at most once per 5 real seconds (`ctx.floor_cache`),
however many wallboards are open.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dialer.store.floor_repo import CollectorDay, FloorRepository
from dialer.web.context import WebContext
from dialer.web.day_tally import DayTime, campaign_zone, day_span

NO_TEAM = "(no team)"


@dataclass(frozen=True, slots=True)
class FloorLine:
    """A collector's (or a team's) figures today."""

    name: str
    team: str | None
    contacts: int
    right_party: int
    promises: int
    promised_amount: Decimal
    talk_seconds: float  # the store's, finished calls
    wrap_seconds: float  # the engine's, from here on
    busy_seconds: float  # talk + wrap-up
    logged_in_seconds: float

    @property
    def handle_seconds(self) -> float | None:
        """Average handle time: (talk + wrap) per contact."""
        if not self.contacts:
            return None
        return (self.talk_seconds + self.wrap_seconds) / self.contacts

    @property
    def occupancy(self) -> float | None:
        if self.logged_in_seconds <= 0:
            return None
        return self.busy_seconds / self.logged_in_seconds

    def as_dict(self) -> dict[str, Any]:
        aht, occupancy = self.handle_seconds, self.occupancy
        return {
            "name": self.name,
            "team": self.team,
            "contacts": self.contacts,
            "right_party": self.right_party,
            "promises": self.promises,
            "promised_amount": str(self.promised_amount),
            "handle_seconds": None if aht is None else round(aht, 1),
            "occupancy": None if occupancy is None else round(occupancy, 4),
        }


def combine(
    stored: list[CollectorDay], live: dict[str, tuple[str | None, DayTime]]
) -> tuple[list[FloorLine], list[FloorLine]]:
    """Per-collector lines (by name) and per-team totals (by team) from the store's counts
    and the engine's time today (`live`: collector -> (team, time))."""
    by_name = {row.username: row for row in stored}
    lines = []
    for name in sorted(set(by_name) | set(live)):
        row = by_name.get(name)
        team, spent = live.get(name, (None, DayTime(0.0, 0.0, 0.0)))
        lines.append(
            FloorLine(
                name,
                team if team is not None else (row.team if row else None),
                row.contacts if row else 0,
                row.right_party if row else 0,
                row.promises if row else 0,
                row.promised_amount if row else Decimal("0.00"),
                row.talk_seconds if row else 0.0,
                spent.wrap,
                spent.talk + spent.wrap,
                spent.logged_in,
            )
        )
    teams: dict[str, list[FloorLine]] = {}
    for line in lines:
        teams.setdefault(line.team or NO_TEAM, []).append(line)
    totals = [
        FloorLine(
            team,
            None,
            sum(x.contacts for x in members),
            sum(x.right_party for x in members),
            sum(x.promises for x in members),
            sum((x.promised_amount for x in members), Decimal("0.00")),
            sum(x.talk_seconds for x in members),
            sum(x.wrap_seconds for x in members),
            sum(x.busy_seconds for x in members),
            sum(x.logged_in_seconds for x in members),
        )
        for team, members in sorted(teams.items())
    ]
    return lines, totals


async def compute(ctx: WebContext, name: str) -> dict[str, Any]:
    """Today's figures of campaign `name`, from the store and the engine, now."""
    runner = ctx.runner(name)
    now = ctx.now()
    span = day_span(campaign_zone(ctx.dialer.settings, name), now)
    async with ctx.sessions() as db:
        stored = await FloorRepository(db).day(runner.campaign_id, span.start, span.end)
    tally = ctx.floor.tally_of(runner, now)
    live = {}
    for cid, collector in runner.engine.collectors.items():
        spent = tally.today(collector, now)
        if spent.logged_in > 0:
            live[cid] = (collector.team, spent)
    lines, teams = combine(stored, live)
    return {
        "day": span.day.isoformat(),
        "zone": span.zone,
        "collectors": [line.as_dict() for line in lines],
        "teams": [team.as_dict() for team in teams],
    }


async def today(ctx: WebContext, name: str) -> dict[str, Any]:
    """Today's figures, at most `ctx.floor_cache.max_age` seconds old."""
    return await ctx.floor_cache.get(name, lambda: compute(ctx, name))
