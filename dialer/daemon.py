"""The composition root: builds the store, trunk, engines, web app and metrics from the
settings and runs them in one asyncio event loop.

Start-up: migrate the store, register campaigns and (simulated) collectors, load the demo
portfolio into an empty campaign, refuse unsafe campaign settings. Running: one
CampaignRunner per campaign, the trunk's event pump, the store writer, the web server, a
metrics refresher and an event-loop lag probe, all in one TaskGroup. Stopping (SIGINT,
SIGTERM, `--duration` or `request_stop()`): no new dials, live calls finish up to the drain
timeout, then everything still up is hung up and the process exits cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import tempfile
import time
import uuid
from collections import Counter as CounterOf
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.collector_legs import CollectorLegs, LegAwareRunner
from dialer.compliance import (
    Profile,
    load_profile,
    require_safe_campaign_config,
)
from dialer.compliance.guard import ProfileGuard
from dialer.daemon_gauges import DaemonGauges, abandon_terms
from dialer.domain.model import DialTarget
from dialer.engine import Engine, EngineConfig
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.orchestrator import Orchestrator, recycle_delays
from dialer.pacing.base import Pacer
from dialer.pacing.distribution_spec import parse_distribution
from dialer.pacing.distributions import SampleBuffer
from dialer.pacing.policies import make_pacer
from dialer.routing import RoutingPolicy
from dialer.runner import CampaignRunner
from dialer.settings import CampaignSettings, Settings
from dialer.simulated_agents import SimulatedCollectors
from dialer.store.cases_repo import CaseRepository
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.org_repo import CampaignRepository, CollectorRepository
from dialer.store_writer import StoreWriter
from dialer.telephony.port import Trunk, TrunkEvent
from dialer.telephony.simulated import SimulatedTrunk
from dialer.telephony.simulated_model import AgentModel, CarrierModel

log = logging.getLogger(__name__)
LAG_PROBE_INTERVAL = 0.05


class StartupError(Exception):
    """The daemon cannot start with these settings; the message says why in one line."""


@dataclass(slots=True)
class StartupReport:
    database: str
    campaigns: dict[str, int] = field(default_factory=dict)  # name -> cases
    demo_loaded: dict[str, int] = field(default_factory=dict)
    collectors: int = 0
    trunk: str = "simulated"


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        speed: float = 1.0,
        clock_start: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.clock = Clock(speed, clock_start)
        self.metrics = Metrics()
        self.rng = np.random.default_rng(seed)
        self.instance = settings.instance_id or f"{socket.gethostname()}-{os.getpid()}"
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
        self.web_port: int | None = None
        self._ready = asyncio.Event()
        self._web_server: uvicorn.Server | None = None
        # campaign -> why its last refill found nothing (None: it found cases).
        self._hopper_reasons: dict[str, str | None] = {}
        self.orchestrator: Orchestrator | None = None  # hoppers, reassigner, jobs (run())
        self.gauges: DaemonGauges | None = None  # metrics and ledger refresh (run())

    # ----- start-up ---------------------------------------------------------------------------

    def _check_campaigns(self) -> None:
        if not self.settings.campaigns:
            raise StartupError("no campaigns configured: add one under 'campaigns'")
        for campaign in self.settings.campaigns:
            try:
                profile = load_profile(campaign.compliance_profile, self.settings.compliance_dir)
            except ValueError as exc:
                raise StartupError(f"campaign {campaign.name}: {exc}") from None
            try:
                require_safe_campaign_config(
                    profile,
                    connect_grace=campaign.connect_grace,
                    ring_timeout=campaign.ring_timeout,
                    target_abandon_rate=campaign.pacing.target_abandon_rate,
                    caller_id=campaign.caller_id,
                    safe_harbor_message_configured=True,
                )
            except ValueError as exc:
                raise StartupError(f"campaign {campaign.name}: {exc}") from None
            self.profiles[campaign.name] = profile

    async def prepare(self) -> StartupReport:
        """Migrate, register campaigns and collectors, load demo data where empty."""
        self._check_campaigns()
        url = self.settings.database.url
        await migrate(url)
        self._db = create_engine(url, pool_size=self.settings.database.pool_size)
        self._sessions = session_factory(self._db)
        report = StartupReport(database=_safe_url(url), trunk=self.settings.trunk.kind)
        async with self._sessions() as session, session.begin():
            campaigns = CampaignRepository(session)
            for c in self.settings.campaigns:
                await campaigns.upsert(
                    c.name,
                    pacing_mode=c.pacing.mode,
                    pacing_params=c.pacing.model_dump(),
                    compliance_profile=c.compliance_profile,
                    caller_id=c.caller_id,
                )
            people = CollectorRepository(session)
            for collector_id in self._simulated_ids():
                await people.upsert(
                    collector_id,
                    team=self.settings.collectors.team,
                    skills=self.settings.collectors.skills,
                )
            counts = await CaseRepository(session).count_by_campaign()
        for c in self.settings.campaigns:
            wanted = self.settings.demo_cases > 0 or self.settings.demo_portfolio is not None
            if counts.get(c.name, 0) == 0 and wanted:
                report.demo_loaded[c.name] = await self._load_demo(c.name)
        async with self._sessions() as session:
            report.campaigns = {
                c.name: n
                for c in self.settings.campaigns
                for name, n in (await CaseRepository(session).count_by_campaign()).items()
                if name == c.name
            }
        report.collectors = len(self._simulated_ids())
        return report

    def _simulated_ids(self) -> list[str]:
        """sim-001 ... sim-<count>; with the SIP trunk only those with a phone under
        trunk.sip.collectors (their nailed-up legs go there)."""
        ids = [f"sim-{i:03d}" for i in range(1, self.settings.collectors.count + 1)]
        sip = self.settings.trunk.sip
        if self.settings.trunk.kind == "sip":
            return [i for i in ids if sip is not None and i in sip.collectors]
        return ids

    async def _load_demo(self, campaign: str) -> int:
        from dialer.demo_data import generate_portfolio, write_csv
        from dialer.importer import import_cases

        assert self._sessions is not None
        if self.settings.demo_portfolio is not None:
            result = await import_cases(
                self._sessions,
                self.settings.demo_portfolio,
                campaign,
                self.settings.default_region,
                skip_bad=True,
            )
            return result.inserted
        rows = generate_portfolio(self.settings.demo_cases, np.random.default_rng(7))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo.csv"
            write_csv(rows, path)
            result = await import_cases(
                self._sessions, path, campaign, self.settings.default_region, skip_bad=True
            )
        return result.inserted

    # ----- composition ------------------------------------------------------------------------

    def _build_trunk(self) -> Trunk:
        trunk = self.settings.trunk
        if trunk.kind == "sip":
            from dialer.telephony.sip import SipTrunk

            assert trunk.sip is not None  # the settings refuse kind sip without it
            return SipTrunk(trunk.sip, on_collector_leg_lost=self._collector_leg_lost)
        sim = trunk.simulated
        carrier = CarrierModel(
            self.rng,
            parse_distribution(sim.answer_delay, "trunk.simulated.answer_delay"),
            parse_distribution(sim.failure_delay, "trunk.simulated.failure_delay"),
            machine_share=sim.machine_probability,
            busy_share=sim.busy_share,
        )
        talk = SampleBuffer(parse_distribution(self.settings.collectors.talk, "talk"), self.rng)
        p = sim.answer_probability
        return SimulatedTrunk(carrier, talk, self.clock, lambda _now: p)

    def _build_agents(self) -> SimulatedCollectors | None:
        ids = self._simulated_ids()
        if not ids:
            return None
        c = self.settings.collectors
        model = AgentModel.build(
            self.rng,
            parse_distribution(c.talk, "collectors.talk"),
            parse_distribution(c.wrap, "collectors.wrap"),
            c.pause_probability,
            parse_distribution(c.pause, "collectors.pause"),
        )
        return SimulatedCollectors(model, self.clock, ids, c.team, frozenset(c.skills))

    def _engine_for(self, campaign: CampaignSettings) -> Engine:
        pacing = campaign.pacing
        config = EngineConfig(
            campaign=campaign.name,
            connect_grace=campaign.connect_grace,
            ring_timeout=campaign.ring_timeout,
            max_lines_per_collector=pacing.max_lines_per_collector,
            routing=RoutingPolicy(campaign.routing.owner_wait, campaign.routing.team_wait),
            auto_ready_after_wrap=campaign.wrap_up_seconds,
            call_id_prefix=f"{campaign.name}.{uuid.uuid4().hex[:8]}.",
        )
        pacer = self._pacer_for(campaign)
        guard = ProfileGuard(self.profiles[campaign.name])
        return Engine(config, pacer, np.random.default_rng(self.rng.integers(2**63)), guard)

    def _pacer_for(self, campaign: CampaignSettings) -> Pacer:
        """The campaign's pacer; the predictive one spends its budget over the compliance
        profile's rolling window, which the gauges' ledger read keeps in step with the store."""
        pacing = campaign.pacing
        cap, window = abandon_terms(self.profiles[campaign.name], campaign)
        if pacing.mode != "predictive":
            return make_pacer(pacing.pacer_spec(), abandon_cap=pacing.target_abandon_rate)
        return make_pacer(
            "predictive",
            abandon_cap=cap,
            target_abandon_rate=min(pacing.target_abandon_rate, cap),
            max_lines_per_collector=pacing.max_lines_per_collector,
            window_seconds=window,
            rolling=True,
        )

    def _case_source(self, campaign: CampaignSettings, campaign_id: int):  # type: ignore[no-untyped-def]
        """The campaign's hopper (dialer.hopper): leases cases, compliance first."""
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
        if self._sessions is None:
            await self.prepare()
        assert self._sessions is not None and self._db is not None
        orchestration = self.settings.orchestration
        self.writer = StoreWriter(
            self._sessions,
            self.metrics,
            lease_owner=self.instance,
            recycle_after=recycle_delays(orchestration),
        )
        self.orchestrator = Orchestrator(
            orchestration,
            self._sessions,
            owner=self.instance,
            now=lambda: datetime.fromtimestamp(self.clock.now(), UTC),
            metrics=self.metrics,
        )
        self.trunk = self._build_trunk()
        self.legs = CollectorLegs(self.trunk, nailed_up=self.settings.trunk.kind == "sip")
        self.agents = self._build_agents()
        trunk_events: asyncio.Queue[TrunkEvent] = asyncio.Queue()
        await self.trunk.start(trunk_events)
        async with self._sessions() as session:
            repo = CampaignRepository(session)
            campaign_rows = {
                c.name: await repo.get_by_name(c.name) for c in self.settings.campaigns
            }
            people = CollectorRepository(session)
            collector_rows = {}
            for collector_id in self._simulated_ids():
                person = await people.get(collector_id)
                if person is not None:
                    collector_rows[collector_id] = person.id
        for campaign in self.settings.campaigns:
            row = campaign_rows[campaign.name]
            assert row is not None
            runner = LegAwareRunner(
                self._engine_for(campaign),
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
                    group.create_task(self._pump(trunk_events)),
                    group.create_task(self._gauges().refresh()),
                    group.create_task(self._gauges().refresh_ledger()),
                    group.create_task(self._probe_lag()),
                ]
                web = self._start_web(group)
                if web is not None:
                    background.append(web)
                runs = [group.create_task(r.run()) for r in self.runners.values()]
                if self.agents is not None and self.runners:
                    first = next(iter(self.runners.values()))
                    self.agents.start(first.push)
                await self.orchestrator.start()
                self._ready.set()
                if duration is not None:
                    group.create_task(self._stop_after(duration))
                await self._stop.wait()
                event(log, "daemon.stopping", drain_timeout=self.settings.drain_timeout)
                # Simulated collectors keep working through the drain, as people would.
                await asyncio.gather(
                    *(r.stop(self.settings.drain_timeout) for r in self.runners.values())
                )
                await asyncio.gather(*runs)
                if self.agents is not None:
                    self.agents.stop()
                await self.writer.flush()
                await self.orchestrator.stop()  # the scheduler stops, leases are released
                if self._web_server is not None:
                    self._web_server.should_exit = True
                for task in background:
                    if task is not web:
                        task.cancel()
        finally:
            await self.legs.close()
            await self.trunk.stop()
            await self._db.dispose()
        event(log, "daemon.stopped")

    def _collector_leg_lost(self, collector_id: str) -> None:
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

    async def _pump(self, events: asyncio.Queue[TrunkEvent]) -> None:
        while True:
            item = await events.get()
            for runner in self.runners.values():
                if item.call_id in runner.engine.calls:
                    runner.push(item)
                    break

    def _start_web(self, group: asyncio.TaskGroup) -> asyncio.Task[None] | None:
        web = self.settings.web
        if not web.enabled:
            return None
        from dialer.web.app import create_app

        config = uvicorn.Config(
            create_app(self),
            host=web.host,
            port=web.port,
            log_config=None,
            lifespan="off",
            access_log=False,
        )
        server = _EmbeddedServer(config)
        self._web_server = server

        async def serve() -> None:
            try:
                await server.serve()
            except SystemExit as exc:  # uvicorn exits when it cannot bind
                raise StartupError(f"web server cannot listen on {web.host}:{web.port}") from exc

        async def note_port() -> None:
            while not server.started:
                await asyncio.sleep(0.01)
            self.web_port = server.servers[0].sockets[0].getsockname()[1]

        group.create_task(note_port())
        return group.create_task(serve())

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

    # ----- introspection ----------------------------------------------------------------------

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The store's session factory (after `prepare`)."""
        if self._sessions is None:
            raise RuntimeError("the daemon is not prepared: no store yet")
        return self._sessions

    @property
    def stopping(self) -> bool:
        """A stop was requested: long-lived web streams end."""
        return self._stop.is_set()

    def summary(self) -> dict[str, dict[str, object]]:
        now = self.clock.now()
        return {name: r.engine.snapshot(now) for name, r in self.runners.items()}


def _empty_hopper_reason(
    found: list[DialTarget], blocked: CounterOf[str], previous: str | None
) -> str:
    """Why a refill found nothing: the compliance rule that blocked most due cases, all due
    ones already queued or in a call, or no case due. Cases a rule blocked are deferred
    until it allows them, so later refills find none of them due: the rule stays the reason
    until a refill finds a case again."""
    if blocked:
        return min(blocked.items(), key=lambda item: (-item[1], item[0]))[0]
    if previous is not None and previous not in ("no_cases", "all_queued", "refill_failed"):
        return previous
    return "all_queued" if found else "no_cases"


def _safe_url(url: str) -> str:
    """The database URL without a password, for display."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the daemon, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
