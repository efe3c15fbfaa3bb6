"""The wallboard's charts: a bounded in-memory time series per campaign, sampled from the
runner's steps (a step observer, like the events hub) every `every` engine seconds and
kept for `keep_seconds` (`web.wallboard_sample_seconds`, `web.wallboard_history_hours`:
4 hours of 5-second samples by default, 2,880 per campaign).

A sample holds the abandon rate over the profile's legal window with its cap and the
abandons left (from the engine's abandon-cap guard, which keeps the window's ledger in
memory), the occupancy over the interval since the previous sample, and the predictive
pacer's threshold (None for the other pacers). Sampling also rolls each campaign's
`DayTally` (dialer.web.day_tally) at the day's start.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from dialer.domain.agents import Collector
from dialer.domain.commands import Command
from dialer.domain.events import Event
from dialer.engine import RunningCampaign
from dialer.logs import event as log_event
from dialer.web.day_tally import BUSY_STATES, DayTally, state_seconds

log = logging.getLogger(__name__)
SAMPLE_EVERY = 5.0  # engine seconds between samples
KEEP_SECONDS = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Sample:
    seq: int  # rises by one per sample of the campaign: the client asks for what is newer
    at: float  # engine seconds
    abandon_rate: float  # over the legal window
    cap: float | None
    abandons_left: float | None
    occupancy: float | None  # (talk + wrap) / logged-in over the last interval
    threshold: float | None  # the predictive pacer's drop-risk threshold

    def as_list(self) -> list[Any]:
        """[seq, at, abandon rate, cap, abandons left, occupancy, threshold] (compact)."""
        return [
            self.seq,
            round(self.at, 1),
            round(self.abandon_rate, 5),
            self.cap,
            None if self.abandons_left is None else round(self.abandons_left, 2),
            None if self.occupancy is None else round(self.occupancy, 4),
            None if self.threshold is None else round(self.threshold, 6),
        ]


SAMPLE_COLUMNS = ("seq", "at", "abandon_rate", "cap", "abandons_left", "occupancy", "threshold")


class CampaignSeries:
    """One campaign's samples, oldest first, at most `size` of them."""

    def __init__(self, size: int) -> None:
        self.samples: deque[Sample] = deque(maxlen=size)
        self.last_at: float | None = None
        self._busy_logged: tuple[float, float] | None = None
        self._seq = 0

    def due(self, now: float, every: float) -> bool:
        return self.last_at is None or now - self.last_at >= every

    def newer_than(self, seq: int) -> list[Sample]:
        if not self.samples or self.samples[-1].seq <= seq:
            return []
        first = self.samples[0].seq
        start = max(0, seq - first + 1)
        return list(self.samples)[start:]

    def add(
        self,
        now: float,
        collectors: Iterable[Collector],
        window: tuple[float, float | None, float | None],
        threshold: float | None,
    ) -> Sample:
        busy = logged = 0.0
        for collector in collectors:
            seconds = state_seconds(collector, now)
            busy += sum(seconds.get(s, 0.0) for s in BUSY_STATES)
            logged += sum(seconds.values())
        occupancy = None
        if self._busy_logged is not None:
            d_busy, d_logged = busy - self._busy_logged[0], logged - self._busy_logged[1]
            occupancy = d_busy / d_logged if d_logged > 0 else None
        self._busy_logged = (busy, logged)
        self._seq += 1
        rate, cap, left = window
        sample = Sample(self._seq, now, rate, cap, left, occupancy, threshold)
        self.samples.append(sample)
        self.last_at = now
        return sample


def window_of(runner: RunningCampaign, now: float) -> tuple[float, float | None, float | None]:
    """(abandon rate over the legal window, cap, abandons left) from the engine's guard;
    without a guard, the rate since start and no cap."""
    engine = runner.engine
    guard = engine.cap_guard
    if guard is None:
        stats = engine.stats
        return (stats.abandoned / stats.live_answers if stats.live_answers else 0.0, None, None)
    live, drops = guard.totals(now)
    return (drops / live if live else 0.0, guard.cap, guard.abandons_left(now))


def threshold_of(runner: RunningCampaign) -> float | None:
    value = getattr(runner.engine.pacer, "threshold", None)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


class FloorSampler:
    """Every campaign's series and day tally; `observe` is the runners' step hook."""

    def __init__(
        self,
        now: Callable[[], float],
        day_of: Callable[[str, float], date],
        every: float = SAMPLE_EVERY,
        keep_seconds: float = KEEP_SECONDS,
    ) -> None:
        self.now = now
        self.day_of = day_of
        self.every = every
        self.size = max(1, math.ceil(keep_seconds / every))
        self.series: dict[str, CampaignSeries] = {}
        self.days: dict[str, DayTally] = {}

    def series_of(self, campaign: str) -> CampaignSeries:
        found = self.series.get(campaign)
        if found is None:
            found = self.series[campaign] = CampaignSeries(self.size)
        return found

    def tally_of(self, runner: RunningCampaign, now: float) -> DayTally:
        """The campaign's day tally, rolled to today."""
        tally = self.days.get(runner.name)
        if tally is None:
            tally = self.days[runner.name] = DayTally()
        tally.roll(self.day_of(runner.name, now), runner.engine.collectors, now)
        return tally

    def observe(
        self, runner: RunningCampaign, event: Event | None, commands: list[Command]
    ) -> None:
        """Called after each engine step; samples when one is due. Never raises."""
        try:
            now = self.now()
            series = self.series_of(runner.name)
            if series.due(now, self.every):
                self.sample(runner, now)
        except Exception as exc:  # a bug here must not stop a campaign
            log_event(
                log, "web.wallboard_sample_failed", logging.ERROR, campaign=runner.name,
                error=repr(exc),
            )  # fmt: skip

    def sample(self, runner: RunningCampaign, now: float) -> Sample:
        self.tally_of(runner, now)
        engine = runner.engine
        return self.series_of(runner.name).add(
            now, engine.collectors.values(), window_of(runner, now), threshold_of(runner)
        )
