"""The daemon's inbound desk: from a caller ringing one of our numbers to the record.

1. The trunk asks whether a dialed number is ours (`accepts`) and, when it rings, hands
   the call over (`offered`). The desk E.164-normalises the caller's number, looks it up
   through the blind index of the campaign's sealed numbers (several cases: the most
   recently contacted one, the rest listed; none: an unknown caller), and gives the
   campaign's runner an `InboundCallArrived`. The engine routes it (owner, team, anyone)
   or queues it; the runner executes `Bridge`, `QueueInbound`, `OfferCallback`, `Hangup`.
2. The trunk's later events for the call (the caller's hang-up, their key) reach the same
   runner through `runner_for`.
3. `InboundFinished`: metrics (offered at the ring, answered, abandoned, outcome, wait,
   the service level), the `inbound_calls` row, and on a callback request a callback on
   the case at the next time its compliance profile allows (dialer.daemon.inbound_records);
   a record the store cannot take waits for it, and a stop with the store still down
   leaves it in a spool the next start replays (`drain`, `replay_spool`).

Caller numbers stay in memory in the clear for the call's life only; logs get them masked.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.daemon.inbound_records import InboundRecorder
from dialer.daemon.inbound_routes import e164, inbound_routes
from dialer.daemon.runner import CampaignRunner
from dialer.domain.events import InboundCallArrived
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.domain.model import DialTarget
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.privacy import mask_phone
from dialer.settings import Settings, service_level_terms
from dialer.store.case_reads import history_of
from dialer.store.cases_repo import CaseRepository
from dialer.store.inbound_repo import CallerMatch, InboundRepository
from dialer.telephony.sip_inbound import InboundOffer
from dialer.web.facade import InboundPop

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0  # real seconds between service-level refreshes
UNFINISHED_SECONDS = 60.0  # real seconds an ended call may wait for the engine's record
HISTORY_DAYS = 35  # as much as any rule looks back (Reg F: 7 days; TSR: 30)
RECORD_GRACE_SECONDS = 5.0  # at a stop, how long records may take before they are spooled


def inbound_spool_path(settings: Settings) -> Path:
    """Beside the store writer's spool: `var/store-spool.jsonl` -> `.inbound.jsonl`."""
    spool = settings.database.spool_path
    return spool.with_name(f"{spool.stem}.inbound{spool.suffix or '.jsonl'}")


@dataclass(slots=True)
class _Open:
    """An inbound call the desk handed to a runner and has not recorded yet."""

    campaign: str
    number: str
    match: CallerMatch
    collector_row: int | None = None
    voicemail: Path | None = None
    hung_up_at: float | None = None  # the trunk reported its end (loop time)


