"""The engine's routing of answered calls, and the deadlines on calls already placed.

An answered call waits, in answer order, for a ready collector that the routing policy
(`dialer.engine.routing`) allows at the call's stage. If the connect grace runs out first, the call
is abandoned with the safe-harbor message. A ring that outlasts the ring timeout is
cancelled. `next_wakeup` gives the engine the next of these deadlines for a waiting call.

`Answers` is the engine's layer for these steps, on `EngineState` (dialer.engine.state):
it changes call and collector states only through `_set_call_state` and `_transition`,
which keep the counts the pacer reads up to date, and reads the pacer afresh on each call
because a manager can swap it at run time. Like the whole engine it is sans-I/O: the time is
always passed in.
"""

from __future__ import annotations

import heapq
import math

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.calls import Call, CallState
from dialer.domain.commands import Bridge, Cancel, Command, PlaySafeHarbor
from dialer.engine import routing
from dialer.engine.state import EngineState


class Answers(EngineState):
    def _route_call(self, call: Call, now: float, out: list[Command]) -> None:
        """A call no one may take yet keeps waiting: its stage widens with the wait (see
        `route_waiting`)."""
        target = self._targets[call.call_id]
        team = routing.case_team(target.case, self.collectors)
        assert call.answered_at is not None
        stage = routing.stage_at(self.config.routing, target.case, team, now - call.answered_at)
        collector = routing.choose(self._ready, target.case, team, stage)
        if collector is not None:
            self._bridge(call, collector, now, out)

    def _route_to(self, collector: Collector, now: float, out: list[Command]) -> None:
        """A collector became ready: give them the longest-waiting call they may take."""
        if collector.state is not CollectorState.READY or not self._waiting:
            return
        for call in self._waiting.values():
            target = self._targets[call.call_id]
            team = routing.case_team(target.case, self.collectors)
            assert call.answered_at is not None
            stage = routing.stage_at(self.config.routing, target.case, team, now - call.answered_at)
            if routing.eligible(collector, target.case, team, stage):
                self._bridge(call, collector, now, out)
                return

    def _route_waiting(self, now: float, out: list[Command]) -> None:
        """Tried again on every tick: a waiting call's stage widens with time, so a collector
        who was ready but not eligible at the answer may be eligible now."""
        for call in list(self._waiting.values()):  # a copy: bridging removes from it
            if self._ready:
                self._route_call(call, now, out)

    def _waiting_wakeup(self, now: float) -> float:
        """When a waiting call next needs a tick: the oldest one's grace ends, or a stage widens
        and lets more collectors take a call (inf when no call is waiting)."""
        wake = math.inf
        if self._waiting:
            first = next(iter(self._waiting.values()))
            assert first.answered_at is not None
            wake = first.answered_at + self.config.connect_grace
            for call in self._waiting.values():
                target = self._targets[call.call_id]
                team = routing.case_team(target.case, self.collectors)
                assert call.answered_at is not None
                step = routing.next_stage_in(
                    self.config.routing, target.case, team, now - call.answered_at
                )
                if step is not None:
                    wake = min(wake, now + step)
        return wake

    def _bridge(self, call: Call, collector: Collector, now: float, out: list[Command]) -> None:
        """The debtor's wait from answer to bridge goes with the command, for the
        answer-to-bridge metric, and the longest wait goes into the stats."""
        self._waiting.pop(call.call_id, None)
        self._set_call_state(call, call.bridge, collector.collector_id, now)
        self._transition(collector, collector.connect, call.call_id, now)
        assert call.answered_at is not None
        waited = now - call.answered_at
        self.stats.bridged += 1
        self.stats.answer_to_bridge_max = max(self.stats.answer_to_bridge_max, waited)
        out.append(Bridge(call.call_id, collector.collector_id, waited))

    def _abandon(self, call: Call, now: float, out: list[Command]) -> None:
        """The debtor hears the safe-harbor message, not silence. The pacer is told of every
        abandon because its abandonment budget counts them."""
        self._waiting.pop(call.call_id, None)
        self._set_call_state(call, call.abandon, now)
        self.stats.abandoned += 1
        self.pacer.observe_abandon(now)
        out.append(PlaySafeHarbor(call.call_id))

    def _abandon_overdue(self, now: float, out: list[Command]) -> None:
        """Waiting calls are in answer order, so the first one still within its grace ends the
        scan."""
        grace = self.config.connect_grace
        while self._waiting:
            call = next(iter(self._waiting.values()))
            assert call.answered_at is not None
            if call.answered_at + grace > now:
                break
            self._abandon(call, now, out)

    def _expire_rings(self, now: float, out: list[Command]) -> None:
        """Deadlines of calls that already ended stay in the heap and are skipped here, which
        costs less than removing them at the hang-up. `cancel_requested` stops a second Cancel
        while the carrier is still ending the call."""
        heap = self._ring_deadlines
        while heap and heap[0][0] <= now:
            _, call_id = heapq.heappop(heap)
            call = self.calls.get(call_id)
            if (
                call is not None
                and call.state in (CallState.DIALING, CallState.RINGING)
                and not call.cancel_requested
                and call.ring_deadline <= now  # a late INVITE moved it (`_on_invite_sent`)
            ):
                call.cancel_requested = True
                out.append(Cancel(call_id))

    def _release_reserved(self, call: Call, now: float, out: list[Command]) -> None:
        if call.collector_id is None:
            return
        collector = self.collectors[call.collector_id]
        call.collector_id = None
        if collector.state is CollectorState.RESERVED and collector.call_id == call.call_id:
            self._transition(collector, collector.release, now)
            self._settle(collector, now)  # a pause or logout that waited, or absent
            self._route_to(collector, now, out)
