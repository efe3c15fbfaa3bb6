"""Inbound return calls in the engine: routing, the queue, the callback offer, the record.

A debtor calling back arrives as `InboundCallArrived`. It goes at once to a ready collector
chosen as an answered outbound call is (dialer.engine.routing): the case's owner, else a
ready collector of the owner's team, else anyone with the case's skills, longest idle
first; an unknown caller (no case) to anyone ready. With no one free it is answered and
queued (`QueueInbound`: the queue message, then hold audio), first come first served.

**Who wins a collector coming free.** An answered outbound call waiting for a collector is
served first, inbound callers next. The outbound debtor has a legal deadline of 2 s from
their greeting (TSR 310.4(b)(4)(iv), Ofcom's 2 s): missing it is an abandoned call in the
ledger and the safe-harbor message; an inbound caller hears the queue message and waits
seconds, and their service level target is counted in tens of seconds. An outbound call
only waits inside its grace, so it delays an inbound caller by at most that much; the
pacer, which counts queued callers as demand (dialer.pacing.blending), stops planning
outbound answers for the collectors they need.

After `EngineConfig.inbound_max_wait` seconds in the queue the caller is offered a
callback or a voicemail (`OfferCallback`); their `InboundCallerChose` ends the call with
that outcome ("voicemail": when they hang up after their message). A caller who hangs up
(`CallHungUp`) while queued is an *inbound* abandon, never one of the outbound ledger; a
bridged call that ends sends its collector to wrap-up as an outbound call does. Every end
is an `InboundFinished` with the call's snapshot, for the store.

Compliance: an inbound call is no dial, no live answer and no abandon of the outbound
counts (the engine's stats, the pacer's drop statistics, the abandon-cap guard never see
it). A conversation on it is a conversation: `inbound_contact` is the record the rules
read (`ContactRecord.inbound`), kept in this run's own history at once so the dial-time
check applies the post-conversation lockout before the store has it.

`Inbound` is the engine's top layer below `Engine` (dialer.engine.core), on `Presence`.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from dataclasses import dataclass, replace

import numpy as np

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.commands import (
    Bridge,
    Command,
    Hangup,
    InboundFinished,
    OfferCallback,
    QueueInbound,
)
from dialer.domain.events import InboundCallArrived, InboundCallerChose
from dialer.domain.guard import DialGuard
from dialer.domain.inbound import InboundCall, InboundOutcome, InboundState
from dialer.domain.model import ContactOutcome, ContactRecord, DialTarget
from dialer.engine import routing
from dialer.engine.presence import Presence
from dialer.engine.state import EngineConfig
from dialer.engine.views import to_utc
from dialer.pacing.base import Pacer

__all__ = ["CHOICES", "Inbound", "InboundStats", "inbound_contact"]

CHOICES = {
    "callback": InboundOutcome.CALLBACK_REQUESTED,
    "voicemail": InboundOutcome.VOICEMAIL_LEFT,
    "none": InboundOutcome.UNANSWERED,
}
# Hang-ups of inbound calls already finished (the caller's own, after our Hangup) are
# expected, not errors: the last ones are remembered.
ENDED_KEPT = 1000
_S = CollectorState


@dataclass(slots=True)
class InboundStats:
    """Inbound calls by what became of them, and the waits of those a collector took."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    callbacks: int = 0
    voicemails: int = 0
    unanswered: int = 0
    wait_seconds: float = 0.0  # summed over answered calls, arrival to bridge
    talk_seconds: float = 0.0


def inbound_contact(call: InboundCall) -> ContactRecord | None:
    """The record compliance reads for a finished inbound call: a conversation (stamped at
    the bridge) when a collector talked with a known debtor, else none (no call of ours)."""
    if call.case_ref is None or call.bridged_at is None:
        return None
    return ContactRecord(to_utc(call.bridged_at), call.number, ContactOutcome.CONVERSATION, True)


