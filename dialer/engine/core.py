"""The campaign engine: a sans-I/O state machine.

`handle(event, now)` and `tick(now)` take what happened and the time, update the collectors,
calls and hopper, ask the pacer how many calls to launch, and return the commands to carry
out (originate, cancel, bridge, play the safe-harbor message, hang up, persist an attempt,
ask for more cases). It never reads a clock, sleeps or does I/O, so the daemon and the
simulator drive exactly the same code. `next_wakeup(now)` says when `tick` is next needed.

The case hopper (the queue of dial targets and when to ask for more) is in
`dialer.engine.hopper`, and the read-only views (pacer detail, counts, occupancy, snapshot)
in `dialer.engine.views`; the `Engine` keeps thin methods over both for its callers. It is
the top layer of the package (see dialer.engine.state): its state and bookkeeping are in
`dialer.engine.state`, its routing of answered calls (bridge, abandon, ring timeouts) in
`dialer.engine.answers`, its dialing steps (the launch, the dial-time compliance check)
in `dialer.engine.dialing` and the collectors' presence (absent consoles, actions waiting
for the end of a call) in `dialer.engine.presence`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.calls import CallOutcome, CallState
from dialer.domain.commands import Cancel, Command, Hangup
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallInviteSent,
    CallNotPlaced,
    CallRinging,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
    CollectorSeen,
    DrainRequested,
    Event,
    InboundCallArrived,
    InboundCallerChose,
    VoicemailLeft,
)
from dialer.engine import views
from dialer.engine.inbound import Inbound
from dialer.engine.machines import Machines, routes_as_machine
from dialer.engine.state import HISTORY_KEEP, HISTORY_PRUNE_EVERY
from dialer.engine.views import DecisionRecord, to_utc
from dialer.pacing.base import Pacer, PacingInputs

# Calls up at the end of the drain timeout that are hung up (a voicemail drop too).
_HANG_UP_AT_DRAIN = frozenset(
    {CallState.ANSWERED, CallState.BRIDGED, CallState.ABANDONED, CallState.VOICEMAIL}
)


class Engine(Inbound):
    # ----- inputs -------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Command]:
        out: list[Command] = []
        if type(event) is CollectorSeen:  # a heartbeat: nothing routes, nothing to pace
            self._on_seen(event, now, out)
            return out
        if self._presence_due:  # before anything routes (dialer.engine.presence)
            self._expire_presence(now, out)
        handler = self._handlers[type(event)]
        handler(self, event, now, out)
        self._pace(now, out)
        return out

    def tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        self._pace_due = False
        if self._presence_due:
            self._expire_presence(now, out)
        self._expire_rings(now, out)
        self._dial_previews(now, out)
        self._finish_wraps(now)
        self._route_waiting(now, out)
        self._abandon_overdue(now, out)
        self._inbound_tick(now, out)  # after the outbound calls: they have the 2 s deadline
        self._prune_history(now)
        self._pace(now, out)
        return out

    def _prune_history(self, now: float) -> None:
        """Forget this run's attempts once no rule looks that far back (memory stays bounded
        in a daemon that runs for weeks)."""
        if now - self._pruned_at < HISTORY_PRUNE_EVERY:
            return
        self._pruned_at = now
        horizon = to_utc(now - HISTORY_KEEP)
        self._own_history = {
            ref: kept
            for ref, records in self._own_history.items()
            if (kept := [r for r in records if r.at >= horizon])
        }

    def next_wakeup(self, now: float) -> float:
        """The latest time by which `tick` must run for deadlines to be kept exactly."""
        if self._pace_due:
            return now
        wake = now + self.config.tick_interval if self.pacer.periodic else math.inf
        wake = min(wake, self._waiting_wakeup(now))
        for heap in (self._ring_deadlines, self._preview_dials):
            if heap:
                wake = min(wake, heap[0][0])
        if self._wrap_deadlines:
            wake = min(wake, self._wrap_deadlines[0][0])
        if self._presence_due:
            wake = min(wake, self._presence_due[0][0])
        wake = min(wake, self._inbound_wakeup())
        return min(wake, self.case_hopper.next_request_at(now, self.draining))

    # ----- collectors ---------------------------------------------------------------------

    def _on_login(self, event: CollectorLoggedIn, now: float, out: list[Command]) -> None:
        collector = self.collectors.get(event.collector_id)
        if collector is None:
            collector = Collector(event.collector_id, event.team, event.skills)
            self.collectors[event.collector_id] = collector
        else:
            collector.team, collector.skills = event.team, event.skills
        self._transition(collector, collector.log_in, now)
        self._settle(collector, now)  # absent already (their login waited): paused
        self._route_to(collector, now, out)

    def _on_ready(self, event: CollectorReady, now: float, out: list[Command]) -> None:
        collector = self._collector(event.collector_id)
        if collector.state is CollectorState.WRAP_UP and collector.wrap_started_at is not None:
            self.pacer.observe_wrap(now - collector.wrap_started_at, now)
        self._transition(collector, collector.ready, now)
        self._settle(collector, now)
        self._route_to(collector, now, out)

    def _on_pause(self, event: CollectorPaused, now: float, out: list[Command]) -> None:
        collector = self._collector(event.collector_id)
        if event.after_call and self._after_call_or_now(collector, "pause", event.reason, now):
            return
        if collector.state is CollectorState.WRAP_UP and collector.wrap_started_at is not None:
            self.pacer.observe_wrap(now - collector.wrap_started_at, now)
        self._transition(collector, collector.pause, event.reason, now)

    def _on_logout(self, event: CollectorLoggedOut, now: float, out: list[Command]) -> None:
        collector = self._collector(event.collector_id)
        if event.after_call and self._after_call_or_now(collector, "logout", None, now):
            return
        self._transition(collector, collector.log_out, now)
        self._after_call.pop(collector.collector_id, None)

    # ----- calls --------------------------------------------------------------------------

    def _on_invite_sent(self, event: CallInviteSent, now: float, out: list[Command]) -> None:
        """The ring timeout runs from the INVITE that left, never from the dial: a call the
        trunk sent late still rings the whole timeout (TSR: at least 15 s)."""
        call = self._call(event.call_id)
        if call.state not in (CallState.DIALING, CallState.RINGING) or call.invite_at is not None:
            return
        call.invite_at = now
        ring_timeout = self.config.ring_timeout
        if math.isfinite(ring_timeout) and now + ring_timeout > call.ring_deadline:
            call.ring_deadline = now + ring_timeout
            heapq.heappush(self._ring_deadlines, (call.ring_deadline, call.call_id))

    def _on_ringing(self, event: CallRinging, now: float, out: list[Command]) -> None:
        call = self._call(event.call_id)
        if call.state is CallState.DIALING:
            self._set_call_state(call, call.ring, now)

    def _on_answered(self, event: CallAnswered, now: float, out: list[Command]) -> None:
        """The connect deadline runs from this event. With AMD on the trunk reports the
        answer at AMD's decision, which for a human is the end of their greeting (they
        said "hello" and stopped: the silence after speech is what decides). US TSR
        310.4(b)(4)(iii) counts the 2 s from the end of the greeting, so the grace from
        `CallAnswered` is the legal one, with no allowance for the time AMD listened
        (`amd_seconds`, kept on the call for the record only)."""
        call = self._call(event.call_id)
        assert call.dialed_at is not None
        call.amd, call.amd_seconds = event.amd, event.amd_seconds
        if routes_as_machine(event):
            self._answered_by_machine(call, now, out)
            return
        self._set_call_state(call, call.answer, now)
        self.stats.live_answers += 1
        self.pacer.observe_dial_resolved(now - call.dialed_at, True, now)
        if call.collector_id is not None:  # dialed for a reserved collector
            self._bridge(call, self.collectors[call.collector_id], now, out)
            return
        self._waiting[call.call_id] = call
        self._route_call(call, now, out)
        if call.state is CallState.ANSWERED and self.config.connect_grace <= 0:
            self._abandon(call, now, out)

    def _on_failed(self, event: CallFailed, now: float, out: list[Command]) -> None:
        call = self._call(event.call_id)
        assert call.dialed_at is not None
        if event.outcome is not CallOutcome.TRUNK_FAILED:  # a dead trunk says nothing of debtors
            self.pacer.observe_dial_resolved(now - call.dialed_at, False, now)
        self._set_call_state(call, call.fail, event.outcome, now, event.sip_code)
        self._release_reserved(call, now, out)
        self._finish(call, now, out)

    def _on_not_placed(self, event: CallNotPlaced, now: float, out: list[Command]) -> None:
        """Undo a launch that never reached the network: no attempt, no pacing evidence."""
        call = self.calls.get(event.call_id)
        if call is None or call.state is not CallState.DIALING:
            return  # the trunk already reported on it: it did leave
        self._set_call_state(call, call.fail, CallOutcome.FAILED, now)
        self.stats.dials -= 1
        self._release_reserved(call, now, out)
        del self.calls[call.call_id]
        self._count["call_ended"] -= 1
        target = self._targets.pop(call.call_id)
        self.case_hopper.release(target.case.ref)

    def _on_hung_up(self, event: CallHungUp, now: float, out: list[Command]) -> None:
        if event.call_id not in self.calls and self._inbound_hung_up(event.call_id, now, out):
            return
        call = self._call(event.call_id)
        if call.state in (CallState.DIALING, CallState.RINGING):
            # A hang-up before any answer is a failed attempt, not a conversation.
            self._on_failed(CallFailed(call.call_id, CallOutcome.FAILED, event.sip_code), now, out)
            return
        if call.state is CallState.VOICEMAIL:
            self._voicemail_hung_up(call, now, out)
            return
        self._waiting.pop(call.call_id, None)
        lost_at = None if event.silent_for is None else now - event.silent_for
        self._set_call_state(call, call.end, now, event.sip_code, media_lost_at=lost_at)
        if call.collector_id is not None and call.bridged_at is not None:
            collector = self.collectors[call.collector_id]
            talk = call.talk_seconds
            self.stats.talk_seconds += talk
            if call.media_lost_at is None:  # a dead line's length is no talk time to learn
                self.pacer.observe_talk(talk, now)
            self._end_talk(collector, now)
        self._finish(call, now, out)

    def _finish_wraps(self, now: float) -> None:
        heap = self._wrap_deadlines
        while heap and heap[0][0] <= now:
            _, collector_id, started = heapq.heappop(heap)
            collector = self.collectors.get(collector_id)
            if (
                collector is not None
                and collector.state is CollectorState.WRAP_UP
                and collector.wrap_started_at == started
            ):
                self.pacer.observe_wrap(now - started, now)
                self._transition(collector, collector.ready, now)
                self._settle(collector, now)  # absent: paused, not ready

    # ----- hopper (dialer.engine.hopper) --------------------------------------------------

    def _on_cases(self, event: CasesSupplied, now: float, out: list[Command]) -> None:
        self.case_hopper.supply(event.targets, now)

    @property
    def hopper_size(self) -> int:
        return len(self.case_hopper)

    @property
    def queued_refs(self) -> frozenset[str]:
        """Cases in the hopper or on a call: not to be supplied again."""
        return self.case_hopper.queued_refs

    def _on_drain(self, event: DrainRequested, now: float, out: list[Command]) -> None:
        self.draining = True

    # ----- pacing -------------------------------------------------------------------------

    def inputs(self, now: float) -> PacingInputs:
        c = self._count
        available = c["ready"] + c["reserved"] + c["on_call"] + c["wrap_up"]
        return PacingInputs(
            now=now,
            logged_in=available + c["paused"],
            ready=c["ready"],
            reserved=c["reserved"],
            on_call=c["on_call"],
            wrap_up=c["wrap_up"],
            paused=c["paused"],
            dialing=c["call_dialing"],
            ringing=c["call_ringing"],
            waiting=c["call_answered"],
            max_in_flight=int(self.config.max_lines_per_collector * available),
            draining=self.draining,
            connect_grace=self.config.connect_grace,
            inbound_queued=c["inbound_queued"],
            inbound_on_call=c["inbound_on_call"],
        )

    def hold(self, reason: str, why: str) -> None:
        """Stop launching until `release(reason)`: the daemon cannot record calls, say."""
        self.holds[reason] = why

    def release(self, reason: str) -> None:
        if self.holds.pop(reason, None) is not None:
            self._pace_due = True  # non-periodic pacers would wait for the next event

    def _pace(self, now: float, out: list[Command]) -> None:
        self.case_hopper.request(now, self.draining, out)
        guard = self.cap_guard
        if guard is not None:
            guard.observe(self.stats, now)
        if self.draining or self.paused or self.holds:
            return
        inputs = self.inputs(now)
        if inputs.available == 0:
            return  # nobody could ever take the call: never dial
        decision = self.pacer.decide(inputs, self, self.rng)
        room = inputs.max_in_flight - inputs.in_flight
        wanted = min(decision.launch, room)
        clamped = False
        if guard is not None and wanted > 0:
            # The cap in every mode (dialer.engine.cap_guard): may cut the launch, and says
            # why in the decision record; the pacer's own wish stays in its detail.
            guarded = guard.review(inputs, decision, wanted, self.stats)
            if guarded is not decision:
                decision, wanted, clamped = guarded, guarded.launch, True
        launched = 0
        if wanted > 0:
            launched = self._launch(wanted, decision.reserve_collector, now, out)
            if launched:
                self.pacer.observe_launch(launched, now)
        if launched or decision.launch or clamped:
            self.decisions.append(DecisionRecord(now, inputs, decision, launched))
        self.case_hopper.request(now, self.draining, out)

    # ----- EngineView for model-based pacers (dialer.engine.views) ------------------------

    def busy_elapsed(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        return views.busy_elapsed(self.collectors.values(), now, self.inbound_calls)

    def ringing_elapsed(self, now: float) -> np.ndarray:
        return views.ringing_elapsed(self.calls.values(), now)

    # ----- shutdown and introspection -----------------------------------------------------

    @property
    def idle(self) -> bool:
        """No call is up or on its way: safe to stop."""
        return not self.calls and not self.inbound_calls

    def hang_up_all(self, now: float) -> list[Command]:
        """At the end of the drain timeout: cancel what rings, hang up what is answered."""
        out: list[Command] = []
        for call in self.calls.values():
            if call.state in (CallState.DIALING, CallState.RINGING):
                call.cancel_requested = True
                out.append(Cancel(call.call_id))
            elif call.state in _HANG_UP_AT_DRAIN:
                out.append(Hangup(call.call_id))
        out.extend(Hangup(call_id) for call_id in self.inbound_calls)
        return out

    def counts(self) -> dict[str, int]:
        """Collectors and calls by state (calls prefixed ``call_``)."""
        return views.counts(self._count)

    def occupancy(self, now: float) -> float:
        """(talk + wrap time) / logged-in time over all collectors so far."""
        return views.occupancy(self.collectors.values(), now)

    def configure_pacer(self, pacer: Pacer) -> None:
        """Swap the pacing policy at run time (a manager's change)."""
        self.pacer = pacer

    def snapshot(self, now: float) -> dict[str, Any]:
        return views.snapshot(self, now)

    _handlers: ClassVar[dict[type, Callable[[Engine, Any, float, list[Command]], None]]] = {
        CollectorLoggedIn: _on_login,
        CollectorReady: _on_ready,
        CollectorPaused: _on_pause,
        CollectorLoggedOut: _on_logout,
        CollectorSeen: Inbound._on_seen,
        CallInviteSent: _on_invite_sent,
        CallRinging: _on_ringing,
        CallAnswered: _on_answered,
        VoicemailLeft: Machines._on_voicemail_left,
        CallFailed: _on_failed,
        CallHungUp: _on_hung_up,
        CallNotPlaced: _on_not_placed,
        CasesSupplied: _on_cases,
        DrainRequested: _on_drain,
        InboundCallArrived: Inbound._on_inbound_arrived,
        InboundCallerChose: Inbound._on_inbound_chose,
    }
