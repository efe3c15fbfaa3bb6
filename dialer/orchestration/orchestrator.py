"""Case orchestration inside one daemon: the campaigns' hoppers, the reassigner, the
scheduled jobs and this daemon's leases, composed for `dialer.daemon`.

The daemon builds one `Orchestrator`, asks it for each campaign's `Hopper` (the runner's
case source), `attach`es the runners once they exist (it watches their steps: a collector
logging off triggers reassignment; every ended attempt marks its case for a priority
recompute), `start`s it in the running loop and `stop`s it after the runners drained (the
jobs stop, every lease still held is released). It implements `jobs.JobActions`.
Store-wide jobs (priorities, broken promises, rebalancing, ledger expiry, retention,
recording expiry) run on one daemon at a time when several share a PostgreSQL (an
advisory lock). Over 400 lines: it is the one `JobActions`, each job's action a few lines
beside the others, and what the engines know that those actions read.

One clock (dialer.clock): leases are stamped from the daemon's clock and last
`lease_seconds` of it, the heartbeat extends them every third of that on the same clock,
and the reassigner's rules compare its times: `--speed 30` is production, 30 times faster.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.domain.agents import CollectorState
from dialer.domain.commands import AttemptFinished, Command
from dialer.domain.events import CollectorLoggedOut, Event
from dialer.domain.model import ContactOutcome
from dialer.domain.priority_inputs import PriorityInputs
from dialer.engine import RunningCampaign
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.orchestration.jobs import Jobs
from dialer.orchestration.priority import PriorityModel, campaign_prior
from dialer.orchestration.reassign import LOGOFF, PAUSED, Reassigner
from dialer.orchestration.settings import OrchestrationSettings
from dialer.orchestration.supply import Hopper
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.lease_repo import LeaseRepository
from dialer.store.maintenance_repo import MaintenanceRepository, exclusive
from dialer.store.priority_repo import PriorityRepository
from dialer.store.reassign_repo import ReassignRepository

log = logging.getLogger(__name__)
PRIORITY_CHUNK = 1000
PROMOTE_BATCH = 5000
RETENTION_BATCH = 10_000
MAX_BATCHES = 50  # per job run: the next run goes on where this one stopped


class _Reading(Clock):
    """A clock that reads a function (`Orchestrator(now=...)` in tests)."""

    def __init__(self, read: Callable[[], datetime]) -> None:
        super().__init__()
        self._read = read

    def now(self) -> float:
        return self._read().timestamp()


def recycle_delays(settings: OrchestrationSettings) -> dict[ContactOutcome, timedelta]:
    """When a case may be tried again after each outcome (the store writer's delays)."""
    minutes = settings.recycle_minutes.model_dump()
    # An interrupted attempt is never an ended call's outcome: no setting for it.
    return {
        outcome: timedelta(minutes=minutes[outcome.value])
        for outcome in ContactOutcome
        if outcome.value in minutes
    }


class Orchestrator:
    def __init__(
        self,
        settings: OrchestrationSettings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        owner: str,
        clock: Clock | None = None,
        now: Callable[[], datetime] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`clock` is the daemon's (default: the wall clock); `now` alone (tests) makes a
        clock that reads it."""
        self.settings = settings
        self.sessions = sessions
        self.owner = owner
        if clock is None:
            clock = Clock() if now is None else _Reading(now)
        self.clock = clock
        self.now: Callable[[], datetime] = clock.utcnow
        self.metrics = metrics
        self.hoppers: dict[str, Hopper] = {}
        self.campaign_ids: dict[str, int] = {}
        self.runners: dict[str, RunningCampaign] = {}
        self.reassigner = Reassigner(
            sessions,
            settings.reassign,
            moved_by=f"reassigner@{owner}"[:100],
            live_refs=self.live_refs,
            presence=self.presence,
            metrics=metrics,
        )
        self.jobs: Jobs | None = None
        self.model = PriorityModel(settings.priority)
        self._priors: dict[int, float] = {}
        self._dirty: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pauses_handled: dict[str, float] = {}
        self._people: dict[int, tuple[str, int | None, frozenset[str]]] | None = None
        self._callbacks_until: datetime | None = None
        # Deletes expired call recordings (dialer.media.retention, set by the daemon):
        # orchestration schedules it, media owns the files.
        self.recording_expiry: Callable[[datetime], Awaitable[int]] | None = None

    # ----- composition --------------------------------------------------------------------

    def hopper(self, campaign: str, campaign_id: int, profile: Profile) -> Hopper:
        """The campaign's case supply (its `supply` is the runner's CaseSource)."""
        hopper = Hopper(
            self.sessions,
            campaign=campaign,
            campaign_id=campaign_id,
            profile=profile,
            owner=self.owner,
            lease_seconds=self.settings.lease_seconds,
            rounds=self.settings.refill_rounds,
        )
        self.hoppers[campaign] = hopper
        self.campaign_ids[campaign] = campaign_id
        self.reassigner.campaigns[campaign_id] = campaign
        return hopper

    def attach(self, runners: Mapping[str, RunningCampaign]) -> None:
        self.runners = dict(runners)
        for runner in self.runners.values():
            runner.step_observers.append(self.observe)

    async def start(self) -> None:
        if self.settings.enabled:
            self.jobs = Jobs(self.settings, self, list(self.runners), clock=self.clock)
            await self.jobs.start()

    async def stop(self) -> None:
        """After the runners drained and the store writer flushed."""
        if self.jobs is not None:
            await self.jobs.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self.sessions() as session, session.begin():
            released = await LeaseRepository(session).release_all(self.owner)
        event(log, "orchestrator.stopped", leases_released=released)

    # ----- what the engines know ----------------------------------------------------------

    def live_refs(self) -> frozenset[str]:
        """Case refs in some engine's hopper or on one of its calls."""
        refs: set[str] = set()
        for runner in self.runners.values():
            refs |= runner.engine.queued_refs
        return frozenset(refs)

    def presence(self) -> dict[str, str]:
        """Collector -> state, over every campaign this daemon runs."""
        states: dict[str, str] = {}
        for runner in self.runners.values():
            for collector_id, collector in runner.engine.collectors.items():
                if collector.state is not CollectorState.LOGGED_OUT:
                    states[collector_id] = collector.state.value
        return states

    def observe(self, runner: RunningCampaign, step: Event | None, commands: list[Command]) -> None:
        """A runner's step observer: logoffs trigger reassignment, ended attempts mark
        their case for the next priority recompute."""
        for command in commands:
            if isinstance(command, AttemptFinished):
                self._dirty.add(int(command.case_ref))
        if isinstance(step, CollectorLoggedOut) and self.settings.reassign.enabled:
            self._spawn(self.reassigner.collector_away(step.collector_id, self.now(), LOGOFF))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            event(log, "orchestrator.task_failed", logging.ERROR, error=str(task.exception()))

    def hopper_reason(self, campaign: str) -> str | None:
        """Why the campaign's last refill found nothing (None: it found cases)."""
        hopper = self.hoppers.get(campaign)
        return None if hopper is None else hopper.reason

    def status(self) -> dict[str, Any]:
        """For the manager page and the API (plain values)."""
        hoppers: dict[str, Any] = {}
        for name, h in self.hoppers.items():
            last = h.last
            hoppers[name] = {
                "reason": h.reason,
                "last_refill": None
                if last is None
                else {
                    "at": last.at.isoformat(),
                    "asked": last.asked,
                    "leased": last.leased,
                    "supplied": last.supplied,
                    "blocked": last.blocked,
                    "seconds": last.seconds,
                },
            }
        moves = [
            {
                "rule": o.rule,
                "moved": o.moved,
                "skipped": o.live,
                "no_recipient": o.no_recipient,
                "seconds": o.seconds,
            }
            for o in self.reassigner.history[-10:]
        ]
        jobs = self.jobs.describe() if self.jobs is not None else []
        return {"owner": self.owner, "hoppers": hoppers, "jobs": jobs, "reassignments": moves}

    # ----- jobs.JobActions ----------------------------------------------------------------

    async def open_campaign(self, campaign: str, now: datetime) -> None:
        runner = self.runners.get(campaign)
        if runner is not None and runner.engine.paused:
            runner.engine.paused = False
            event(log, "campaign.window_opened", campaign=campaign)

    async def close_campaign(self, campaign: str, now: datetime) -> None:
        runner = self.runners.get(campaign)
        if runner is not None and not runner.engine.paused:
            runner.engine.paused = True  # no new dials; live calls go on
            event(log, "campaign.window_closed", campaign=campaign)

    async def recycle(self, now: datetime) -> None:
        for campaign_id in self.campaign_ids.values():
            for _ in range(MAX_BATCHES):
                async with self.sessions() as session, session.begin():
                    moved = await LeaseRepository(session).promote_due(
                        campaign_id, now, PROMOTE_BATCH
                    )
                if moved < PROMOTE_BATCH:
                    break

    async def fire_callbacks(self, now: datetime) -> None:
        """Follow-ups that came due get their priority raised (refills move them into the
        ready lane and serve them first); unpaid promises are escalated."""
        after = self._callbacks_until or now - timedelta(days=1)
        async with self.sessions() as session:
            due = await MaintenanceRepository(session).followups_due(
                list(self.campaign_ids.values()), after, now
            )
        self._callbacks_until = now
        await self._recompute(due, now)
        if self.settings.reassign.enabled:
            async with exclusive(self.sessions, "broken_promises") as mine:
                if mine:
                    await self.reassigner.escalate_broken_promises(now)

    async def check_presence(self, now: datetime) -> None:
        """Collectors paused too long, and team or skill changes, trigger reassignment."""
        if not self.settings.reassign.enabled:
            return
        limit = self.settings.reassign.paused_minutes * 60.0
        for runner in self.runners.values():
            for collector_id, c in runner.engine.collectors.items():
                if c.state is not CollectorState.PAUSED or now.timestamp() - c.since < limit:
                    continue
                if self._pauses_handled.get(collector_id) != c.since:
                    self._pauses_handled[collector_id] = c.since
                    await self.reassigner.collector_away(collector_id, now, PAUSED)
        async with self.sessions() as session:
            people = await ReassignRepository(session).people()
        seen = {p.id: (p.username, p.team_id, p.skills) for p in people}
        if self._people is not None:
            for person_id, (username, team, skills) in seen.items():
                before = self._people.get(person_id)
                if before is not None and before[1:] != (team, skills):
                    for hopper in self.hoppers.values():
                        hopper.forget_names()
                    await self.reassigner.collector_changed(username, now)
        self._people = seen

    async def recompute_priorities(self, now: datetime, *, full: bool) -> None:
        if not full:
            dirty, self._dirty = self._dirty, set()
            await self._recompute(sorted(dirty), now)
            return
        async with exclusive(self.sessions, "priorities") as mine:
            if not mine:
                return
            since = now - timedelta(days=self.settings.priority.history_days)
            for campaign_id in self.campaign_ids.values():
                await self._learn_prior(campaign_id, since)
                after = 0
                while True:
                    async with self.sessions() as session:
                        inputs, current = await PriorityRepository(session).chunk(
                            campaign_id, after, PRIORITY_CHUNK, since
                        )
                    if not inputs:
                        break
                    after = inputs[-1].case_id
                    await self._score_and_write(inputs, current, campaign_id, now)

    async def _recompute(self, case_ids: list[int], now: datetime) -> None:
        since = now - timedelta(days=self.settings.priority.history_days)
        for start in range(0, len(case_ids), PRIORITY_CHUNK):
            async with self.sessions() as session:
                inputs, current = await PriorityRepository(session).for_cases(
                    case_ids[start : start + PRIORITY_CHUNK], since
                )
            await self._score_and_write(inputs, current, None, now)

    async def _learn_prior(self, campaign_id: int, since: datetime) -> None:
        async with self.sessions() as session:
            attempts, answers = await PriorityRepository(session).answer_counts(campaign_id, since)
        self._priors[campaign_id] = campaign_prior(attempts, answers)

    async def _score_and_write(
        self,
        inputs: list[PriorityInputs],
        current: dict[int, float],
        campaign_id: int | None,
        now: datetime,
    ) -> None:
        prior = self._priors.get(campaign_id or 0, 0.3)
        model = self.model.with_prior(prior)
        # Scoring runs in a worker thread: the event loop keeps pacing meanwhile.
        scores = await asyncio.to_thread(model.scores, inputs, now)
        # Small drifts are not written: each write moves the case in the ready-lane index.
        least = self.settings.priority.min_change
        changed = {
            s.case_id: s.total
            for s in scores
            if abs(current.get(s.case_id, 0.0) - s.total) >= least or current.get(s.case_id) == 0
        }
        if changed:
            async with self.sessions() as session, session.begin():
                await PriorityRepository(session).write(changed)

    async def rebalance(self, now: datetime) -> None:
        if self.settings.reassign.enabled:
            async with exclusive(self.sessions, "rebalance") as mine:
                if mine:
                    await self.reassigner.rebalance(now)

    async def expire_ledger(self, now: datetime) -> None:
        async with exclusive(self.sessions, "ledger_expiry") as mine:
            if mine:
                before = now - timedelta(days=self.settings.ledger_keep_days)
                async with self.sessions() as session, session.begin():
                    expired = await LedgerRepository(session).expire(before)
                event(log, "ledger.expired", entries=expired, before=before.isoformat())

    async def retention(self, now: datetime) -> None:
        async with exclusive(self.sessions, "retention") as mine:
            if not mine:
                return
            cutoff = now - timedelta(days=self.settings.retention_days)
            deleted = 0
            for _ in range(MAX_BATCHES):
                async with self.sessions() as session, session.begin():
                    n = await MaintenanceRepository(session).delete_attempts_before(
                        cutoff, RETENTION_BATCH
                    )
                deleted += n
                if n < RETENTION_BATCH:
                    break
            event(log, "retention.attempts_deleted", attempts=deleted, before=cutoff.isoformat())

    async def expire_recordings(self, now: datetime) -> None:
        if self.recording_expiry is None:
            return
        async with exclusive(self.sessions, "recording_expiry") as mine:
            if mine:
                await self.recording_expiry(now)

    async def heartbeat(self, now: datetime) -> None:
        """Extend the leases on every case in this daemon's hoppers and calls."""
        until = now + timedelta(seconds=self.settings.lease_seconds)
        ids = [int(ref) for ref in self.live_refs()]
        async with self.sessions() as session, session.begin():
            await LeaseRepository(session).extend(self.owner, until, ids)

    async def sweep_leases(self, now: datetime) -> None:
        """Clear expired lease markers (refills take expired leases over by themselves)."""
        async with exclusive(self.sessions, "lease_sweep") as mine:
            if not mine:
                return
            async with self.sessions() as session, session.begin():
                swept = await LeaseRepository(session).sweep_expired(now)
            if swept:
                event(log, "leases.expired_cleared", cases=swept)

    async def reassign_paused(self, username: str) -> None:
        """Manual trigger (the manager page): treat `username` as paused too long."""
        await self.reassigner.collector_away(username, self.now(), PAUSED)
