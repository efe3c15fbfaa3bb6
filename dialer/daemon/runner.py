"""Runs one campaign's engine in the event loop: feeds it events, executes its commands.

Each runner owns an inbox of domain events (from the trunk, the collectors and the hopper
refill). It hands them to the engine one by one, calls `tick` whenever the engine's next
wake-up is due, and carries out the returned commands: trunk calls, store writes (through
the StoreWriter, never inline), metrics, and hopper refills in a task of their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from dialer.clock import Clock
from dialer.daemon.store_ops import (
    AttemptAnswered,
    AttemptBridged,
    AttemptEnded,
    AttemptStarted,
    CaseDeferredOp,
)
from dialer.daemon.store_writer import StoreWriter
from dialer.domain.agents import DISCONNECTED, CollectorState
from dialer.domain.calls import CallOutcome, CallState
from dialer.domain.commands import (
    AttemptFinished,
    Bridge,
    Cancel,
    CaseDeferred,
    Command,
    Hangup,
    InboundFinished,
    LeaveVoicemail,
    NeedCases,
    OfferCallback,
    Originate,
    PlaySafeHarbor,
    PresenceLost,
    QueueInbound,
)
from dialer.domain.errors import IllegalTransition
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallNotPlaced,
    CasesSupplied,
    DrainRequested,
    Event,
)
from dialer.domain.inbound import InboundCall
from dialer.domain.model import DialTarget
from dialer.engine import Engine, StepObserver, UnknownCall
from dialer.logs import event as log_event
from dialer.metrics import Metrics
from dialer.telephony.port import Trunk

log = logging.getLogger(__name__)

# Supplies callable cases: (how many, refs already queued, now) -> targets.
CaseSource = Callable[[int, frozenset[str], datetime], Awaitable[list[DialTarget]]]
MAX_REAL_WAIT = 0.5  # never sleep longer than the engine's tick interval in real time
REFILL_GRACE = 5.0  # seconds a refill in flight may take to finish when the runner ends
MAX_BURST = 200  # events handled before yielding to the rest of the loop


class InboundSink(Protocol):
    """Where a runner's inbound calls go (dialer.daemon.inbound_desk.InboundDesk)."""

    def owns(self, call_id: str) -> bool: ...

    def bridged(self, call_id: str, collector_row: int | None) -> None: ...

    def finished(self, campaign: str, call: InboundCall) -> None: ...


