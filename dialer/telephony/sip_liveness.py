"""Dead-call detection on every answered leg: RTP inactivity, confirmed in the dialog.

A phone that dies (power, crash, a dropped network) sends no BYE: its leg stays "up" and
the collector bridged to it hears dead air until someone notices. Every answered leg here
is watched:

- **RTP inactivity.** A far end that sends media (sendrecv/sendonly) and has sent nothing
  for `media_timeout` seconds (`media_timeout_initial` if it never sent a packet since
  the answer) is suspect. Holds (the far end sends nothing by design) restart the count.
- **Confirmed in the dialog.** A suspect leg gets an in-dialog OPTIONS. A phone using
  silence suppression is alive and answers it (any response but 481): the leg stays and
  its silence counts afresh. No answer within `keepalive_timeout`, or 481 (the dialog is
  gone at the far end), and the leg is dead.
- **Keep-alive.** Every `keepalive_interval` seconds each answered leg gets the same
  OPTIONS, so a dialog the far end lost (a restarted phone or SBC) is found even while
  some media still flows.

A dead leg is reported to `on_dead(leg, silent_for)`: the trunk hangs it up and reports the
call's end with how long its media had been silent, so the talk time stops there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dialer.telephony.sip_leg import LegState, SipLeg
from dialer.telephony.sip_log import INFO, WARNING, event, log
from dialer.telephony.sip_message import SipMessage
from dialer.telephony.sip_transaction import TransactionLayer

DIALOG_GONE = 481


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    media_timeout: float = 30.0
    media_timeout_initial: float = 10.0
    keepalive_interval: float = 60.0  # 0: no periodic keep-alive
    keepalive_timeout: float = 4.0


class Liveness:
    def __init__(
        self,
        transactions: TransactionLayer,
        settings: LivenessSettings,
        on_dead: Callable[[SipLeg, float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transactions = transactions
        self.settings = settings
        self._on_dead = on_dead
        self._clock = clock
        self.probes_sent = 0
        self.dead_found = 0

    def check(self, legs: Iterable[SipLeg]) -> None:
        """One sweep: called about once a second by the trunk."""
        now = self._clock()
        s = self.settings
        for leg in list(legs):
            if leg.state is not LegState.CONFIRMED or leg.rtp is None or leg.probing:
                continue
            if leg.answered_at is not None and leg.media_baseline < leg.answered_at:
                leg.media_baseline = leg.answered_at
                leg.keepalive_at = leg.keepalive_at or leg.answered_at
            media = leg.remote_media
            if media is None or not media.sends:
                leg.media_baseline = now  # on hold: silence is what the far end asked for
            last = max(leg.rtp.last_received_at or 0.0, leg.media_baseline)
            silent = now - last
            limit = s.media_timeout if leg.rtp.received else s.media_timeout_initial
            if silent >= limit:
                event(log, "sip.media_silent", INFO, leg=leg.key, silent=round(silent, 1))
                self._probe(leg, suspect=True)
            elif s.keepalive_interval > 0 and now - leg.keepalive_at >= s.keepalive_interval:
                self._probe(leg, suspect=False)

    def _probe(self, leg: SipLeg, *, suspect: bool) -> None:
        leg.probing = True
        leg.keepalive_at = self._clock()
        data, branch = leg.options()
        self.probes_sent += 1
        loop = self._transactions.loop
        done = False

        def settle(answer: int | None) -> None:
            """`answer`: the OPTIONS' final code, None if none came in time."""
            nonlocal done
            if done:
                return
            done = True
            guard.cancel()
            txn.terminate()
            leg.probing = False
            if leg.state is not LegState.CONFIRMED or leg.rtp is None:
                return
            now = self._clock()
            silent = now - max(leg.rtp.last_received_at or 0.0, leg.media_baseline)
            flowing = silent < self.settings.media_timeout_initial
            if answer == DIALOG_GONE or (answer is None and not flowing):
                self.dead_found += 1
                event(log, "sip.dead_call", WARNING, leg=leg.key, silent=round(silent, 1))
                self._on_dead(leg, silent)
                return
            if answer is None:  # media flows: a far end that ignores OPTIONS is no dead one
                event(log, "sip.keepalive_unanswered", INFO, leg=leg.key)
            elif suspect:  # silence suppression, a muted phone: alive, count afresh
                leg.media_baseline = now

        def on_response(response: SipMessage) -> None:
            if response.code >= 200:
                settle(response.code)

        txn = self._transactions.start(
            "OPTIONS", branch, data, leg.next_hop, on_response, lambda: settle(None)
        )
        guard = loop.call_later(self.settings.keepalive_timeout, settle, None)
