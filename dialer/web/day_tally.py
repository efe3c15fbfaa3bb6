"""A campaign's day and its collectors' time in it, for the wallboard's daily figures.

The day is the campaign's: its calling window's zone (`orchestration.windows.<campaign>`),
else the site's (`orchestration.jobs.timezone`). The engine counts each collector's
seconds per state since the daemon started; `DayTally` takes a baseline of those counts
at the first sample of each new day (dialer.web.wallboard_series samples every few
seconds from the daemon's start, whose day has no baseline), so today's seconds are the
counts now less the baseline. A collector first seen later in
the day has no baseline: all their seconds are today's. The day's first few seconds (one
sample interval at most) count to the day before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialer.domain.agents import Collector, CollectorState
from dialer.settings import Settings

BUSY_STATES = ("on_call", "wrap_up")


@dataclass(frozen=True, slots=True)
class DaySpan:
    day: date
    zone: str
    start: datetime  # aware UTC
    end: datetime


def campaign_zone(settings: Settings, campaign: str) -> ZoneInfo:
    window = settings.orchestration.windows.get(campaign)
    return ZoneInfo(window.timezone if window else settings.orchestration.jobs.timezone)


def day_span(zone: ZoneInfo, now: float) -> DaySpan:
    """The day in `zone` that holds the instant `now` (epoch seconds)."""
    local = datetime.fromtimestamp(now, UTC).astimezone(zone)
    start = datetime.combine(local.date(), time(), zone)
    end = datetime.combine(local.date() + timedelta(days=1), time(), zone)
    return DaySpan(local.date(), zone.key, start.astimezone(UTC), end.astimezone(UTC))


def state_seconds(collector: Collector, now: float) -> dict[str, float]:
    """Seconds per state since the engine first saw the collector, the current one so far."""
    seconds = dict(collector.seconds)
    if collector.state is not CollectorState.LOGGED_OUT:
        key = collector.state.value
        seconds[key] = seconds.get(key, 0.0) + max(0.0, now - collector.since)
    return seconds


@dataclass(frozen=True, slots=True)
class DayTime:
    """One collector's time today."""

    talk: float
    wrap: float
    logged_in: float

    @property
    def occupancy(self) -> float | None:
        return (self.talk + self.wrap) / self.logged_in if self.logged_in > 0 else None


class DayTally:
    """Today's seconds per collector of one campaign, from the engine's running counts."""

    def __init__(self) -> None:
        self.day: date | None = None
        self._base: dict[str, dict[str, float]] = {}

    def roll(self, day: date, collectors: Mapping[str, Collector], now: float) -> None:
        """A new day begins: today's counts start from here."""
        if day == self.day:
            return
        first = self.day is None  # the daemon started today: all its seconds are today's
        self.day = day
        self._base = {} if first else {cid: state_seconds(c, now) for cid, c in collectors.items()}

    def today(self, collector: Collector, now: float) -> DayTime:
        seconds = state_seconds(collector, now)
        base = self._base.get(collector.collector_id, {})
        today = {k: max(0.0, v - base.get(k, 0.0)) for k, v in seconds.items()}
        return DayTime(today.get("on_call", 0.0), today.get("wrap_up", 0.0), sum(today.values()))
