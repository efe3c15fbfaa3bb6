"""The next-event loop: plays the carrier, the debtors and the collectors around the engine.

Why a hand-written heap and not SimPy: the world here is a handful of timers (a dial
resolves, a talk ends, a wrap-up ends, a pause starts or ends, the engine's own wake-up),
none of which needs a process that waits on resources. SimPy would wrap every one of them
in a generator and an Event object and route them through its scheduler; a plain heapq of
``(time, seq, kind, payload)`` tuples costs one push and one pop per timer, which is what
lets an 8-hour shift of 100 collectors run in a couple of seconds. It also gives direct
control over ordering: ``seq`` makes equal-time events FIFO, and events caused "at once"
(a cancel's failure, a hopper refill, a zero wrap-up) bypass the heap through a queue that
is drained before the clock moves, so the engine sees them at the same ``now``.

The loop feeds events to :class:`dialer.engine.Engine` and executes the commands it
returns; the engine is the production object, unchanged. Randomness comes only from the
generators handed in, so a run is a function of its seeds.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from dialer.domain.agents import CollectorState
from dialer.domain.calls import CallOutcome
from dialer.domain.commands import (
    AttemptFinished,
    Bridge,
    Cancel,
    InboundFinished,
    LeaveVoicemail,
    NeedCases,
    OfferCallback,
    Originate,
    PlaySafeHarbor,
)
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorPaused,
    CollectorReady,
    DrainRequested,
    Event,
    InboundCallArrived,
    InboundCallerChose,
    VoicemailLeft,
)
from dialer.domain.model import Case, DialTarget, PhoneNumber
from dialer.engine import Engine
from dialer.pacing.distributions import Fixed
from dialer.telephony.simulated_model import SIP_CODE, AgentModel, CarrierModel, Fate
from simulation.inbound import InboundCallers
from simulation.machines import AnsweringWorld
from simulation.scenario import Scenario

__all__ = ["EPOCH", "SAFE_HARBOR_SECONDS", "Simulator", "WorldStats"]

# Virtual time is POSIX seconds from 2026-03-02T13:00:00Z (08:00 in New York), so the
# engine's `now` looks like a real working day.
EPOCH = 1_772_456_400.0
# The recorded message an abandoned debtor hears before we hang up: the line stays busy
# this long, but no collector does.
SAFE_HARBOR_SECONDS = 5.0
CANCEL_SIP_CODE = 487  # Request Terminated: our own CANCEL at the ring timeout

# Event kinds in the heap. Payloads: _DIAL_END an Event for a dial still unresolved;
# _HANGUP (call id, collector id or None); _WRAP_END, _PAUSE_START, _PAUSE_END a collector
# id; _VOICEMAIL_END a call id; _TICK and _SHIFT_END None.
_DIAL_END = 0
_HANGUP = 1
_WRAP_END = 2
_TICK = 3
_PAUSE_START = 4
_PAUSE_END = 5
_SHIFT_END = 6
_INBOUND = 7  # an inbound caller arrives (payload None)
_GIVE_UP = 8  # an inbound caller's patience ends (payload the call id)
_VOICEMAIL_END = 9


@dataclass(slots=True)
class WorldStats:
    """What the simulated world counted (the engine keeps its own stats)."""

    events: int = 0
    ticks: int = 0
    attempts_finished: int = 0
    cases_supplied: int = 0


class Simulator:
    """One shift of one campaign: build, then :meth:`run` once."""

    def __init__(
        self,
        scenario: Scenario,
        engine: Engine,
        carrier_rng: np.random.Generator,
        agent_rng: np.random.Generator,
        start: float = EPOCH,
        answer_rng: np.random.Generator | None = None,
        inbound_rng: np.random.Generator | None = None,
    ) -> None:
        self.scenario = scenario
        self.engine = engine
        self.start = start
        self.end = start + scenario.shift_seconds
        self.now = start
        self.stats = WorldStats()
        self.carrier = CarrierModel(carrier_rng, scenario.answer_delay, scenario.failure_delay)
        breaks = scenario.breaks
        self.agents = AgentModel.build(
            agent_rng,
            scenario.talk,
            scenario.wrap,
            breaks.probability if breaks else 0.0,
            breaks.duration if breaks else Fixed(0.0),
        )
        # Who answers (person or machine) and what AMD says (simulation.machines): only for
        # scenarios with machines, from its own generator.
        self.world: AnsweringWorld | None = None
        if scenario.machines is not None:
            rng = answer_rng if answer_rng is not None else np.random.default_rng(scenario.seed)
            self.world = AnsweringWorld(scenario.machines, scenario.amd, rng)
        # Hourly answer probabilities, looked up per dial without a method call.
        self._answer_p = list(scenario.answer_probability)
        self._zero_wrap = isinstance(scenario.wrap, Fixed) and scenario.wrap.value == 0.0
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self._immediate: deque[Event] = deque()
        self._unresolved: set[str] = set()  # dials whose answer / failure is still pending
        self._tick_at = math.inf  # the one engine wake-up that is live in the heap
        self._pause_pending: set[str] = set()  # will pause at the end of their wrap-up
        self._case_seq = 0
        self._collector_ids = [f"col-{i:04d}" for i in range(1, scenario.collectors + 1)]
        self._ran = False
        # Debtors calling back (a blended scenario; its own random stream).
        self.inbound: InboundCallers | None = None
        if scenario.inbound is not None:
            if inbound_rng is None:
                raise ValueError("a scenario with inbound calls needs an inbound_rng")
            self.inbound = InboundCallers(scenario.inbound, inbound_rng, start, self.end)

    # ----- scheduling ---------------------------------------------------------------------

    def _push(self, at: float, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, payload))

    def _schedule_pauses(self) -> None:
        pauses = self.scenario.pauses
        if pauses is None:
            return
        count = round(pauses.share * len(self._collector_ids))
        at = self.start + pauses.offset
        while at < self.end:
            for collector_id in self._collector_ids[:count]:
                self._push(at, _PAUSE_START, collector_id)
            at += pauses.every

    # ----- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Play the shift: log everyone in at the start, stop dialing at the end."""
        if self._ran:
            raise RuntimeError("a Simulator runs one shift; build a new one")
        self._ran = True
        engine = self.engine
        now = self.start
        self._push(self.end, _SHIFT_END, None)
        self._schedule_pauses()
        if self.inbound is not None:
            self._schedule_arrival(now)
        for collector_id in self._collector_ids:
            self._feed(CollectorLoggedIn(collector_id), now)
        self._schedule_tick(now)

        heap = self._heap
        heappop = heapq.heappop
        unresolved = self._unresolved
        stats = self.stats
        while heap:
            now, _, kind, payload = heappop(heap)
            self.now = now
            stats.events += 1
            if kind == _DIAL_END:
                call_id = payload.call_id
                if call_id not in unresolved:
                    continue  # cancelled at the ring timeout before it resolved
                unresolved.discard(call_id)
                self._feed(payload, now)
            elif kind == _HANGUP:
                call_id, collector_id = payload
                self._feed(CallHungUp(call_id), now)
                if collector_id is not None:
                    self._start_wrap(collector_id, now)
            elif kind == _WRAP_END:
                self._feed(self._after_wrap(payload, now), now)
            elif kind == _TICK:
                if now != self._tick_at:
                    continue  # superseded by an earlier wake-up
                self._tick_at = math.inf
                stats.ticks += 1
                self._execute(engine.tick(now), now)
                self._drain(now)
            elif kind == _PAUSE_START:
                self._pause_requested(payload, now)
            elif kind == _PAUSE_END:
                self._pause_ended(payload, now)
            elif kind == _VOICEMAIL_END:
                self._feed(VoicemailLeft(payload, left=True), now)
            elif kind == _INBOUND:
                self._inbound_arrival(now)
            elif kind == _GIVE_UP:
                assert self.inbound is not None
                if self.inbound.gives_up(payload):
                    self._feed(CallHungUp(payload), now)
            else:  # _SHIFT_END
                self._feed(DrainRequested(), now)
                break
            self._schedule_tick(now)
        self.now = now

    def _feed(self, event: Event, now: float) -> None:
        self._execute(self.engine.handle(event, now), now)
        self._drain(now)

    def _drain(self, now: float) -> None:
        """Events caused at once by the last commands, in the order they were caused."""
        immediate = self._immediate
        handle = self.engine.handle
        while immediate:
            self._execute(handle(immediate.popleft(), now), now)

    def _schedule_tick(self, now: float) -> None:
        wake = self.engine.next_wakeup(now)
        if wake < self._tick_at:
            self._tick_at = max(wake, now)
            self._push(self._tick_at, _TICK, None)

    # ----- commands -----------------------------------------------------------------------

    def _execute(self, commands: list[Any], now: float) -> None:
        for command in commands:
            kind = type(command)
            if kind is Originate:
                self._originate(command.call_id, now)
            elif kind is Bridge:
                # An inbound caller's talk, a misrouted machine's, else a person's as the
                # scenario's collectors talk (drawn once: the agents' stream stays as it was).
                inbound, world = self.inbound, self.world
                talk = (
                    None
                    if inbound is None
                    else inbound.bridged(command.call_id, command.answer_to_bridge)
                )
                if talk is None and world is not None:
                    talk = world.talk_on_bridge(command.call_id)
                if talk is None:
                    talk = self.agents.talk.next()
                self._push(now + talk, _HANGUP, (command.call_id, command.collector_id))
            elif kind is AttemptFinished:
                self.stats.attempts_finished += 1
                if self.world is not None:
                    self.world.forget(command.call.call_id)
            elif kind is LeaveVoicemail:
                assert self.world is not None
                seconds = self.world.voicemail_seconds(command.call_id)
                self._push(now + seconds, _VOICEMAIL_END, command.call_id)
            elif kind is PlaySafeHarbor:
                self._push(now + SAFE_HARBOR_SECONDS, _HANGUP, (command.call_id, None))
            elif kind is NeedCases:
                self._immediate.append(CasesSupplied(self._cases(command.count)))
            elif kind is Cancel and command.call_id in self._unresolved:
                self._unresolved.discard(command.call_id)
                self._immediate.append(
                    CallFailed(command.call_id, CallOutcome.NO_ANSWER, CANCEL_SIP_CODE)
                )
            elif kind is OfferCallback and self.inbound is not None:
                self.inbound.offered_callback(command.call_id)
                self._immediate.append(InboundCallerChose(command.call_id, "callback"))
            elif kind is InboundFinished and self.inbound is not None:
                self.inbound.ended(command.call.call_id)
            # Hangup (a machine answer the engine already ended) and CaseDeferred (no
            # compliance guard here) need nothing from the world.

    def _originate(self, call_id: str, now: float) -> None:
        hour = int((now - self.start) // 3600.0)
        probs = self._answer_p
        fate, delay = self.carrier.draw(probs[hour] if hour < len(probs) else probs[-1])
        event: Event
        if fate is Fate.LIVE and self.world is not None:
            decided, event = self.world.answer(call_id)
            delay += decided
        elif fate is Fate.LIVE:
            event = CallAnswered(call_id)
        elif fate is Fate.MACHINE:
            event = CallAnswered(call_id, machine=True)
        else:
            event = CallFailed(call_id, fate.failure_outcome, SIP_CODE[fate])
        self._unresolved.add(call_id)
        self._push(now + delay, _DIAL_END, event)

    def _cases(self, count: int) -> tuple[DialTarget, ...]:
        """Synthetic callable cases with unique refs; the simulated debtors have no history."""
        first = self._case_seq + 1
        self._case_seq += count
        self.stats.cases_supplied += count
        targets = []
        for i in range(first, first + count):
            number = f"+1555{i:07d}"
            targets.append(DialTarget(Case(f"sim-{i}", (PhoneNumber(number),)), number))
        return tuple(targets)

    # ----- inbound callers ---------------------------------------------------------------

    def _schedule_arrival(self, now: float) -> None:
        assert self.inbound is not None
        at = self.inbound.next_arrival(now)
        if at is not None:
            self._push(at, _INBOUND, None)

    def _inbound_arrival(self, now: float) -> None:
        assert self.inbound is not None
        call_id, target, patience = self.inbound.arrive()
        self._push(now + patience, _GIVE_UP, call_id)
        self._schedule_arrival(now)
        self._feed(InboundCallArrived(call_id, target.number, target), now)

    # ----- collectors ---------------------------------------------------------------------

    def _start_wrap(self, collector_id: str, now: float) -> None:
        if self._zero_wrap:
            self._feed(self._after_wrap(collector_id, now), now)
        else:
            self._push(now + self.agents.wrap.next(), _WRAP_END, collector_id)

    def _after_wrap(self, collector_id: str, now: float) -> Event:
        """Wrap-up is over: a pending scheduled pause, a random break, or ready again."""
        if collector_id in self._pause_pending:
            self._pause_pending.discard(collector_id)
            pauses = self.scenario.pauses
            assert pauses is not None
            self._push(now + pauses.duration, _PAUSE_END, collector_id)
            return CollectorPaused(collector_id, "scheduled")
        if self.agents.wants_pause():
            self._push(now + self.agents.pause.next(), _PAUSE_END, collector_id)
            return CollectorPaused(collector_id, "break")
        return CollectorReady(collector_id)

    def _pause_requested(self, collector_id: str, now: float) -> None:
        # Collectors finish the call in hand: one who is reserved, talking or wrapping up
        # pauses when the wrap-up ends (or, already on a break, when it ends).
        state = self.engine.collectors[collector_id].state
        if state is CollectorState.READY:
            pauses = self.scenario.pauses
            assert pauses is not None
            self._push(now + pauses.duration, _PAUSE_END, collector_id)
            self._feed(CollectorPaused(collector_id, "scheduled"), now)
        elif state is not CollectorState.LOGGED_OUT:
            self._pause_pending.add(collector_id)

    def _pause_ended(self, collector_id: str, now: float) -> None:
        if collector_id in self._pause_pending:  # a break ran into the scheduled pause
            self._pause_pending.discard(collector_id)
            pauses = self.scenario.pauses
            assert pauses is not None
            self._push(now + pauses.duration, _PAUSE_END, collector_id)
            return
        self._feed(CollectorReady(collector_id), now)
