"""The engine's dialing: turning the pacer's "launch n" into calls, checked at dial time.

Each target taken from the hopper is checked twice before it is dialed. First, a collector
who can be reached must be able to take its call; if none can, the case is deferred. Second,
the compliance guard must allow it, judged on the store's history with this run's own
attempts merged in. A preview call reserves its collector first. With a manual dialing delay
it is dialed later, by `dial_previews`, which checks compliance again.

`Dialing` is the engine's layer for these steps, on `Machines` (dialer.engine.machines,
itself on `Answers`, which frees a reserved collector when its call is withdrawn). The
guard and the pacer are read afresh on each call because they can be replaced while the
engine runs, and this run's own history is rebuilt when it is pruned. Call and collector
states change only through `_set_call_state` and `_transition` (dialer.engine.state). Like
the whole engine it is sans-I/O: the time is always passed in.
"""

from __future__ import annotations

import heapq
import math

from dialer.domain.calls import Call, CallState
from dialer.domain.commands import CaseDeferred, Command, Originate
from dialer.domain.model import DialTarget
from dialer.engine import routing
from dialer.engine.machines import Machines

NO_SKILLED_COLLECTOR = "no_skilled_collector"


class Dialing(Machines):
    def _launch(self, wanted: int, reserve: bool, now: float, out: list[Command]) -> int:
        """Returns the calls actually placed or reserved, which is what the pacer observes.
        A case deferred here does not count, so the pacer learns nothing from dials that never
        happened."""
        launched = 0
        hopper = self.case_hopper
        while launched < wanted and hopper:
            if reserve and not self._ready:
                break
            target = hopper.pop()
            holder = None  # preview: the ready collector the call is dialed for
            if reserve:
                holder = routing.choose(self._ready, target.case, None, routing.Stage.ANYONE)
            if (reserve and holder is None) or not self.can_take(target.case):
                # Nobody who could take the call is there: the pacer counted collectors
                # this case cannot reach. Give it back to the store for a while.
                hopper.release(target.case.ref)
                retry = now + self.config.unservable_retry_after
                out.append(CaseDeferred(target.case.ref, (NO_SKILLED_COLLECTOR,), retry))
                continue
            if not self._allowed(target, now, out):
                hopper.release(target.case.ref)
                continue
            self._seq += 1
            call = Call(f"{self.config.call_id_prefix}{self._seq}", target.case.ref, target.number)
            call.created_at = now
            self.calls[call.call_id] = call
            self._targets[call.call_id] = target
            self._count["call_queued"] += 1
            if holder is not None:
                self._transition(holder, holder.reserve, call.call_id, now)
                call.collector_id = holder.collector_id
                if self.config.preview_dial_delay > 0:
                    due = now + self.config.preview_dial_delay
                    heapq.heappush(self._preview_dials, (due, call.call_id))
                    launched += 1
                    continue
            self._dial(call, now, out)
            launched += 1
        return launched

    def _dial_previews(self, now: float, out: list[Command]) -> None:
        """Preview calls whose manual dialing delay is over. Entries for calls withdrawn in the
        meantime stay in the heap and are skipped here."""
        heap = self._preview_dials
        while heap and heap[0][0] <= now:
            _, call_id = heapq.heappop(heap)
            call = self.calls.get(call_id)
            if call is None or call.state is not CallState.QUEUED:
                continue
            # Checked again now: the calling hours may have closed since the reservation.
            if self._allowed(self._targets[call_id], now, out):
                self._dial(call, now, out)
            else:
                self._withdraw(call, now, out)

    def _withdraw(self, call: Call, now: float, out: list[Command]) -> None:
        """Drop a reserved call that was never dialed and free its collector. No attempt is
        recorded because nothing reached the debtor, and the case can be supplied again."""
        del self.calls[call.call_id]
        self._count["call_queued"] -= 1
        target = self._targets.pop(call.call_id)
        self.case_hopper.release(target.case.ref)
        self._release_reserved(call, now, out)

    def _dial(self, call: Call, now: float, out: list[Command]) -> None:
        """The engine keeps its own ring deadline as well as sending the timeout with the
        Originate, so it sends the Cancel itself if the trunk lets the call ring past it."""
        self._set_call_state(call, call.dial, now)
        self.stats.dials += 1
        ring_timeout = self.config.ring_timeout
        if math.isfinite(ring_timeout):
            call.ring_deadline = now + ring_timeout
            heapq.heappush(self._ring_deadlines, (call.ring_deadline, call.call_id))
        out.append(Originate(call.call_id, call.case_ref, call.number, ring_timeout))

    def _allowed(self, target: DialTarget, now: float, out: list[Command]) -> bool:
        """The dial-time compliance check. The case may have changed since the hopper selected
        it, and this run's own attempts count even before the store has them. A refusal is sent
        back as a `CaseDeferred` so the store does not hand the case out again too soon."""
        if self.guard is None:
            return True
        own = self._own_history.get(target.case.ref)
        history = target.history
        if own:
            # This run's attempts replace the store's copies (same dial instant and number:
            # ours has the final outcome) and count even when the store lacks them (a
            # lagging replica, a lost write), whatever else it holds.
            mine = {(r.at, r.number) for r in own}
            history = tuple(r for r in history if (r.at, r.number) not in mine) + tuple(own)
        verdict = self.guard(target, history, now)
        if not verdict.allowed:
            out.append(CaseDeferred(target.case.ref, verdict.reasons, verdict.not_before))
        return verdict.allowed
