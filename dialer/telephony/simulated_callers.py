"""Debtors calling back on the simulated carrier (`trunk.simulated.callers`).

So that the demo and the tests see the whole inbound path without a SIP peer: callers
ring our numbers as a Poisson process (`calls_per_hour`), mostly from numbers the dialer
has called (a debtor calls back the number they saw), some from numbers it never did
(`unknown_share`). The daemon's inbound desk takes them as it takes SIP callers
(`InboundHooks`); a queued caller waits as long as their patience, then hangs up; one
offered a callback presses 1 with probability `callback_share`, else no key; one bridged
to a collector talks as long as the inbound talk distribution says. The numbers dialed are
kept in memory only, like every number on the trunk.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from dialer.clock import Clock
from dialer.pacing.distribution_spec import parse_distribution
from dialer.pacing.samples import SampleBuffer
from dialer.telephony.port import TrunkEvent
from dialer.telephony.simulated_callers_settings import SimulatedCallersSettings
from dialer.telephony.sip_inbound import InboundHooks, InboundOffer

REMEMBERED = 2000  # the numbers last dialed that a caller may call back from
CHOICE_SECONDS = 4.0  # from the offer's prompt to the caller's key


class SimulatedCallers:
    """The callers of one simulated trunk; `emit_later` / `emit` are the trunk's."""

    def __init__(
        self,
        settings: SimulatedCallersSettings,
        ours: Sequence[str],
        hooks: InboundHooks,
        rng: np.random.Generator,
        clock: Clock,
        emit_later: Callable[[str, float, TrunkEvent], None],
    ) -> None:
        self.settings = settings
        self._ours = list(ours)
        self._hooks = hooks
        self._rng = rng
        self._clock = clock
        self._emit_later = emit_later
        self._talk = SampleBuffer(parse_distribution(settings.talk, "callers.talk"), rng)
        self._patience = SampleBuffer(
            parse_distribution(settings.patience, "callers.patience"), rng
        )
        self._dialed: deque[str] = deque(maxlen=REMEMBERED)
        self._task: asyncio.Task[None] | None = None
        self.calls: set[str] = set()  # call ids of callers on the line
        self.rung = 0
        # Call ids stay unique across runs on one store (inbound_calls.call_id is unique):
        # a restarted daemon's first caller is not the last run's "in-sim-1".
        self.run_id = uuid.uuid4().hex[:8]

    @property
    def wanted(self) -> bool:
        return self.settings.calls_per_hour > 0 and bool(self._ours)

    def start(self) -> None:
        if self.wanted and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._ring_forever())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.calls.clear()

    def dialed(self, number: str) -> None:
        """The dialer called `number`: its debtor may call back."""
        self._dialed.append(number)

    def owns(self, call_id: str) -> bool:
        return call_id in self.calls

    async def _ring_forever(self) -> None:
        mean_gap = 3600.0 / self.settings.calls_per_hour
        while True:
            await asyncio.sleep(self._clock.real_seconds(float(self._rng.exponential(mean_gap))))
            self.ring()

    def ring(self) -> str | None:
        """One caller rings one of our numbers now; their call id (None: not taken)."""
        dialed = self._ours[int(self._rng.integers(len(self._ours)))]
        if not self._hooks.accepts(dialed):
            return None
        self.rung += 1
        call_id = f"in-sim-{self.run_id}-{self.rung}"
        self.calls.add(call_id)
        self._hooks.offered(InboundOffer(call_id, self._caller(), dialed))
        return call_id

    def _caller(self) -> str:
        if self._dialed and self._rng.random() >= self.settings.unknown_share:
            return self._dialed[int(self._rng.integers(len(self._dialed)))]
        # A number the dialer never called (a 555 line: fictional, never a real person's).
        return f"+1202555{int(self._rng.integers(10000)):04d}"

    # -- what the desk's commands mean to a caller ---------------------------------------
    def queued(self, call_id: str, hang_up: TrunkEvent) -> None:
        """On hold: the caller hangs up when their patience runs out."""
        self._emit_later(call_id, self._patience.next(), hang_up)

    def talk_seconds(self) -> float:
        return self._talk.next()

    def offered(self, call_id: str, choose: Callable[[str], TrunkEvent]) -> None:
        """The callback offer: 1 (a callback) or no key, a few seconds after the prompt."""
        choice = "callback" if self._rng.random() < self.settings.callback_share else "none"
        self._emit_later(call_id, CHOICE_SECONDS, choose(choice))

    def ended(self, call_id: str) -> None:
        self.calls.discard(call_id)
