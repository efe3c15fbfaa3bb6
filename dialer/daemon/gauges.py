"""The daemon's gauges: live engine and pool figures every second, the abandonment ledger
every few seconds.

It lives apart from the composition root (`dialer.daemon`) because it is one job, reading
state and setting Prometheus gauges, with no say in how anything is built or stopped. The
ledger read also feeds the predictive pacers and every engine's abandon-cap guard: every
daemon dialing a campaign writes to the same store, so the budget is synced from the
store's totals, not from what this process saw alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.daemon.runner import CampaignRunner
from dialer.domain.model import ContactOutcome
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.pacing.budget import budget_remaining
from dialer.settings import CampaignSettings, Settings, service_level_terms
from dialer.store.attempts_repo import AttemptRepository, LedgerRepository
from dialer.store.db import POOL_OVERFLOW
from dialer.telephony.port import Trunk

__all__ = ["DaemonGauges", "abandon_terms"]

log = logging.getLogger(__name__)
METRICS_REFRESH_INTERVAL = 1.0
LEDGER_REFRESH_INTERVAL = 10.0  # seconds between reads of the abandonment ledger
COLLECTOR_STATES = ("ready", "reserved", "on_call", "wrap_up", "paused")
CALL_STATES = ("dialing", "ringing", "answered", "bridged", "abandoned")
MACHINE_ANSWERS = (ContactOutcome.MACHINE, ContactOutcome.MACHINE_MESSAGE_LEFT)


def abandon_terms(profile: Profile, campaign: CampaignSettings) -> tuple[float, float]:
    """(cap, window seconds) of the campaign's abandonment rule; a profile without one
    (cn_ifac) is measured against the campaign's target over 24 h."""
    rule = profile.abandonment
    if rule is None:
        return campaign.pacing.target_abandon_rate, 86400.0
    return rule.max_rate, float(rule.window_seconds)


def pool_usage(db: AsyncEngine) -> tuple[float, float]:
    """(checked-out connections, most the pool hands out) of a SQLAlchemy pool."""
    pool = db.pool
    if isinstance(pool, QueuePool):  # what create_engine makes, SQLite and PostgreSQL alike
        return float(pool.checkedout()), float(pool.size() + POOL_OVERFLOW)
    return 0.0, 1.0  # NullPool / StaticPool: no pool to exhaust


def calls_per_second_limit(settings: Settings) -> float:
    """The SIP trunk's INVITE rate ceiling; 0 (no limit) for the simulated trunk."""
    if settings.trunk.kind != "sip" or settings.trunk.sip is None:
        return 0.0
    return settings.trunk.sip.calls_per_second


