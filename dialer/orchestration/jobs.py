"""Scheduled jobs: APScheduler 3 `AsyncIOScheduler` in the daemon's own event loop.

Jobs are defined here, in code, from the `orchestration.jobs` settings (in-memory job
store; nothing is pickled). Each job calls one method of a `JobActions` (the daemon's
`Orchestrator`) with the time from an injected clock:
- window_open:<campaign> / window_close:<campaign>: cron at the campaign's calling window
  (each puts the campaign in the state the window says at the time it runs);
- recycle: parked cases whose recycle delay is over go back to the ready lane;
- callbacks: fire due callbacks and promise follow-ups, escalate broken promises;
- presence: collectors paused too long, team or skill changes -> reassignment;
- dirty_priorities / priorities: recompute changed cases often, every case hourly;
- rebalance: nightly workload rebalancing within teams;
- ledger_expiry: abandonment-ledger entries older than the longest legal window;
- retention: attempt records older than `retention_days` (>= 2 years);
- lease_heartbeat / lease_sweep: extend this daemon's leases; clear expired lease markers.
Every job coalesces missed runs into one, never runs twice at once, and runs however late
(a daemon that was busy still does the work). Crontab lines follow the wall clock in
`jobs.timezone`; intervals start when the scheduler does.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dialer.logs import event
from dialer.orchestration.settings import CallingWindow, OrchestrationSettings

log = logging.getLogger(__name__)
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


class JobActions(Protocol):
    async def open_campaign(self, campaign: str, now: datetime) -> None: ...
    async def close_campaign(self, campaign: str, now: datetime) -> None: ...
    async def recycle(self, now: datetime) -> None: ...
    async def fire_callbacks(self, now: datetime) -> None: ...
    async def check_presence(self, now: datetime) -> None: ...
    async def recompute_priorities(self, now: datetime, *, full: bool) -> None: ...
    async def rebalance(self, now: datetime) -> None: ...
    async def expire_ledger(self, now: datetime) -> None: ...
    async def retention(self, now: datetime) -> None: ...
    async def heartbeat(self, now: datetime) -> None: ...
    async def sweep_leases(self, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    trigger: BaseTrigger
    run: Callable[[datetime], Awaitable[None]]


def window_open(window: CallingWindow, at: datetime) -> bool:
    """Whether `at` falls inside the calling window (its days, its zone)."""
    local = at.astimezone(ZoneInfo(window.timezone))
    day = CronTrigger(day_of_week=window.days, timezone=window.timezone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    fires = day.get_next_fire_time(None, midnight)
    on_day = fires is not None and fires.date() == local.date()
    return on_day and window.start <= local.time() < window.end


def job_specs(
    settings: OrchestrationSettings, actions: JobActions, campaigns: Sequence[str]
) -> list[JobSpec]:
    """Every job, with its trigger, for the campaigns this daemon runs."""
    j = settings.jobs
    tz = ZoneInfo(j.timezone)

    def every(seconds: float) -> IntervalTrigger:
        return IntervalTrigger(seconds=seconds, timezone=tz)

    def cron(line: str) -> CronTrigger:
        return CronTrigger.from_crontab(line, timezone=tz)

    async def priorities_full(now: datetime) -> None:
        await actions.recompute_priorities(now, full=True)

    async def priorities_dirty(now: datetime) -> None:
        await actions.recompute_priorities(now, full=False)

    specs = [
        JobSpec("recycle", every(j.recycle_seconds), actions.recycle),
        JobSpec("callbacks", every(j.callbacks_seconds), actions.fire_callbacks),
        JobSpec("presence", every(j.presence_seconds), actions.check_presence),
        JobSpec("dirty_priorities", every(j.dirty_priorities_seconds), priorities_dirty),
        JobSpec("priorities", cron(j.priorities_cron), priorities_full),
        JobSpec("rebalance", cron(j.rebalance_cron), actions.rebalance),
        JobSpec("ledger_expiry", cron(j.ledger_expiry_cron), actions.expire_ledger),
        JobSpec("retention", cron(j.retention_cron), actions.retention),
        JobSpec("lease_heartbeat", every(settings.heartbeat_seconds), actions.heartbeat),
        JobSpec("lease_sweep", every(j.lease_sweep_seconds), actions.sweep_leases),
    ]
    for name in campaigns:
        window = settings.windows.get(name)
        if window is None:
            continue
        zone = window.timezone
        start = CronTrigger(
            day_of_week=window.days,
            hour=window.start.hour,
            minute=window.start.minute,
            timezone=zone,
        )
        end = CronTrigger(
            day_of_week=window.days, hour=window.end.hour, minute=window.end.minute, timezone=zone
        )
        apply = _window(actions, name, window)
        specs.append(JobSpec(f"window_open:{name}", start, apply))
        specs.append(JobSpec(f"window_close:{name}", end, apply))
    return specs


def _window(
    actions: JobActions, campaign: str, window: CallingWindow
) -> Callable[[datetime], Awaitable[None]]:
    """Both window jobs put the campaign in the state the window says *now*: a run that
    comes late (coalesced after a stall) never opens a closed window."""

    async def run(now: datetime) -> None:
        if window_open(window, now):
            await actions.open_campaign(campaign, now)
        else:
            await actions.close_campaign(campaign, now)

    return run


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Jobs:
    """The daemon's scheduler: `start()` inside the running loop, `shutdown()` at stop."""

    def __init__(
        self,
        settings: OrchestrationSettings,
        actions: JobActions,
        campaigns: Sequence[str],
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.campaigns = list(campaigns)
        self.now = now
        self.specs = {spec.id: spec for spec in job_specs(settings, actions, campaigns)}
        self.scheduler = AsyncIOScheduler(
            timezone=ZoneInfo(settings.jobs.timezone), job_defaults=dict(JOB_DEFAULTS)
        )
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.last_run: dict[str, datetime] = {}

    async def start(self) -> None:
        """Put each campaign with a window in the state the window says, then schedule."""
        now = self.now()
        for name in self.campaigns:
            window = self.settings.windows.get(name)
            if window is not None:
                await _window(self.actions, name, window)(now)
        for spec in self.specs.values():
            self.scheduler.add_job(
                self._runner(spec), spec.trigger, id=spec.id, name=spec.id, replace_existing=True
            )
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def run_now(self, job_id: str) -> None:
        """Run one job at once (a manager's request, a test)."""
        await self._runner(self.specs[job_id])()

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _runner(self, spec: JobSpec) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            now = self.now()
            try:
                await spec.run(now)
            except Exception as exc:
                self.failures[spec.id] += 1
                event(log, "job.failed", logging.ERROR, job=spec.id, error=str(exc))
                return
            finally:
                self.runs[spec.id] += 1
                self.last_run[spec.id] = now

        return run

    def describe(self) -> list[dict[str, Any]]:
        """For the manager page: each job, its trigger, last and next run."""
        nexts = self.next_runs() if self.scheduler.running else {}
        return [
            {
                "id": job_id,
                "trigger": str(spec.trigger),
                "runs": self.runs[job_id],
                "failures": self.failures[job_id],
                "last_run": _iso(self.last_run.get(job_id)),
                "next_run": _iso(nexts.get(job_id)),
            }
            for job_id, spec in self.specs.items()
        ]