class CampaignRunner:
    def __init__(
        self,
        engine: Engine,
        campaign_id: int,
        trunk: Trunk,
        writer: StoreWriter,
        metrics: Metrics,
        clock: Clock,
        cases: CaseSource,
        collector_ids: dict[str, int],
        on_wrap_up: Callable[[str], None] | None = None,
        *,
        flush_before_refill: bool = True,
    ) -> None:
        self.engine = engine
        self.name = engine.config.campaign
        self.campaign_id = campaign_id
        self.trunk = trunk
        self.writer = writer
        self.metrics = metrics
        self.clock = clock
        self._cases = cases
        self._collector_ids = collector_ids
        self._on_wrap_up = on_wrap_up
        # A leasing case source (dialer.orchestration.supply) needs no flush: a case stays
        # leased until the writer's transaction that records its attempt's end releases it.
        self._flush_before_refill = flush_before_refill
        self.inbox: asyncio.Queue[Event] = asyncio.Queue()
        self._refill: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._m_decision = metrics.pacing_decision.labels(self.name)
        self._m_originated = metrics.calls_originated.labels(self.name)
        self._m_bridge = metrics.answer_to_bridge.labels(self.name)
        # Called after every engine step with the event and the commands (the web's hub).
        self.step_observers: list[StepObserver] = []
        self.inbound: InboundSink | None = None  # the daemon's inbound desk, when it has one

    def push(self, event: Event) -> None:
        self.inbox.put_nowait(event)

    async def hang_up(self, call_id: str) -> None:
        """End a call of this campaign now (a collector's hang-up from the console)."""
        await self.trunk.hangup(call_id)

    # ----- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        engine, clock = self.engine, self.clock
        while not (engine.draining and engine.idle and self.inbox.empty()):
            now = clock.now()
            wait = clock.real_seconds(engine.next_wakeup(now) - now)
            if self.inbox.empty() and wait > 0:
                first: Event | None = None
                try:
                    async with asyncio.timeout(min(wait, MAX_REAL_WAIT)):
                        first = await self.inbox.get()
                except TimeoutError:
                    pass
                if first is not None:
                    self._step(first)
            handled = 0
            while not self.inbox.empty() and handled < MAX_BURST:
                self._step(self.inbox.get_nowait())
                handled += 1
            if handled >= MAX_BURST:
                await asyncio.sleep(0)  # let the web server and the trunk breathe
            now = clock.now()
            if engine.next_wakeup(now) <= now:
                self._step(None)
        if self._refill is not None and not self._refill.done():
            # Let a refill in flight finish first: cancelled inside a store transaction, its
            # rollback is cancelled too and SQLite stays locked ("database is locked" when
            # the leases are released at stop).
            await asyncio.wait({self._refill}, timeout=REFILL_GRACE)
            self._refill.cancel()
        self._stopped.set()

    def _step(self, event: Event | None) -> None:
        engine = self.engine
        now = self.clock.now()
        wrap_candidate = None
        if isinstance(event, CallHungUp):
            call = engine.calls.get(event.call_id)
            if call is not None and call.state is CallState.BRIDGED:
                wrap_candidate = call.collector_id
        started = time.perf_counter()
        try:
            commands = engine.handle(event, now) if event is not None else engine.tick(now)
        except (UnknownCall, IllegalTransition, KeyError) as exc:
            # A late or duplicate report (e.g. a BYE after our CANCEL won the race) must
            # not stop the campaign; it is logged and dropped.
            log_event(
                log,
                "engine.event_rejected",
                logging.WARNING,
                campaign=self.name,
                event=type(event).__name__,
                error=str(exc),
            )
            return
        self._m_decision.observe(time.perf_counter() - started)
        if isinstance(event, CallAnswered) and not event.machine:
            call = engine.calls.get(event.call_id)
            if call is not None and call.answered_at is not None:
                self.writer.put(AttemptAnswered(call.call_id, call.answered_at))
        self._execute(commands, now)
        if wrap_candidate is not None and self._on_wrap_up is not None:
            collector = engine.collectors.get(wrap_candidate)
            if collector is not None and collector.state is CollectorState.WRAP_UP:
                self._on_wrap_up(wrap_candidate)
        for observer in self.step_observers:
            observer(self, event, commands)

    def register_collector(self, collector_id: str, row_id: int) -> None:
        """Know a collector's store row (people who log in through the web), so their
        calls are recorded against them."""
        self._collector_ids[collector_id] = row_id

    # ----- commands ---------------------------------------------------------------------------

    def _execute(self, commands: list[Command], now: float) -> None:
        for command in commands:
            if isinstance(command, Originate):
                durable = self.writer.put_durable(
                    AttemptStarted(
                        command.call_id,
                        int(command.case_ref),
                        self.campaign_id,
                        command.number,
                        now,
                    )
                )
                self._spawn(self._originate(command, durable))
            elif isinstance(command, Bridge):
                row = self._collector_ids.get(command.collector_id)
                if self.inbound is not None and self.inbound.owns(command.call_id):
                    self.inbound.bridged(command.call_id, row)  # no attempt: the debtor called
                else:
                    self._m_bridge.observe(command.answer_to_bridge)
                    self.writer.put(AttemptBridged(command.call_id, now, row))
                self._spawn(
                    self._trunk("bridge", self.trunk.bridge(command.call_id, command.collector_id))
                )
            elif isinstance(command, PlaySafeHarbor):
                self.metrics.calls_abandoned.labels(self.name).inc()
                self._spawn(self._trunk("play", self.trunk.play_safe_harbor(command.call_id)))
            elif isinstance(command, Cancel):
                self._spawn(self._trunk("cancel", self.trunk.cancel(command.call_id)))
            elif isinstance(command, Hangup):
                self._spawn(self._trunk("hangup", self.trunk.hangup(command.call_id)))
            elif isinstance(command, LeaveVoicemail):
                self._spawn(self._trunk("voicemail", self.trunk.leave_voicemail(command.call_id)))
            elif isinstance(command, AttemptFinished):
                self._finished(command)
            elif isinstance(command, CaseDeferred):
                for reason in command.reasons or ("unknown",):
                    self.metrics.cases_deferred.labels(self.name, reason).inc()
                self.writer.put(CaseDeferredOp(int(command.case_ref), command.not_before))
            elif isinstance(command, NeedCases) and (self._refill is None or self._refill.done()):
                self._refill = asyncio.create_task(self._supply(command.count))
            elif isinstance(command, PresenceLost):
                self._presence_lost(command)
            elif isinstance(command, QueueInbound):
                self._spawn(self._trunk("queue", self.trunk.queue_inbound(command.call_id)))
            elif isinstance(command, OfferCallback):
                self._spawn(self._trunk("offer", self.trunk.offer_callback(command.call_id)))
            elif isinstance(command, InboundFinished) and self.inbound is not None:
                self.inbound.finished(self.name, command.call)

    def _presence_lost(self, command: PresenceLost) -> None:
        """The engine found a collector's console gone (dialer.engine.presence)."""
        self.metrics.presence_lost.labels(self.name, DISCONNECTED).inc()
        log_event(
            log,
            "collector.disconnected",
            logging.WARNING,
            campaign=self.name,
            collector=command.collector_id,
            call_id=command.call_id,
            call="ended" if command.call_ended else ("kept" if command.call_id else None),
        )

    def _finished(self, command: AttemptFinished) -> None:
        call = command.call
        assert call.outcome is not None
        self.metrics.call_outcomes.labels(self.name, call.outcome.value).inc()
        if call.is_live_answer:
            self.metrics.live_answers.labels(self.name).inc()
        if call.bridged_at is not None and call.ended_at is not None:
            self.metrics.talk_seconds.labels(self.name).inc(call.talk_seconds)
        collector_row = self._collector_ids.get(call.collector_id or "")
        self.writer.put(
            AttemptEnded.of(call, int(command.case_ref), self.campaign_id, collector_row)
        )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate(self, command: Originate, durable: asyncio.Future[bool]) -> None:
        """Place the call once its attempt is in the store: no record, no call."""
        if not await durable:
            self.metrics.calls_not_placed.labels(self.name, "store_unavailable").inc()
            self.push(CallNotPlaced(command.call_id, "store_unavailable"))
            return
        self._m_originated.inc()
        try:
            await self.trunk.originate(command.call_id, command.number, command.ring_timeout)
        except Exception as exc:
            self.metrics.trunk_errors.labels("originate").inc()
            log_event(
                log,
                "trunk.originate_failed",
                logging.ERROR,
                campaign=self.name,
                call_id=command.call_id,
                error=str(exc),
            )
            self.push(CallFailed(command.call_id, CallOutcome.FAILED, None))

    async def _trunk(self, name: str, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception as exc:
            self.metrics.trunk_errors.labels(name).inc()
            log_event(
                log,
                "trunk.command_failed",
                logging.ERROR,
                campaign=self.name,
                command=name,
                error=str(exc),
            )

    async def _supply(self, count: int) -> None:
        try:
            if self._flush_before_refill:
                await self.writer.flush()
            queued = self.engine.queued_refs
            targets = await self._cases(
                count, queued, datetime.fromtimestamp(self.clock.now(), UTC)
            )
        except Exception as exc:
            log_event(
                log, "hopper.refill_failed", logging.ERROR, campaign=self.name, error=str(exc)
            )
            targets = []
        self.push(CasesSupplied(tuple(targets)))

    # ----- shutdown ---------------------------------------------------------------------------

    def drain(self) -> None:
        self.push(DrainRequested())

    async def stop(self, timeout: float) -> None:
        """Drain: no new dials; after `timeout` seconds hang up whatever is still up."""
        self.drain()
        try:
            async with asyncio.timeout(timeout):
                await self._stopped.wait()
        except TimeoutError:
            self._execute(self.engine.hang_up_all(self.clock.now()), self.clock.now())
            try:
                async with asyncio.timeout(5.0):
                    await self._stopped.wait()
            except TimeoutError:
                log_event(
                    log,
                    "runner.stop_timeout",
                    logging.WARNING,
                    campaign=self.name,
                    calls=len(self.engine.calls),
                )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
