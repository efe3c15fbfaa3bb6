"""An in-process carrier on the daemon's clock: dials get answered, fail, ring out or reach
machines as the carrier model draws, and answered calls last as long as the talk model says;
debtors call back if `callers` are configured (dialer.telephony.simulated_callers).
Used by the demo, the tests and the daemon benchmark; no network involved."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from dialer.clock import Clock
from dialer.domain.calls import CallOutcome
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallInviteSent,
    CallRinging,
    InboundCallerChose,
    VoicemailLeft,
)
from dialer.pacing.samples import SampleBuffer
from dialer.telephony.port import TrunkEvent
from dialer.telephony.simulated_callers import SimulatedCallers
from dialer.telephony.simulated_callers_settings import SimulatedCallersSettings
from dialer.telephony.simulated_model import SIP_CODE, CarrierModel, Fate
from dialer.telephony.sip_inbound import InboundHooks

SAFE_HARBOR_SECONDS = 6.0  # the recorded message's length
VOICEMAIL_SECONDS = 25.0  # a machine's greeting and beep, then a limited-content message


class SimulatedTrunk:
    def __init__(
        self,
        carrier: CarrierModel,
        talk: SampleBuffer,
        clock: Clock,
        answer_probability: Callable[[float], float],
        *,
        callers: SimulatedCallersSettings | None = None,
        ours: Sequence[str] = (),
        inbound: InboundHooks | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self._carrier = carrier
        self._talk = talk
        self._clock = clock
        self._p = answer_probability
        self._events: asyncio.Queue[TrunkEvent] | None = None
        self._timers: dict[str, list[asyncio.TimerHandle]] = {}
        self.originated = 0
        # The carrier's own log, call by call: what it reported at the end (the outcome of
        # a failed call, "machine", or "hung_up" for a live answer that ended) and whether a
        # person answered. Tests compare the store with it.
        self.log: dict[str, str | None] = {}
        self.live_answered: set[str] = set()
        self.callers: SimulatedCallers | None = None
        if callers is not None and inbound is not None and callers.calls_per_hour > 0:
            self.callers = SimulatedCallers(
                callers, ours, inbound, rng or np.random.default_rng(), clock, self._emit_later
            )

    @property
    def registered(self) -> bool:
        return self._events is not None

    @property
    def down_reason(self) -> str | None:
        return None if self._events is not None else "not started"

    async def start(self, events: asyncio.Queue[TrunkEvent]) -> None:
        self._events = events
        if self.callers is not None:
            self.callers.start()

    async def stop(self) -> None:
        if self.callers is not None:
            self.callers.stop()
        for call_id in list(self._timers):
            self._clear(call_id)
        self._events = None

    def _emit_later(self, call_id: str, after: float, event: TrunkEvent) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self._clock.real_seconds(after), self._emit, call_id, event)
        self._timers.setdefault(call_id, []).append(handle)

    def _emit(self, call_id: str, event: TrunkEvent) -> None:
        if self._events is None:
            return
        if isinstance(event, CallFailed | CallHungUp | VoicemailLeft):
            self._timers.pop(call_id, None)
        if (callers := self._caller(call_id)) is not None:
            if isinstance(event, CallHungUp):
                callers.ended(call_id)
            self._events.put_nowait(event)  # not in the carrier's log of our dials
            return
        if isinstance(event, CallFailed):
            self.log[call_id] = event.outcome.value
        elif isinstance(event, CallHungUp):
            self.log[call_id] = "hung_up"
        elif isinstance(event, VoicemailLeft):
            self.log[call_id] = "machine_message_left" if event.left else "machine"
        elif isinstance(event, CallAnswered):
            if event.machine:
                self.log[call_id] = "machine"
            else:
                self.live_answered.add(call_id)
        self._events.put_nowait(event)

    def _caller(self, call_id: str) -> SimulatedCallers | None:
        """The simulated callers when `call_id` is one of theirs (None: one of our dials)."""
        callers = self.callers
        return callers if callers is not None and callers.owns(call_id) else None

    def _clear(self, call_id: str) -> None:
        for handle in self._timers.pop(call_id, []):
            handle.cancel()

    async def originate(self, call_id: str, number: str, ring_timeout: float) -> None:
        self.originated += 1
        self.log[call_id] = None
        if self.callers is not None:
            self.callers.dialed(number)
        self._emit(call_id, CallInviteSent(call_id))
        fate, delay = self._carrier.draw(self._p(self._clock.now()))
        self._emit_later(call_id, min(1.0, delay / 2), CallRinging(call_id))
        if fate is Fate.LIVE:
            self._emit_later(call_id, delay, CallAnswered(call_id))
        elif fate is Fate.MACHINE:
            self._emit_later(call_id, delay, CallAnswered(call_id, machine=True))
        else:
            event = CallFailed(call_id, fate.failure_outcome, SIP_CODE[fate])
            self._emit_later(call_id, delay, event)

    async def cancel(self, call_id: str) -> None:
        self._clear(call_id)
        self._emit(call_id, CallFailed(call_id, CallOutcome.NO_ANSWER, 487))

    async def hangup(self, call_id: str) -> None:
        self._clear(call_id)
        self._emit(call_id, CallHungUp(call_id))

    async def bridge(self, call_id: str, collector_id: str) -> None:
        if (callers := self._caller(call_id)) is not None:
            self._clear(call_id)  # taken off hold: their patience no longer matters
            self._emit_later(call_id, callers.talk_seconds(), CallHungUp(call_id))
            return
        self._emit_later(call_id, self._talk.next(), CallHungUp(call_id))

    async def play_safe_harbor(self, call_id: str) -> None:
        self._emit_later(call_id, SAFE_HARBOR_SECONDS, CallHungUp(call_id))

    async def leave_voicemail(self, call_id: str) -> None:
        # no audio here: the machine's greeting and the message take their usual time
        self._emit_later(call_id, VOICEMAIL_SECONDS, VoicemailLeft(call_id, left=True))

    async def queue_inbound(self, call_id: str) -> None:
        if (callers := self._caller(call_id)) is not None:
            callers.queued(call_id, CallHungUp(call_id))

    async def offer_callback(self, call_id: str) -> None:
        if (callers := self._caller(call_id)) is not None:
            self._clear(call_id)  # the offer's prompt plays: they wait for it
            callers.offered(call_id, lambda choice: InboundCallerChose(call_id, choice))

    async def collector_login(self, collector_id: str, address: str | None) -> None:
        return None

    async def collector_logout(self, collector_id: str) -> None:
        return None

    @property
    def active_calls(self) -> int:
        return len(self._timers)