class InboundDesk:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        runners: dict[str, CampaignRunner],
        profiles: dict[str, Profile],
    ) -> None:
        self.settings = settings.inbound
        self._targets = {c.name: service_level_terms(settings, c.name) for c in settings.campaigns}
        self._region = settings.default_region
        self._metrics = metrics
        self._sessions = sessions
        self._clock = clock
        self._runners = runners
        self.routes = inbound_routes(settings)
        self._open: dict[str, _Open] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._recorder = InboundRecorder(settings.inbound, sessions, profiles)
        self.spool_path = inbound_spool_path(settings)
        # (ended at, answered within the target) per campaign, for the service level
        self._window: dict[str, deque[tuple[float, bool]]] = {}
        for campaign in {*self.routes.values()}:
            metrics.init_inbound(campaign, self._targets[campaign][0])

    @classmethod
    def wanted(
        cls,
        settings: Settings,
        metrics: Metrics,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        runners: dict[str, CampaignRunner],
        profiles: dict[str, Profile],
    ) -> InboundDesk | None:
        """The daemon's desk when it takes inbound calls: enabled, on the SIP trunk or on a
        simulated one with callers (`trunk.simulated.callers.calls_per_hour`)."""
        trunk = settings.trunk
        callers = trunk.kind == "simulated" and trunk.simulated.callers.calls_per_hour > 0
        if not settings.inbound.enabled or not (trunk.kind == "sip" or callers):
            return None
        return cls(settings, metrics, sessions, clock, runners, profiles)

    def attach(self) -> None:
        """Runners send their inbound calls here, and the service level is refreshed every
        few seconds (calls age out of its window). Done at the first call if not before:
        the runners are built after the trunk, which needs the desk first."""
        for runner in self._runners.values():
            runner.inbound = self
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.refresh(self._clock.now())
            self.sweep(loop.time())
            await asyncio.sleep(REFRESH_SECONDS)

    # -- the trunk's hooks (dialer.telephony.sip_inbound.InboundHooks) ---------------------
    def accepts(self, dialed: str) -> bool:
        number = e164(dialed, self._region)
        ours = number is not None and self.routes.get(number) in self._runners
        if not ours:
            self._metrics.inbound_refused.inc()
        return ours

    def offered(self, offer: InboundOffer) -> None:
        number = e164(offer.dialed, self._region)
        campaign = self.routes.get(number or "")
        if campaign is None or campaign not in self._runners:
            return  # accepts() said no: the trunk never offers it
        self._metrics.inbound_offered.labels(campaign).inc()
        if self._runners[campaign].inbound is not self or self._ticker is None:
            self.attach()
        caller = e164(offer.caller, self._region) or ""
        self._open[offer.call_id] = _Open(campaign, caller, CallerMatch(None))
        self._spawn(self._arrive(offer.call_id, campaign, caller))

    def recording(self, call_id: str, path: Path) -> None:
        call = self._open.get(call_id)
        if call is not None:
            call.voicemail = path

    # -- routing the trunk's later events --------------------------------------------------
    def runner_for(self, call_id: str) -> CampaignRunner | None:
        call = self._open.get(call_id)
        return None if call is None else self._runners.get(call.campaign)

    def hung_up(self, call_id: str, at: float) -> None:
        """The trunk says the call ended: the engine's InboundFinished should follow."""
        call = self._open.get(call_id)
        if call is not None and call.hung_up_at is None:
            call.hung_up_at = at

    def sweep(self, now: float) -> list[str]:
        """Forget calls that ended on the trunk `UNFINISHED_SECONDS` ago with no record
        from the engine (it refused the call): nothing is kept for ever. Returns them."""
        gone = [
            call_id
            for call_id, call in self._open.items()
            if call.hung_up_at is not None and now - call.hung_up_at > UNFINISHED_SECONDS
        ]
        for call_id in gone:
            call = self._open.pop(call_id)
            event(
                log, "inbound.unfinished", logging.WARNING, campaign=call.campaign, call_id=call_id
            )
        return gone

    def screen_pop(self, call_id: str) -> InboundPop | None:
        """What the collector's console shows of an open inbound call (number masked)."""
        call = self._open.get(call_id)
        if call is None:
            return None
        masked = mask_phone(call.number) if call.number else "withheld"
        return InboundPop(call.match.case_id, call.match.others, masked)

    # -- the runners' commands (dialer.daemon.runner.InboundSink) ----------------------------
    def owns(self, call_id: str) -> bool:
        return call_id in self._open

    def bridged(self, call_id: str, collector_row: int | None) -> None:
        call = self._open.get(call_id)
        if call is not None:
            call.collector_row = collector_row

    def finished(self, campaign: str, call: InboundCall) -> None:
        opened = self._open.pop(call.call_id, None)
        outcome = call.outcome or InboundOutcome.UNANSWERED
        wait = call.wait_seconds or 0.0
        m = self._metrics
        m.inbound_outcomes.labels(campaign, outcome.value).inc()
        m.inbound_wait.labels(campaign).observe(wait)
        in_target = outcome is InboundOutcome.ANSWERED and wait <= self._targets[campaign][1]
        if outcome is InboundOutcome.ANSWERED:
            m.inbound_answered.labels(campaign).inc()
            if in_target:
                m.inbound_answered_in_target.labels(campaign).inc()
        elif outcome is InboundOutcome.ABANDONED:
            m.inbound_abandoned.labels(campaign).inc()
        now = self._clock.now()
        self._window.setdefault(campaign, deque()).append((now, in_target))
        self.refresh(now)
        event(
            log,
            "inbound.finished",
            campaign=campaign,
            call_id=call.call_id,
            outcome=outcome.value,
            wait=round(wait, 1),
            caller=mask_phone(opened.number) if opened is not None and opened.number else None,
        )
        runner = self._runners.get(campaign)
        if runner is None or opened is None:
            return
        self._spawn(
            self._recorder.record(
                runner.campaign_id,
                campaign,
                call,
                opened.number,
                opened.match,
                opened.collector_row,
                opened.voicemail,
            )
        )

    def refresh(self, now: float) -> None:
        """The service level of every campaign over the window ending `now`."""
        horizon = now - self.settings.service_level_window_seconds
        for campaign, calls in self._window.items():
            while calls and calls[0][0] < horizon:
                calls.popleft()
            level = sum(ok for _, ok in calls) / len(calls) if calls else 1.0
            self._metrics.inbound_service_level.labels(campaign).set(level)

    def replay_spool(self) -> int:
        """Write again what a previous run left in the spool (its store was down at the
        stop); returns how many records. Done at start-up, before any call arrives."""
        records = InboundRecorder.replay(self.spool_path)
        for pending in records:
            self._spawn(self._recorder.commit(pending))
        return len(records)

    async def drain(self, timeout: float = RECORD_GRACE_SECONDS) -> None:
        """Wait for records still being written (the daemon's stop); those the store has
        not taken within `timeout` s (at least RECORD_GRACE_SECONDS) go to the spool."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._tasks:
            _, late = await asyncio.wait(
                set(self._tasks), timeout=max(timeout, RECORD_GRACE_SECONDS)
            )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        spooled = self._recorder.spool(self.spool_path)
        if spooled:
            event(
                log,
                "inbound.spooled",
                logging.ERROR,
                records=spooled,
                path=str(self.spool_path),
            )

    # -- internals -------------------------------------------------------------------------
    async def _arrive(self, call_id: str, campaign: str, number: str) -> None:
        runner = self._runners[campaign]
        match, target = CallerMatch(None), None
        try:
            match, target = await self._identify(runner.campaign_id, number)
        except Exception as exc:  # the store is down: the caller is still answered, unknown
            event(
                log,
                "inbound.identify_failed",
                logging.WARNING,
                call_id=call_id,
                error=type(exc).__name__,
            )
        opened = self._open.get(call_id)
        if opened is None:
            return  # hung up while we looked
        opened.match = match
        event(
            log,
            "inbound.arrived",
            campaign=campaign,
            call_id=call_id,
            caller=mask_phone(number) if number else "withheld",
            known=match.case_id is not None,
            others=len(match.others),
        )
        runner.push(InboundCallArrived(call_id, number, target, match.other_refs))

    async def _identify(
        self, campaign_id: int, number: str
    ) -> tuple[CallerMatch, DialTarget | None]:
        async with self._sessions() as session:
            match = await InboundRepository(session).identify(campaign_id, number)
            if match.case_id is None:
                return match, None
            detail = await CaseRepository(session).get(match.case_id)
            if detail is None:
                return CallerMatch(None), None
            since = datetime.fromtimestamp(self._clock.now(), UTC) - timedelta(days=HISTORY_DAYS)
            history = (await history_of(session, [match.case_id], since)).get(match.case_id, ())
        return match, DialTarget(detail.case, number, history)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