class Inbound(Presence):
    def __init__(
        self,
        config: EngineConfig,
        pacer: Pacer,
        rng: np.random.Generator,
        guard: DialGuard | None = None,
    ) -> None:
        super().__init__(config, pacer, rng, guard)
        self.inbound_calls: dict[str, InboundCall] = {}
        self.inbound_stats = InboundStats()
        self._inbound_targets: dict[str, DialTarget | None] = {}
        self._inbound_queue: OrderedDict[str, InboundCall] = OrderedDict()  # arrival order
        self._offer_due: list[tuple[float, str]] = []
        self._inbound_ended: deque[str] = deque(maxlen=ENDED_KEPT)

    # ----- events -------------------------------------------------------------------------

    def _on_inbound_arrived(
        self, event: InboundCallArrived, now: float, out: list[Command]
    ) -> None:
        if event.call_id in self.inbound_calls or event.call_id in self.calls:
            return  # a repeated report of a call already here
        target = event.target
        call = InboundCall(
            event.call_id,
            event.number,
            None if target is None else target.case.ref,
            event.other_case_refs,
            arrived_at=now,
        )
        self.inbound_calls[call.call_id] = call
        self._inbound_targets[call.call_id] = target
        self.inbound_stats.offered += 1
        self.pacer.observe_inbound_arrival(now)
        collector = self._inbound_choice(target)
        if collector is not None:
            self._bridge_inbound(call, collector, now, out)
            return
        call.state, call.queued_at = InboundState.QUEUED, now
        self._inbound_queue[call.call_id] = call
        self._count["inbound_queued"] += 1
        heapq.heappush(self._offer_due, (now + self.config.inbound_max_wait, call.call_id))
        out.append(QueueInbound(call.call_id))

    def _on_inbound_chose(self, event: InboundCallerChose, now: float, out: list[Command]) -> None:
        call = self.inbound_calls.get(event.call_id)
        if call is None or call.state is not InboundState.OFFERED or call.outcome is not None:
            return  # a late or repeated key press
        outcome = CHOICES.get(event.choice)
        if outcome is None:
            call.reasons.append(f"unknown choice {event.choice!r}")
            outcome = InboundOutcome.UNANSWERED
        call.outcome = outcome
        if outcome is InboundOutcome.VOICEMAIL_LEFT:
            return  # the trunk records until the caller hangs up (their CallHungUp ends it)
        out.append(Hangup(call.call_id))
        self._finish_inbound(call, now, out)

    def _inbound_hung_up(self, call_id: str, now: float, out: list[Command]) -> bool:
        """A `CallHungUp` of an inbound call (True: it was one; else an outbound one)."""
        call = self.inbound_calls.get(call_id)
        if call is None:
            return call_id in self._inbound_ended  # the caller's end after our Hangup
        if call.state in (InboundState.ARRIVED, InboundState.QUEUED):
            call.outcome = InboundOutcome.ABANDONED
            self.pacer.observe_inbound_wait(now - call.arrived_at, False, now)
        elif call.state is InboundState.OFFERED and call.outcome is None:
            call.outcome = InboundOutcome.UNANSWERED  # left during the offer
        elif call.state is InboundState.BRIDGED:
            call.outcome = InboundOutcome.ANSWERED
        self._finish_inbound(call, now, out)
        return True

    # ----- routing ------------------------------------------------------------------------

    def _inbound_choice(self, target: DialTarget | None) -> Collector | None:
        """Owner, else the owner's team, else anyone with the skills (longest idle first in
        each step); an unknown caller: anyone ready."""
        ready = self._ready
        if not ready:
            return None
        if target is None:
            return next(iter(ready.values()))
        case = target.case
        team = routing.case_team(case, self.collectors)
        for stage in routing.Stage:
            collector = routing.choose(ready, case, team, stage)
            if collector is not None:
                return collector
        return None

    def _may_take(self, collector: Collector, call: InboundCall) -> bool:
        target = self._inbound_targets.get(call.call_id)
        if target is None:
            return True
        team = routing.case_team(target.case, self.collectors)
        return routing.eligible(collector, target.case, team, routing.Stage.ANYONE)

    def _route_to(self, collector: Collector, now: float, out: list[Command]) -> None:
        """A collector came free: an answered outbound call first (its 2 s deadline), then
        the longest-queued inbound caller they may take."""
        super()._route_to(collector, now, out)
        if collector.state is not _S.READY or not self._inbound_queue:
            return
        for call in self._inbound_queue.values():
            if self._may_take(collector, call):
                self._bridge_inbound(call, collector, now, out)
                return

    def _route_inbound(self, now: float, out: list[Command]) -> None:
        """On every tick, after the outbound calls waiting: collectors who came free without
        an event of their own (a wrap-up that ended by itself) take queued callers."""
        for call in list(self._inbound_queue.values()):  # a copy: bridging removes from it
            if not self._ready:
                return
            target = self._inbound_targets.get(call.call_id)
            collector = self._inbound_choice(target)
            if collector is not None:
                self._bridge_inbound(call, collector, now, out)

    def _offer_overdue(self, now: float, out: list[Command]) -> None:
        heap = self._offer_due
        while heap and heap[0][0] <= now:
            _, call_id = heapq.heappop(heap)
            call = self._inbound_queue.pop(call_id, None)
            if call is None:
                continue  # taken or gone since
            self._count["inbound_queued"] -= 1
            call.state, call.offered_at = InboundState.OFFERED, now
            self.pacer.observe_inbound_wait(now - call.arrived_at, False, now)
            out.append(OfferCallback(call_id))

    def _inbound_tick(self, now: float, out: list[Command]) -> None:
        if self.inbound_calls:
            self._offer_overdue(now, out)
            self._route_inbound(now, out)

    def _inbound_wakeup(self) -> float:
        """When the next queued caller is due the offer (inf: no one is queued)."""
        heap = self._offer_due
        while heap and heap[0][1] not in self._inbound_queue:
            heapq.heappop(heap)  # taken or gone: no deadline left
        return heap[0][0] if heap else math.inf

    def _bridge_inbound(
        self, call: InboundCall, collector: Collector, now: float, out: list[Command]
    ) -> None:
        if self._inbound_queue.pop(call.call_id, None) is not None:
            self._count["inbound_queued"] -= 1
        call.state, call.bridged_at = InboundState.BRIDGED, now
        call.collector_id = collector.collector_id
        self._transition(collector, collector.connect, call.call_id, now)
        self._count["inbound_on_call"] += 1
        waited = now - call.arrived_at
        self.inbound_stats.answered += 1
        self.inbound_stats.wait_seconds += waited
        self.pacer.observe_inbound_wait(waited, True, now)
        out.append(Bridge(call.call_id, collector.collector_id, waited))

    def _end_call_in_hand(
        self, collector: Collector, call_id: str, now: float, out: list[Command]
    ) -> None:
        """An absent collector's inbound call is hung up like an outbound one (its
        `CallHungUp` sends them to the pause waiting for it)."""
        call = self.inbound_calls.get(call_id)
        if call is None:
            super()._end_call_in_hand(collector, call_id, now, out)
        elif call.state is InboundState.BRIDGED:
            out.append(Hangup(call_id))

    # ----- the end ------------------------------------------------------------------------

    def _finish_inbound(self, call: InboundCall, now: float, out: list[Command]) -> None:
        if self._inbound_queue.pop(call.call_id, None) is not None:
            self._count["inbound_queued"] -= 1
        call.state, call.ended_at = InboundState.ENDED, now
        if call.bridged_at is not None and call.collector_id is not None:
            self._count["inbound_on_call"] -= 1
            talk = now - call.bridged_at
            self.inbound_stats.talk_seconds += talk
            self.pacer.observe_inbound_handled(talk, now)
            collector = self.collectors.get(call.collector_id)
            if (
                collector is not None
                and collector.state is _S.ON_CALL
                and collector.call_id == call.call_id
            ):
                self._end_talk(collector, now)
        stats = self.inbound_stats
        if call.outcome is InboundOutcome.ABANDONED:
            stats.abandoned += 1
        elif call.outcome is InboundOutcome.CALLBACK_REQUESTED:
            stats.callbacks += 1
        elif call.outcome is InboundOutcome.VOICEMAIL_LEFT:
            stats.voicemails += 1
        elif call.outcome is InboundOutcome.UNANSWERED:
            stats.unanswered += 1
        record = inbound_contact(call)
        if record is not None and call.case_ref is not None:
            self._own_history.setdefault(call.case_ref, []).append(record)
        del self.inbound_calls[call.call_id]
        self._inbound_targets.pop(call.call_id, None)
        self._inbound_ended.append(call.call_id)
        out.append(InboundFinished(replace(call, reasons=list(call.reasons))))

    # ----- read-only, for the web ---------------------------------------------------------

    def call_direction(self, call_id: str) -> str | None:
        """ "inbound" or "outbound" for a call up now (a collector's current call), else None."""
        if call_id in self.inbound_calls:
            return "inbound"
        return "outbound" if call_id in self.calls else None

    def inbound_call(self, call_id: str) -> InboundCall | None:
        """The inbound call up now (its case, the other matching cases), else None."""
        return self.inbound_calls.get(call_id)
