"""The engine's dialing: turning the pacer's "launch n" into calls, checked at dial time.

Each target taken from the hopper is checked twice before it is dialed. First, a collector
who can be reached must be able to take its call; if none can, the case is deferred. Second,
the compliance guard must allow it, judged on the store's history with this run's own
attempts merged in. A preview call reserves its collector first. With a manual dialing delay
it is dialed later, by `dial_previews`, which checks compliance again.

These are the engine's own steps, moved out of `dialer.engine` so that module keeps the
inputs and the bookkeeping. They own no state, so they take the `Engine` itself. It is read
afresh on each call because the guard and the pacer can be replaced while the engine runs,
and its own history is rebuilt when it is pruned. Call and collector states change only
through the engine's `_set_call_state` and `_transition`, which keep the counts the pacer
reads up to date. Only `dialer.engine` calls these functions. Like the engine they are
sans-I/O: the time is always passed in.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

from dialer import routing
from dialer.domain.calls import Call, CallState
from dialer.domain.commands import CaseDeferred, Command, Originate
from dialer.domain.model import DialTarget

if TYPE_CHECKING:  # only for annotations: dialer.engine imports this module
    from dialer.engine import Engine

NO_SKILLED_COLLECTOR = "no_skilled_collector"


def launch(engine: Engine, wanted: int, reserve: bool, now: float, out: list[Command]) -> int:
    """Returns the calls actually placed or reserved, which is what the pacer observes.
    A case deferred here does not count, so the pacer learns nothing from dials that never
    happened."""
    launched = 0
    hopper = engine.case_hopper
    while launched < wanted and hopper:
        if reserve and not engine._ready:
            break
        target = hopper.pop()
        holder = None  # preview: the ready collector the call is dialed for
        if reserve:
            holder = routing.choose(engine._ready, target.case, None, routing.Stage.ANYONE)
        if (reserve and holder is None) or not engine.can_take(target.case):
            # Nobody who could take the call is there: the pacer counted collectors
            # this case cannot reach. Give it back to the store for a while.
            hopper.release(target.case.ref)
            retry = now + engine.config.unservable_retry_after
            out.append(CaseDeferred(target.case.ref, (NO_SKILLED_COLLECTOR,), retry))
            continue
        if not allowed(engine, target, now, out):
            hopper.release(target.case.ref)
            continue
        engine._seq += 1
        call = Call(f"{engine.config.call_id_prefix}{engine._seq}", target.case.ref, target.number)
        call.created_at = now
        engine.calls[call.call_id] = call
        engine._targets[call.call_id] = target
        engine._count["call_queued"] += 1
        if holder is not None:
            engine._transition(holder, holder.reserve, call.call_id, now)
            call.collector_id = holder.collector_id
            if engine.config.preview_dial_delay > 0:
                due = now + engine.config.preview_dial_delay
                heapq.heappush(engine._preview_dials, (due, call.call_id))
                launched += 1
                continue
        dial(engine, call, now, out)
        launched += 1
    return launched


def dial_previews(engine: Engine, now: float, out: list[Command]) -> None:
    """Preview calls whose manual dialing delay is over. Entries for calls withdrawn in the
    meantime stay in the heap and are skipped here."""
    heap = engine._preview_dials
    while heap and heap[0][0] <= now:
        _, call_id = heapq.heappop(heap)
        call = engine.calls.get(call_id)
        if call is None or call.state is not CallState.QUEUED:
            continue
        # Checked again now: the calling hours may have closed since the reservation.
        if allowed(engine, engine._targets[call_id], now, out):
            dial(engine, call, now, out)
        else:
            withdraw(engine, call, now, out)


def withdraw(engine: Engine, call: Call, now: float, out: list[Command]) -> None:
    """Drop a reserved call that was never dialed and free its collector. No attempt is
    recorded because nothing reached the debtor, and the case can be supplied again."""
    del engine.calls[call.call_id]
    engine._count["call_queued"] -= 1
    target = engine._targets.pop(call.call_id)
    engine.case_hopper.release(target.case.ref)
    engine._release_reserved(call, now, out)


def dial(engine: Engine, call: Call, now: float, out: list[Command]) -> None:
    """The engine keeps its own ring deadline as well as sending the timeout with the
    Originate, so it sends the Cancel itself if the trunk lets the call ring past it."""
    engine._set_call_state(call, call.dial, now)
    engine.stats.dials += 1
    ring_timeout = engine.config.ring_timeout
    if math.isfinite(ring_timeout):
        heapq.heappush(engine._ring_deadlines, (now + ring_timeout, call.call_id))
    out.append(Originate(call.call_id, call.case_ref, call.number, ring_timeout))


def allowed(engine: Engine, target: DialTarget, now: float, out: list[Command]) -> bool:
    """The dial-time compliance check. The case may have changed since the hopper selected
    it, and this run's own attempts count even before the store has them. A refusal is sent
    back as a `CaseDeferred` so the store does not hand the case out again too soon."""
    if engine.guard is None:
        return True
    own = engine._own_history.get(target.case.ref)
    history = target.history
    if own:
        # This run's attempts replace the store's copies (same dial instant and number:
        # ours has the final outcome) and count even when the store lacks them (a
        # lagging replica, a lost write), whatever else it holds.
        mine = {(r.at, r.number) for r in own}
        history = tuple(r for r in history if (r.at, r.number) not in mine) + tuple(own)
    verdict = engine.guard(target, history, now)
    if not verdict.allowed:
        out.append(CaseDeferred(target.case.ref, verdict.reasons, verdict.not_before))
    return verdict.allowed