class DaemonGauges:
    """Sets the daemon's gauges from its runners, trunk, pool and the store's ledger.

    ``hopper_reasons``: campaign -> why its last refill found nothing (read live, the
    refills write it); ``trunk``: called each round, since the trunk is built after this."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        clock: Clock,
        runners: Mapping[str, CampaignRunner],
        profiles: Mapping[str, Profile],
        sessions: async_sessionmaker[AsyncSession],
        db: AsyncEngine,
        hopper_reasons: Mapping[str, str | None],
        trunk: Callable[[], Trunk | None],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.runners = runners
        self.profiles = profiles
        self.sessions = sessions
        self.db = db
        self.hopper_reasons = hopper_reasons
        self.trunk = trunk
        self._clamps_seen: dict[str, int] = {}  # campaign -> guard clamps published

    def terms(self, campaign: CampaignSettings) -> tuple[float, float]:
        return abandon_terms(self.profiles[campaign.name], campaign)

    async def refresh(self) -> None:
        """Every second: collector and call counts, hopper, occupancy, pacing gauges,
        trunk registration and pool use; the campaign constants once at the start."""
        m = self.metrics
        for campaign in self.settings.campaigns:
            if campaign.name in self.runners:
                m.init_campaign(campaign.name)
                m.init_inbound(campaign.name, service_level_terms(self.settings, campaign.name)[0])
                cap, window = self.terms(campaign)
                m.abandon_cap.labels(campaign.name).set(cap)
                m.abandon_target.labels(campaign.name).set(campaign.pacing.target_abandon_rate)
                m.abandon_window.labels(campaign.name).set(window)
        m.trunk_cps_limit.set(calls_per_second_limit(self.settings))
        while True:
            self.refresh_once()
            await asyncio.sleep(METRICS_REFRESH_INTERVAL)

    def refresh_once(self) -> None:
        m = self.metrics
        now = self.clock.now()
        for name, runner in self.runners.items():
            engine = runner.engine
            counts = engine.counts()
            for state in COLLECTOR_STATES:
                m.collectors.labels(name, state).set(counts.get(state, 0))
            for state in CALL_STATES:
                m.calls_in_flight.labels(name, state).set(counts.get("call_" + state, 0))
            m.hopper_cases.labels(name).set(engine.hopper_size)
            empty = engine.hopper_size == 0
            m.set_hopper_empty(name, self.hopper_reasons.get(name) if empty else None)
            m.occupancy.labels(name).set(engine.occupancy(now))
            threshold = getattr(engine.pacer, "threshold", None)
            if threshold is not None:
                m.pacing_threshold.labels(name).set(threshold)
            free = getattr(engine.pacer, "predicted_free", None)
            if free is not None:
                m.predicted_free.labels(name).set(free)
            guard = engine.cap_guard
            if guard is not None:
                m.cap_guard_clamping.labels(name).set(1 if guard.clamping else 0)
                new_clamps = guard.clamps - self._clamps_seen.get(name, 0)
                if new_clamps > 0:
                    m.cap_guard_clamps.labels(name).inc(new_clamps)
                self._clamps_seen[name] = guard.clamps
        trunk = self.trunk()
        m.trunk_registered.set(1 if trunk is not None and trunk.registered else 0)
        checked_out, limit = pool_usage(self.db)
        m.db_pool_checked_out.set(checked_out)
        m.db_pool_max.set(limit)

    async def refresh_ledger(self) -> None:
        while True:
            await self.read_ledger()
            await asyncio.sleep(LEDGER_REFRESH_INTERVAL)

    async def read_ledger(self) -> None:
        """Set the abandon rate and budget left over each campaign's compliance window, read
        from the store's ledger (shared by every daemon dialing the campaign)."""
        now = self.clock.now()
        for campaign in self.settings.campaigns:
            runner = self.runners.get(campaign.name)
            if runner is None:
                continue
            cap, window = self.terms(campaign)
            since = datetime.fromtimestamp(now - window, UTC)
            machines: int | None = None
            try:
                async with self.sessions() as session:
                    totals = await LedgerRepository(session).rate(runner.campaign_id, since)
                    if runner.engine.config.machine_false_positive_rate > 0:
                        # UK Ofcom with AMD: every daemon's machine answers in the window,
                        # for the estimate of false positives the budget counts.
                        machines = await AttemptRepository(session).count(
                            campaign_id=runner.campaign_id, since=since, outcomes=MACHINE_ANSWERS
                        )
            except Exception as exc:
                event(
                    log, "ledger.read_failed", logging.ERROR, campaign=campaign.name, error=str(exc)
                )
                continue
            sync = getattr(runner.engine.pacer, "sync_ledger", None)
            if sync is not None:  # the pacer counts every daemon's drops, not just ours
                sync(totals.live_answers, totals.abandons, now, machines)
            guard = runner.engine.cap_guard
            if guard is not None:  # so does the abandon-cap guard, in every mode
                stats = runner.engine.stats
                guard.sync(totals.live_answers, totals.abandons, now, stats, machines)
            self.metrics.abandon_rate_window.labels(campaign.name).set(totals.rate)
            self.metrics.abandon_budget_remaining.labels(campaign.name).set(
                budget_remaining(totals.abandons, totals.live_answers, cap)
            )
