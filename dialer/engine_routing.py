"""The engine's routing of answered calls, and the deadlines on calls already placed.

An answered call waits, in answer order, for a ready collector that the routing policy
(`dialer.routing`) allows at the call's stage. If the connect grace runs out first, the call
is abandoned with the safe-harbor message. A ring that outlasts the ring timeout is
cancelled. `next_wakeup` gives the engine the next of these deadlines for a waiting call.

These are the engine's own steps, moved out of `dialer.engine` so that module keeps the
inputs and the bookkeeping. They own no state, so they take the `Engine` itself. It is read
afresh on each call because the pacer can be swapped at run time. The functions change call
and collector states only through the engine's `_set_call_state` and `_transition`, which
keep the counts the pacer reads up to date. Only `dialer.engine` calls them. Like the
engine they are sans-I/O: the time is always passed in.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

from dialer import routing
from dialer.domain.agents import Collector, CollectorState
from dialer.domain.calls import Call, CallState
from dialer.domain.commands import Bridge, Cancel, Command, PlaySafeHarbor

if TYPE_CHECKING:  # only for annotations: dialer.engine imports this module
    from dialer.engine import Engine


def route_call(engine: Engine, call: Call, now: float, out: list[Command]) -> None:
    """A call no one may take yet keeps waiting: its stage widens with the wait (see
    `route_waiting`)."""
    target = engine._targets[call.call_id]
    team = routing.case_team(target.case, engine.collectors)
    assert call.answered_at is not None
    stage = routing.stage_at(engine.config.routing, target.case, team, now - call.answered_at)
    collector = routing.choose(engine._ready, target.case, team, stage)
    if collector is not None:
        bridge(engine, call, collector, now, out)


def route_to(engine: Engine, collector: Collector, now: float, out: list[Command]) -> None:
    """A collector became ready: give them the longest-waiting call they may take."""
    if collector.state is not CollectorState.READY or not engine._waiting:
        return
    for call in engine._waiting.values():
        target = engine._targets[call.call_id]
        team = routing.case_team(target.case, engine.collectors)
        assert call.answered_at is not None
        stage = routing.stage_at(engine.config.routing, target.case, team, now - call.answered_at)
        if routing.eligible(collector, target.case, team, stage):
            bridge(engine, call, collector, now, out)
            return


def route_waiting(engine: Engine, now: float, out: list[Command]) -> None:
    """Tried again on every tick: a waiting call's stage widens with time, so a collector
    who was ready but not eligible at the answer may be eligible now."""
    for call in list(engine._waiting.values()):  # a copy: bridging removes from it
        if engine._ready:
            route_call(engine, call, now, out)


def next_wakeup(engine: Engine, now: float) -> float:
    """When a waiting call next needs a tick: the oldest one's grace ends, or a stage widens
    and lets more collectors take a call (inf when no call is waiting)."""
    wake = math.inf
    if engine._waiting:
        first = next(iter(engine._waiting.values()))
        assert first.answered_at is not None
        wake = first.answered_at + engine.config.connect_grace
        for call in engine._waiting.values():
            target = engine._targets[call.call_id]
            team = routing.case_team(target.case, engine.collectors)
            assert call.answered_at is not None
            step = routing.next_stage_in(
                engine.config.routing, target.case, team, now - call.answered_at
            )
            if step is not None:
                wake = min(wake, now + step)
    return wake


def bridge(
    engine: Engine, call: Call, collector: Collector, now: float, out: list[Command]
) -> None:
    """The debtor's wait from answer to bridge goes with the command, for the
    answer-to-bridge metric, and the longest wait goes into the stats."""
    engine._waiting.pop(call.call_id, None)
    engine._set_call_state(call, call.bridge, collector.collector_id, now)
    engine._transition(collector, collector.connect, call.call_id, now)
    assert call.answered_at is not None
    waited = now - call.answered_at
    engine.stats.bridged += 1
    engine.stats.answer_to_bridge_max = max(engine.stats.answer_to_bridge_max, waited)
    out.append(Bridge(call.call_id, collector.collector_id, waited))


def abandon(engine: Engine, call: Call, now: float, out: list[Command]) -> None:
    """The debtor hears the safe-harbor message, not silence. The pacer is told of every
    abandon because its abandonment budget counts them."""
    engine._waiting.pop(call.call_id, None)
    engine._set_call_state(call, call.abandon, now)
    engine.stats.abandoned += 1
    engine.pacer.observe_abandon(now)
    out.append(PlaySafeHarbor(call.call_id))


def abandon_overdue(engine: Engine, now: float, out: list[Command]) -> None:
    """Waiting calls are in answer order, so the first one still within its grace ends the
    scan."""
    grace = engine.config.connect_grace
    while engine._waiting:
        call = next(iter(engine._waiting.values()))
        assert call.answered_at is not None
        if call.answered_at + grace > now:
            break
        abandon(engine, call, now, out)


def expire_rings(engine: Engine, now: float, out: list[Command]) -> None:
    """Deadlines of calls that already ended stay in the heap and are skipped here, which
    costs less than removing them at the hang-up. `cancel_requested` stops a second Cancel
    while the carrier is still ending the call."""
    heap = engine._ring_deadlines
    while heap and heap[0][0] <= now:
        _, call_id = heapq.heappop(heap)
        call = engine.calls.get(call_id)
        if (
            call is not None
            and call.state in (CallState.DIALING, CallState.RINGING)
            and not call.cancel_requested
        ):
            call.cancel_requested = True
            out.append(Cancel(call_id))
