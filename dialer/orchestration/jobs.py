"""Scheduled jobs, on the daemon's clock, in the daemon's own event loop.

Jobs are defined here, in code, from the `orchestration.jobs` settings. Each job calls one
method of a `JobActions` (the daemon's `Orchestrator`) with the time of the daemon's clock:
- window_open:<campaign> / window_close:<campaign>: cron at the campaign's calling window
  (each puts the campaign in the state the window says at the time it runs);
- recycle: parked cases whose recycle delay is over go back to the ready lane;
- callbacks: fire due callbacks and promise follow-ups, escalate broken promises;
- presence: collectors paused too long, team or skill changes -> reassignment;
- dirty_priorities / priorities: recompute changed cases often, every case hourly;
- rebalance: nightly workload rebalancing within teams;
- ledger_expiry: abandonment-ledger entries older than the longest legal window;
- retention: attempt records older than `retention_days` (>= 2 years);
- recording_expiry: call recordings whose retention ended (dialer.media.retention);
- lease_heartbeat / lease_sweep: extend this daemon's leases; clear expired lease markers.
Every job coalesces missed runs into one, never runs twice at once, and runs however late
(a daemon that was busy still does the work). Crontab lines follow the daemon's clock in
`jobs.timezone`; intervals count daemon seconds from when the jobs start.

One clock (dialer.clock): the triggers are APScheduler's (pure: "the next fire time after
this one, as of now"), but no APScheduler scheduler runs them. Its `AsyncIOScheduler`
reads `datetime.now()` for every fire time and waits in real seconds, so under `--speed`
the jobs ran on the wall clock while the leases they keep alive were stamped on the
daemon's: the heartbeat came 30 times too late and leases lapsed under live calls.
Scaling interval triggers by the speed would fix the intervals but not the crontab lines
(09:00 on the daemon's clock is no fixed wall-clock time). So each job is one asyncio task
that asks its trigger for the next fire time on the daemon's clock and waits
`clock.real_seconds` of real time for it: the same code at speed 1 and at speed 30.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dialer.clock import Clock
from dialer.logs import event
from dialer.orchestration.settings import CallingWindow, OrchestrationSettings

log = logging.getLogger(__name__)
MAX_WAIT = 60.0  # real seconds: a job's wait is looked at again at least this often
STOP_GRACE = 5.0  # real seconds a job still running at stop gets to finish


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
    async def expire_recordings(self, now: datetime) -> None: ...
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


def next_fire(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's first fire time strictly after `now` (the runs missed before `now`
    coalesce into the one that just ran)."""
    at: datetime | None = trigger.get_next_fire_time(None, now)
    while at is not None and at <= now:
        at = trigger.get_next_fire_time(at, now)
    return at


def job_specs(
    settings: OrchestrationSettings,
    actions: JobActions,
    campaigns: Sequence[str],
    start: datetime,
) -> list[JobSpec]:
    """Every job, with its trigger, for the campaigns this daemon runs; interval jobs first
    fire one interval after `start` (the daemon's time when the jobs start)."""
    j = settings.jobs
    tz = ZoneInfo(j.timezone)

    def every(seconds: float) -> IntervalTrigger:
        first = start + timedelta(seconds=seconds)
        return IntervalTrigger(seconds=seconds, start_date=first, timezone=tz)

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
        JobSpec("recording_expiry", cron(j.recording_expiry_cron), actions.expire_recordings),
        JobSpec("lease_heartbeat", every(settings.heartbeat_seconds), actions.heartbeat),
        JobSpec("lease_sweep", every(j.lease_sweep_seconds), actions.sweep_leases),
    ]
    for name in campaigns:
        window = settings.windows.get(name)
        if window is None:
            continue
        zone = window.timezone
        start_at = CronTrigger(
            day_of_week=window.days,
            hour=window.start.hour,
            minute=window.start.minute,
            timezone=zone,
        )
        end_at = CronTrigger(
            day_of_week=window.days, hour=window.end.hour, minute=window.end.minute, timezone=zone
        )
        apply = _window(actions, name, window)
        specs.append(JobSpec(f"window_open:{name}", start_at, apply))
        specs.append(JobSpec(f"window_close:{name}", end_at, apply))
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


class Jobs:
    """The daemon's jobs on its clock: `start()` inside the running loop, `stop()` (or
    `shutdown()`) at stop. `wakeup()` makes every job look at the clock again at once (a
    `ManualClock` that was moved)."""

    def __init__(
        self,
        settings: OrchestrationSettings,
        actions: JobActions,
        campaigns: Sequence[str],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.campaigns = list(campaigns)
        self.clock = clock if clock is not None else Clock()
        self.specs = self._specs(self.now())
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.last_run: dict[str, datetime] = {}
        self._next: dict[str, datetime | None] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._closing = False

    def _specs(self, start: datetime) -> dict[str, JobSpec]:
        specs = job_specs(self.settings, self.actions, self.campaigns, start)
        return {spec.id: spec for spec in specs}

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not self._closing

    async def start(self) -> None:
        """Put each campaign with a window in the state the window says, then schedule."""
        now = self.now()
        for name in self.campaigns:
            window = self.settings.windows.get(name)
            if window is not None:
                await _window(self.actions, name, window)(now)
        self.specs = self._specs(now)  # intervals count from here
        for spec in self.specs.values():
            self._next[spec.id] = spec.trigger.get_next_fire_time(None, now)
            self._tasks[spec.id] = asyncio.create_task(self._loop(spec), name=f"job:{spec.id}")

    def wakeup(self) -> None:
        """Every waiting job looks at the clock now (and runs if it is due)."""
        woken, self._wake = self._wake, asyncio.Event()
        woken.set()

    def shutdown(self) -> None:
        """No job starts any more; one that is running finishes (see `stop`)."""
        self._closing = True
        self.wakeup()

    async def stop(self) -> None:
        """`shutdown`, then wait up to STOP_GRACE for running jobs (cancelled beyond: a
        job cancelled inside a store transaction could leave SQLite locked)."""
        self.shutdown()
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def run_now(self, job_id: str) -> None:
        """Run one job at once (a manager's request, a test)."""
        await self._runner(self.specs[job_id])()

    def next_runs(self) -> dict[str, datetime | None]:
        return dict(self._next)

    async def _loop(self, spec: JobSpec) -> None:
        run = self._runner(spec)
        while not self._closing:
            due = self._next.get(spec.id)
            if due is None:
                return  # the trigger has no more fire times
            now = self.now()
            if now < due:
                await self._sleep((due - now).total_seconds())
                continue
            await run()
            self._next[spec.id] = next_fire(spec.trigger, self.now())

    async def _sleep(self, clock_seconds: float) -> None:
        woken = self._wake
        real = min(self.clock.real_seconds(clock_seconds), MAX_WAIT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(real):
                await woken.wait()

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
        nexts = self.next_runs() if self.running else {}
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
