"""Presence: a collector whose console is gone is never routed a call.

A collector is *watched* once seen (`CollectorSeen`, the web console's heartbeat: "present
for so many seconds more"); collectors never seen, such as simulated ones, are not. A
watched collector not seen again by their deadline is *absent*. The check lives here, in
the engine, because the engine alone decides routing: every `handle` and `tick` first
expires the deadlines that have passed (`_expire_presence`), and every way into the ready
state goes through `_settle` (dialer.engine.state), which pauses an absent collector
instead. So at any instant `now` no routing decision can pick a collector whose deadline is
`now` or earlier, whether or not a tick ran at the deadline (`next_wakeup` asks for one
there too, so the pause shows at once).

Found absent, a collector who is ready or in wrap-up is paused `disconnected`; one already
paused keeps their own reason. A collector with a call in hand (on it, or reserved for one
being dialed) keeps it when their phone carries the audio (`hang_up_when_absent` False: a
SIP leg) and is paused when it ends; otherwise (nothing but the console links them to it)
the call is ended now: hung up when bridged, cancelled or withdrawn when still being
dialed for them. Seen again before the call ends, they go to wrap-up as usual. Coming back
never readies anyone: the collector presses Ready.

`Presence` is the engine's layer for this on `Dialing` (dialer.engine.dialing); a
`PresenceLost` command tells the daemon, for its logs and metrics. Pending actions after a
call (a manager's pause or logout, `after_call` on the events) live here too: they are the
same "when the call in hand ends" bookkeeping.
"""

from __future__ import annotations

import heapq

from dialer.domain.agents import DISCONNECTED, Collector, CollectorState
from dialer.domain.calls import CallState
from dialer.domain.commands import Cancel, Command, Hangup, PresenceLost
from dialer.domain.events import CollectorSeen
from dialer.engine.dialing import Dialing

_S = CollectorState
_IN_HAND = frozenset({_S.RESERVED, _S.ON_CALL})


class Presence(Dialing):
    def _on_seen(self, event: CollectorSeen, now: float, out: list[Command]) -> None:
        """Also for a collector not logged in yet (a login can wait for their phone): the
        deadline holds from their login on."""
        collector_id = event.collector_id
        until = now + max(0.0, event.for_seconds)
        self._present_until[collector_id] = until
        heapq.heappush(self._presence_due, (until, collector_id))
        if self._after_call.get(collector_id) == ("pause", DISCONNECTED):
            del self._after_call[collector_id]  # back before their call ended

    def _expire_presence(self, now: float, out: list[Command]) -> None:
        heap = self._presence_due
        while heap and heap[0][0] <= now:
            due, collector_id = heapq.heappop(heap)
            if self._present_until.get(collector_id) != due:
                continue  # seen again since: a later deadline is in the heap
            collector = self.collectors.get(collector_id)
            if collector is not None and collector.state is not _S.LOGGED_OUT:
                self._absent(collector, now, out)

    def _absent(self, collector: Collector, now: float, out: list[Command]) -> None:
        state = collector.state
        if state in (_S.READY, _S.WRAP_UP):
            # A wrap-up cut short by absence is no wrap time for the pacer to learn.
            self._transition(collector, collector.pause, DISCONNECTED, now)
            out.append(PresenceLost(collector.collector_id))
            return
        if state not in _IN_HAND or collector.call_id is None:
            return  # paused already: their own reason stays
        call_id = collector.call_id
        # A manager's pending pause or logout outranks this one.
        self._after_call.setdefault(collector.collector_id, ("pause", DISCONNECTED))
        ended = self.config.hang_up_when_absent
        if ended:
            self._end_call_in_hand(collector, call_id, now, out)
        out.append(PresenceLost(collector.collector_id, call_id, ended))

    def _end_call_in_hand(
        self, collector: Collector, call_id: str, now: float, out: list[Command]
    ) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        if call.state is CallState.BRIDGED:
            out.append(Hangup(call_id))  # the hang-up's CallHungUp pauses them
        elif call.state is CallState.QUEUED:
            self._withdraw(call, now, out)  # frees and pauses them (`_settle`)
        elif call.collector_id == collector.collector_id:
            # Dialing or ringing for them: no longer theirs. Cancelled; answered before
            # the cancel lands, it is routed like any call (or abandoned).
            self._release_reserved(call, now, out)
            if call.state in (CallState.DIALING, CallState.RINGING) and not call.cancel_requested:
                call.cancel_requested = True
                out.append(Cancel(call_id))

    def _after_call_or_now(
        self, collector: Collector, action: str, reason: str | None, now: float
    ) -> bool:
        """For `after_call` events: True when the action waits for the call in hand (a
        logout already waiting is not replaced by a pause)."""
        if collector.state not in _IN_HAND:
            return False
        waiting = self._after_call.get(collector.collector_id)
        if action == "logout" or waiting is None or waiting[0] != "logout":
            self._after_call[collector.collector_id] = (action, reason)
        return True

    # ----- read-only, for the web ---------------------------------------------------------

    def present(self, collector_id: str, now: float) -> bool | None:
        """Whether the collector counts as present now (None: not watched)."""
        until = self._present_until.get(collector_id)
        return None if until is None else until > now

    def after_call(self, collector_id: str) -> tuple[str, str | None] | None:
        """What waits for the end of the collector's call: ("logout", None), ("pause",
        reason), or None."""
        return self._after_call.get(collector_id)

    def wrap_ends_at(self, collector: Collector) -> float | None:
        """When the collector's wrap-up ends by itself (None: not in wrap-up, no limit)."""
        limit = self.config.wrap_limit
        if collector.state is not _S.WRAP_UP or collector.wrap_started_at is None:
            return None
        return None if limit is None else collector.wrap_started_at + limit
