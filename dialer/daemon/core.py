"""The composition root: builds the store, trunk, engines, web app and metrics from the
settings and runs them in one asyncio event loop.

Start-up (dialer.daemon.startup): check the campaigns against their profiles, migrate the
store, register campaigns and (simulated) collectors, load the demo portfolio into an empty
campaign. Running: one CampaignRunner per campaign, the trunk's event pump, the store writer,
the web server, a metrics refresher and an event-loop lag probe, all in one TaskGroup; the
parts are built by dialer.daemon.build. Stopping (SIGINT, SIGTERM, `--duration` or
`request_stop()`): no new dials, live calls finish up to the drain timeout, then everything
still up is hung up and the process exits cleanly. Call recording (dialer.daemon.recordings)
taps the SIP trunk's debtor legs and stops after the trunk, so every file is closed.
Inbound calls (callers to our numbers, SIP trunk only) go through the inbound desk
(dialer.daemon.inbound_desk).

Over 400 lines: it is the composition root, each part one call here; how they run together
(the task group, the drain, the order of stopping) reads best in one place.

The daemon is also the web app's `DialerFacade` (dialer.web.facade): the web depends on
that protocol, not on this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.daemon import build, health, recovery, startup
from dialer.daemon.call_screening import CallScreening
from dialer.daemon.collector_legs import CollectorLegs, LegAwareRunner
from dialer.daemon.gauges import DaemonGauges
from dialer.daemon.inbound_desk import InboundDesk
from dialer.daemon.pump import pump
from dialer.daemon.recordings import CallRecordings
from dialer.daemon.runner import CampaignRunner, CaseSource
from dialer.daemon.simulated_agents import SimulatedCollectors
from dialer.daemon.startup import StartupError, StartupReport
from dialer.daemon.store_writer import StoreWriter
from dialer.daemon.web_server import WebServer
from dialer.domain.model import DialTarget
from dialer.logs import event
from dialer.media.switch_interval import short_switch_interval
from dialer.metrics import Metrics
from dialer.orchestration.orchestrator import Orchestrator, recycle_delays
from dialer.settings import CampaignSettings, Settings
from dialer.store.db import POOL_OVERFLOW, create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository, CollectorRepository
from dialer.telephony.port import Trunk, TrunkEvent
from dialer.web.facade import CampaignHealth, InboundPop

log = logging.getLogger(__name__)
LAG_PROBE_INTERVAL = 0.05


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        speed: float = 1.0,
        clock_start: float | None = None,
        seed: int | None = None,
        clock_anchor: float | None = None,
    ) -> None:
        self.settings = settings
        # One clock for everything the daemon schedules (dialer.clock).
        self.clock = Clock(speed, clock_start, clock_anchor)
        self.metrics = Metrics()
        self.rng = np.random.default_rng(seed)
        self.instance = startup.instance_name(settings)
        self.runners: dict[str, CampaignRunner] = {}
        self.profiles: dict[str, Profile] = {}
        self.lag_samples: deque[float] = deque(maxlen=20_000)
        self.started_at = time.monotonic()
        self._stop = asyncio.Event()
        self._db: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.trunk: Trunk | None = None
        self.agents: SimulatedCollectors | None = None
        self.legs: CollectorLegs | None = None  # collectors' nailed-up legs (run())
        self.writer: StoreWriter | None = None
        self._ready = asyncio.Event()
        self._web: WebServer | None = None
        # campaign -> why its last refill found nothing (None: it found cases).
        self._hopper_reasons: dict[str, str | None] = {}
        self.orchestrator: Orchestrator | None = None  # hoppers, reassigner, jobs (run())
        self.gauges: DaemonGauges | None = None  # metrics and ledger refresh (run())
        self.recordings: CallRecordings | None = None  # call recording (run(), SIP only)
        self.screening: CallScreening | None = None  # AMD on answered calls (run(), SIP only)
        self._messages: dict[str, bytes] = {}  # voicemail drops' messages (prepare())
        self.inbound: InboundDesk | None = None  # callers to our numbers (SIP trunk, run())

    # ----- start-up ---------------------------------------------------------------------------

    async def prepare(self) -> StartupReport:
        """Migrate, register campaigns and collectors, load demo data where empty."""
        self.profiles = startup.check_campaigns(self.settings)
        startup.check_settings(self.settings, self.instance, self.clock)
        self._messages = startup.voicemail_messages(self.settings)
        url = self.settings.database.url
        await migrate(url)
        pool = self.settings.database.pool_size
        self._db = create_engine(url, pool_size=pool, max_overflow=POOL_OVERFLOW)
        self._sessions = session_factory(self._db)
        report = StartupReport(database=startup.safe_url(url), trunk=self.settings.trunk.kind)
        await startup.register(self.settings, self._sessions, report)
        # Attempts this instance (or any dead one) left open in a crash: closed before dialing.
        await recovery.close_all(
            self._sessions, self._utcnow(), own_instance=self.instance, grace=0
        )
        return report

    def _utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    def _case_source(self, campaign: CampaignSettings, campaign_id: int) -> CaseSource:
        """The campaign's hopper (dialer.orchestration.supply): leases, compliance first."""
        assert self.orchestrator is not None
        hopper = self.orchestrator.hopper(campaign.name, campaign_id, self.profiles[campaign.name])

        async def supply(count: int, queued: frozenset[str], now: datetime) -> list[DialTarget]:
            try:
                return await hopper.supply(count, queued, now)
            finally:
                self._hopper_reasons[campaign.name] = hopper.reason

        return supply

    # ----- running ----------------------------------------------------------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def run(self, duration: float | None = None) -> None:
        # the media threads (recording writer, AMD) must not hold the loop up for 5 ms at a
        # time (dialer.media.switch_interval)
        with short_switch_interval():
            await self._run(duration)

    async def _run(self, duration: float | None) -> None:
        if self._sessions is None:
            await self.prepare()
        assert self._sessions is not None and self._db is not None
        orchestration = self.settings.orchestration
        self.writer = StoreWriter(
            self._sessions,
            self.metrics,
            lease_owner=self.instance,
            recycle_after=recycle_delays(orchestration),
            on_state=self._store_state,
        )
        replayed = self.writer.replay_spool(self.settings.database.spool_path)
        if replayed:
            event(log, "store.spool_replayed", logging.WARNING, operations=replayed)
        self.orchestrator = Orchestrator(
            orchestration,
            self._sessions,
            owner=self.instance,
            clock=self.clock,
            metrics=self.metrics,
        )
        simulated = startup.simulated_ids(self.settings)
        self.recordings = CallRecordings(
            self.settings, self.profiles, self.runners, self._sessions, self.metrics, self._utcnow
        )
        self.orchestrator.recording_expiry = self.recordings.expire
        self.recordings.start()
        self.inbound = InboundDesk.wanted(
            self.settings, self.metrics, self._sessions, self.clock, self.runners, self.profiles
        )
        if self.inbound is not None and (replayed := self.inbound.replay_spool()):
            event(log, "inbound.spool_replayed", logging.WARNING, records=replayed)
        screening = CallScreening(self.settings, self.runners, self.metrics, self._messages)
        if screening.needed and self.settings.trunk.kind == "sip":
            self.screening = screening
            screening.prewarm()
        self.trunk = build.build_trunk(
            self.settings,
            self.rng,
            self.clock,
            self._leg_lost,
            self._trunk_state,
            tap_factory=self.recordings.tap,
            inbound=self.inbound,
            screening=None if self.screening is None else self.screening.screen,
        )
        self.metrics.trunk_up.labels(self.settings.trunk.kind).set(1)
        self.legs = CollectorLegs(self.trunk, nailed_up=self.settings.trunk.kind == "sip")
        self.agents = build.build_agents(self.settings, simulated, self.rng, self.clock)
        trunk_events: asyncio.Queue[TrunkEvent] = asyncio.Queue()
        await self.trunk.start(trunk_events)
        async with self._sessions() as session:
            repo = CampaignRepository(session)
            campaign_rows = {
                c.name: await repo.get_by_name(c.name) for c in self.settings.campaigns
            }
            people = CollectorRepository(session)
            collector_rows = {}
            for collector_id in simulated:
                person = await people.get(collector_id)
                if person is not None:
                    collector_rows[collector_id] = person.id
        for campaign in self.settings.campaigns:
            row = campaign_rows[campaign.name]
            assert row is not None
            engine = build.build_engine(campaign, self.profiles[campaign.name], self.rng)
            runner = LegAwareRunner(
                engine,
                row.id,
                self.trunk,
                self.writer,
                self.metrics,
                self.clock,
                self._case_source(campaign, row.id),
                collector_rows,
                self.agents.on_wrap_up if self.agents else None,
                flush_before_refill=False,  # the hopper leases: no case is offered twice
            )
            self.legs.attach(runner)  # logins wait for the collector's leg (SIP)
            self.runners[campaign.name] = runner
        self.orchestrator.attach(self.runners)
        self._install_signals()
        try:
            async with asyncio.TaskGroup() as group:
                background = [
                    group.create_task(self.writer.run()),
                    group.create_task(
                        recovery.sweep(self._sessions, self._utcnow, self._sweep_interval)
                    ),
                    group.create_task(pump(trunk_events, self.runners, self.inbound)),
                    group.create_task(self._gauges().refresh()),
                    group.create_task(self._gauges().refresh_ledger()),
                    group.create_task(self._probe_lag()),
                ]
                web = self._start_web(group)
                if web is not None:
                    background.append(web)
                await self.writer.flush()  # a spooled run's records land before new dials
                runs = [group.create_task(r.run()) for r in self.runners.values()]
                if self.agents is not None and self.runners:
                    first = next(iter(self.runners.values()))
                    self.agents.start(first.push)
                await self.orchestrator.start()
                self._ready.set()
                event(log, "daemon.ready", campaigns=sorted(self.runners))
                if duration is not None:
                    # Cancelled below: a stop by signal must not wait for the timer.
                    background.append(group.create_task(self._stop_after(duration)))
                await self._stop.wait()
                event(log, "daemon.stopping", drain_timeout=self.settings.drain_timeout)
                # Simulated collectors keep working through the drain, as people would.
                await asyncio.gather(
                    *(r.stop(self.settings.drain_timeout) for r in self.runners.values())
                )
                await asyncio.gather(*runs)
                if self.agents is not None:
                    self.agents.stop()
                if self.inbound is not None:
                    # inbound records written before the end, or spooled
                    await self.inbound.drain(self.settings.drain_timeout)
                await self._flush_or_spool()
                await self.orchestrator.stop()  # the scheduler stops, leases are released
                if self._web is not None:
                    self._web.stop()
                for task in background:
                    if task is not web:
                        task.cancel()
        finally:
            await self.legs.close()
            await self.trunk.stop()
            await self.recordings.stop()  # after the trunk: every leg, so every file, closed
            if self.screening is not None:
                self.screening.close()
            await self._db.dispose()
        event(log, "daemon.stopped")

    def _store_state(self, up: bool, reason: str | None) -> None:
        """No record, no call: while the store cannot take writes no campaign launches."""
        for runner in self.runners.values():
            if up:
                runner.engine.release("store_unavailable")
            else:
                runner.engine.hold("store_unavailable", f"the store cannot take writes ({reason})")
        if self.writer is not None:
            self.metrics.store_pending.set(self.writer.pending)

    def _trunk_state(self, up: bool, why: str | None) -> None:
        """The trunk's breaker: while it is open no campaign launches (dialer.telephony)."""
        self.metrics.trunk_up.labels(self.settings.trunk.kind).set(1 if up else 0)
        for runner in self.runners.values():
            if up:
                runner.engine.release("trunk_down")
            else:
                runner.engine.hold("trunk_down", f"the trunk is down: {why}")

    def _sweep_interval(self) -> float:
        return self.clock.real_seconds(self.settings.database.orphan_sweep_seconds)

    async def _flush_or_spool(self) -> None:
        """Everything queued reaches the store, or (store still down after the drain
        timeout) the spool file that the next start-up replays."""
        assert self.writer is not None
        try:
            async with asyncio.timeout(self.settings.drain_timeout):
                await self.writer.flush()
        except TimeoutError:
            spooled = self.writer.spool(self.settings.database.spool_path)
            event(
                log,
                "store.spooled",
                logging.ERROR,
                operations=spooled,
                path=str(self.settings.database.spool_path),
            )

    def _leg_lost(self, collector_id: str) -> None:
        """The SIP trunk says a collector's phone hung up its leg."""
        if self.legs is not None:
            self.legs.leg_lost(collector_id)

    async def _stop_after(self, duration: float) -> None:
        await asyncio.sleep(duration)
        self.request_stop()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not possible outside the main thread (embedded use); the owner stops us then.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)

    def _start_web(self, group: asyncio.TaskGroup) -> asyncio.Task[None] | None:
        web = self.settings.web
        if not web.enabled:
            return None
        from dialer.web.app import create_app
        from dialer.web.session_secret import SessionSecretError

        try:
            self._web = WebServer(create_app(self), web.host, web.port)
        except SessionSecretError as exc:  # an unwritable var/, say: one line, no traceback
            raise StartupError(str(exc)) from None
        return self._web.start(group)

    async def read_ledger(self) -> None:
        """Read the shared abandonment ledger now (see `DaemonGauges.read_ledger`)."""
        await self._gauges().read_ledger()

    def _gauges(self) -> DaemonGauges:
        if self.gauges is None:
            assert self._sessions is not None and self._db is not None
            self.gauges = DaemonGauges(
                self.settings,
                self.metrics,
                self.clock,
                self.runners,
                self.profiles,
                self._sessions,
                self._db,
                self._hopper_reasons,
                lambda: self.trunk,
            )
        return self.gauges

    async def _probe_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PROBE_INTERVAL
            await asyncio.sleep(LAG_PROBE_INTERVAL)
            lag = max(0.0, loop.time() - due)
            self.lag_samples.append(lag)
            self.metrics.loop_lag.observe(lag)

    # ----- introspection and the web's facade (dialer.web.facade) -----------------------------

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The store's session factory (after `prepare`)."""
        if self._sessions is None:
            raise RuntimeError("the daemon is not prepared: no store yet")
        return self._sessions

    @property
    def web_port(self) -> int | None:
        """The port the web server listens on, once it does."""
        return None if self._web is None else self._web.port

    @property
    def stopping(self) -> bool:
        """A stop was requested: long-lived web streams end."""
        return self._stop.is_set()

    @property
    def trunk_registered(self) -> bool:
        return self.trunk is not None and self.trunk.registered

    @property
    def trunk_problem(self) -> str | None:
        return "the trunk is not started" if self.trunk is None else self.trunk.down_reason

    @property
    def store_problem(self) -> str | None:
        if self.writer is None or self.writer.up:
            return None
        return self.writer.down_reason or "the store cannot take writes"

    async def flush_writes(self) -> None:
        if self.writer is not None:
            await self.writer.flush()

    def hopper_reason(self, campaign: str) -> str | None:
        return None if self.orchestrator is None else self.orchestrator.hopper_reason(campaign)

    def health(self) -> dict[str, CampaignHealth]:
        """Per campaign: dialing, or not dialing and why (dialer.daemon.health)."""
        orchestration = self.settings.orchestration
        return health.assess(
            self.runners,
            {} if self.orchestrator is None else self.orchestrator.hoppers,
            orchestration.windows if orchestration.enabled else {},
            trunk_problem=self.trunk_problem,
            store_problem=self.store_problem,
            stopping=self.stopping,
            now=self._utcnow(),
        )

    def inbound_pop(self, call_id: str) -> InboundPop | None:
        return None if self.inbound is None else self.inbound.screen_pop(call_id)

    def summary(self) -> dict[str, dict[str, object]]:
        now = self.clock.now()
        return {name: r.engine.snapshot(now) for name, r in self.runners.items()}
