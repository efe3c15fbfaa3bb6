"""The SIP trunk's watch task: dead calls, the carrier's health, the registration.

Once a second (or at once, on a hint) it sweeps the answered legs for dead media
(sip_liveness), probes the server when the breaker wants it (sip_probe), and follows the
registration. Hints come from the trunk: an ICMP error on its socket, an INVITE that drew
no response within 4 x T1. A hint probes the server at once, so a carrier that went away is
found in well under a second instead of one 32 s timer B per call.

The trunk tells it what calls did (`reached`, `carrier_failure`); it tells the trunk when
the breaker opens (fail what has not left) and when dialing may go on, through
`on_change(up, why)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from dialer.telephony.sip_leg import SipLeg
from dialer.telephony.sip_liveness import Liveness, LivenessSettings
from dialer.telephony.sip_log import INFO, WARNING, event, log
from dialer.telephony.sip_probe import ProbeResult, probe_server
from dialer.telephony.sip_register import Registration
from dialer.telephony.sip_settings import SipTrunkSettings
from dialer.telephony.sip_transaction import TransactionLayer
from dialer.telephony.trunk_health import BreakerSettings, BreakerState, TrunkBreaker

Address = tuple[str, int]
TICK = 1.0


class SipHealth:
    def __init__(
        self,
        breaker: TrunkBreaker,
        liveness: Liveness,
        *,
        legs: Callable[[], Iterable[SipLeg]],
        registered: Callable[[], bool | None],
        on_open: Callable[[], None],
        on_change: Callable[[bool, str | None], None],
        probe: Callable[[], Awaitable[ProbeResult]],
    ) -> None:
        self.breaker = breaker
        self.liveness = liveness
        self._legs = legs
        self._registered = registered  # None: the trunk does not register
        self._on_open = on_open
        self._on_change = on_change
        self._probe = probe
        self._loop = asyncio.get_running_loop()
        self._hint: str | None = None
        self._wake = asyncio.Event()
        self._sendable = asyncio.Event()
        self._sendable.set()
        self.probes = 0

    # -- what the trunk reports ------------------------------------------------------------
    def hint(self, why: str) -> None:
        """Something suggests the carrier is gone: probe it now."""
        if self.breaker.state is BreakerState.UP and self._hint is None:
            self._hint = why
            self._wake.set()

    def reached(self) -> None:
        if self.breaker.reached(self._loop.time()):
            event(log, "sip.trunk_up", INFO)
            self._changed()

    def carrier_failure(self, reason: str) -> None:
        if self.breaker.carrier_failure(reason, self._loop.time()):
            self._opened()
        else:
            self._changed()  # a trial that ended: the next may go

    def settled(self) -> None:
        """A call ended with no word from the network either way: a trial may go again."""
        self.breaker.trial_in_flight = False
        self._update_sendable()

    def sent(self) -> None:
        self.breaker.sent()
        self._update_sendable()

    async def wait_sendable(self) -> None:
        while not self.breaker.may_send():
            self._sendable.clear()
            await self._sendable.wait()

    # -- the task --------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)
            self._wake.clear()
            self.liveness.check(self._legs())
            self._follow_registration()
            now = self._loop.time()
            if self._hint is not None or self.breaker.probe_due(now):
                await self._run_probe()

    async def _run_probe(self) -> None:
        hint, self._hint = self._hint, None
        self.probes += 1
        result = await self._probe()
        now = self._loop.time()
        if result is ProbeResult.ANSWERED:
            if self.breaker.reason == "not_registered" and self._registered() is False:
                self.breaker.probe_failed("not_registered", now)
                return
            if self.breaker.probe_answered(now):
                event(log, "sip.trunk_trial", INFO, reason=self.breaker.reason)
                self._changed()
            return
        failed = hint is not None or self.breaker.state is not BreakerState.UP
        if failed and self.breaker.probe_failed(result.value, now):
            self._opened()

    def _follow_registration(self) -> None:
        registered = self._registered()
        if registered is False and self.breaker.state is BreakerState.UP:
            self.breaker.probe_failed("not_registered", self._loop.time())
            self._opened()

    # -- internals -------------------------------------------------------------------------
    def _opened(self) -> None:
        event(log, "sip.trunk_down", WARNING, reason=self.breaker.reason)
        self._on_open()
        self._changed()

    def _changed(self) -> None:
        self._update_sendable()
        up = self.breaker.up
        self._on_change(up, None if up else self.breaker.why)

    def _update_sendable(self) -> None:
        if self.breaker.may_send():
            self._sendable.set()


def watch_trunk(
    s: SipTrunkSettings,
    transactions: TransactionLayer,
    registration: Registration | None,
    server: Address,
    domain: str,
    *,
    legs: Callable[[], Iterable[SipLeg]],
    on_dead: Callable[[SipLeg, float], None],
    on_open: Callable[[], None],
    on_change: Callable[[bool, str | None], None],
) -> SipHealth:
    """The watch of one trunk, from its settings."""
    liveness = Liveness(
        transactions,
        LivenessSettings(
            s.media_timeout, s.media_timeout_initial, s.keepalive_interval, s.keepalive_timeout
        ),
        on_dead,
    )
    breaker = TrunkBreaker(
        BreakerSettings(s.breaker_failures, s.breaker_backoff, s.breaker_backoff_max)
    )

    def registered() -> bool | None:
        """None: the trunk does not register, or its first REGISTER is still out."""
        if registration is None:
            return None
        if registration.registered:
            return True
        return False if registration.last_error is not None else None

    async def probe() -> ProbeResult:
        return await probe_server(
            server,
            domain,
            local_ip=s.local_ip or "0.0.0.0",
            t1=s.timer_t1,
            timeout=s.probe_timeout,
            user_agent=s.user_agent,
        )

    return SipHealth(
        breaker,
        liveness,
        legs=legs,
        registered=registered,
        on_open=on_open,
        on_change=on_change,
        probe=probe,
    )
