"""Whether each collector's console is there, as the web sees it, told to the engine.

The heartbeat rides on the console's own event stream (dialer.web.sse): every
`ping_every` seconds (a third of `web.presence_timeout_seconds`) the stream carries a
`presence` event and the page answers it with `POST /api/v1/me/presence`. Each answer, the
stream's opening and its clean end, and the collector's own actions (going ready) count as
*heard*; each is passed to the campaign the collector is logged in to as a `CollectorSeen`
("present for the timeout more"), and the engine (dialer.engine.presence) pauses whoever is
not heard again in time, before it routes anything.

Why an answered ping and not the stream alone, nor a timer in the page: a stream whose
browser vanished without closing its connection (a laptop asleep, the network gone) looks
open to the server for minutes, and a proxy in between hides even a clean close; a page's
own `setInterval` is throttled to once a minute in a background tab, where a collector's
console often sits while they talk on their phone. A ping that arrives over the stream is
a network event, which browsers deliver at once in background tabs too, so the answer
proves both directions work. Closing the console ends the stream at once and starts the
timeout there; a reload or a brief network drop reconnects well within it.

Times here are real (monotonic) seconds, like the timeout; the engine is told the same span
on the daemon's clock (`Clock.speed` times as many seconds in a sped-up demo).

It also keeps what a manager last did to each collector (`Forced`: dialer.web.
collector_control) and says in plain words, for the console, why a collector is not taking
calls (`note`): their console was gone, their phone hung up, a manager paused them or took
them out, or will when the call ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from dialer.domain.agents import DISCONNECTED, PHONE_LOST, CollectorState
from dialer.domain.events import CollectorSeen
from dialer.web.facade import CampaignHandle, DialerFacade

MIN_PING = 0.5  # seconds between pings, whatever the timeout
MANAGER = "manager"  # the pause reason of a manager's pause


@dataclass(frozen=True, slots=True)
class Forced:
    """What a manager did to a collector: "pause" or "logout", who, when (daemon clock)."""

    action: str
    by: str
    at: float
    campaign: str

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%H:%M UTC")


class Presence:
    def __init__(
        self,
        dialer: DialerFacade,
        timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dialer = dialer
        self.timeout = timeout
        self.ping_every = max(MIN_PING, timeout / 3)
        self._monotonic = monotonic
        self._heard: dict[str, float] = {}  # collector -> when last heard (monotonic)
        self._streams: dict[str, int] = {}  # collector -> event streams open now
        self.forced: dict[str, Forced] = {}  # the last thing a manager did to them
        # The campaign each collector last logged in to: their login may wait there (for
        # their SIP phone to answer) while the console goes on beating.
        self._joining: dict[str, CampaignHandle] = {}

    def heard(self, collector_id: str, runner: CampaignHandle | None = None) -> None:
        """The collector's console (or client) is there now. `runner`: the campaign they
        are logging in to; else the one they are logged in to, else the one they last
        logged in to (their login may still wait for their phone there)."""
        self._heard[collector_id] = self._monotonic()
        if runner is not None:
            self._joining[collector_id] = runner
        target = runner or self._campaign_of(collector_id) or self._joining.get(collector_id)
        if target is not None:
            span = self.timeout * self._dialer.clock.speed
            target.push(CollectorSeen(collector_id, span))

    def stream_opened(self, collector_id: str) -> None:
        self._streams[collector_id] = self._streams.get(collector_id, 0) + 1
        self.heard(collector_id)

    def stream_closed(self, collector_id: str) -> None:
        """The console went (closed, reloaded, lost): the timeout counts from now, unless
        the stream had already stopped answering (then from its last answer)."""
        left = self._streams.get(collector_id, 0) - 1
        if left > 0:
            self._streams[collector_id] = left
        else:
            self._streams.pop(collector_id, None)
        if self.connected(collector_id):
            self.heard(collector_id)

    def streams(self, collector_id: str) -> int:
        return self._streams.get(collector_id, 0)

    def silent_for(self, collector_id: str) -> float | None:
        """Real seconds since the collector was last heard (None: never on the web)."""
        heard = self._heard.get(collector_id)
        return None if heard is None else max(0.0, self._monotonic() - heard)

    def connected(self, collector_id: str) -> bool | None:
        """Heard within the timeout (None: never on the web, e.g. a simulated collector)."""
        silent = self.silent_for(collector_id)
        return None if silent is None else silent < self.timeout

    def note(
        self,
        collector_id: str,
        state: str,
        reason: str | None,
        pending: tuple[str, str | None] | None = None,
    ) -> str | None:
        """Why the collector is not taking calls, in plain words (None: nothing to say)."""
        forced = self.forced.get(collector_id)
        if pending is not None and pending[0] == "logout":
            return "A manager will take you out of the campaign when this call ends."
        if pending is not None and pending[1] == MANAGER:
            return "A manager will pause you when this call ends."
        if state == CollectorState.PAUSED and reason == DISCONNECTED:
            return (
                "You were paused because this console was closed or lost its connection "
                f"for more than {self.timeout:g} seconds: no call was sent to you. "
                "Press Ready when you are back."
            )
        if state == CollectorState.PAUSED and reason == PHONE_LOST:
            return (
                "You were paused because your phone hung up its line to the dialer. "
                "Press Ready to have it called again."
            )
        if state == CollectorState.PAUSED and reason == MANAGER:
            by = f" ({forced.by}) at {forced.when}" if forced and forced.action == "pause" else ""
            return f"A manager{by} paused you. Press Ready to take calls again."
        if state == CollectorState.LOGGED_OUT and forced and forced.action == "logout":
            return (
                f"A manager ({forced.by}) took you out of campaign {forced.campaign} at "
                f"{forced.when}."
            )
        return None

    def _campaign_of(self, collector_id: str) -> CampaignHandle | None:
        for runner in self._dialer.runners.values():
            collector = runner.engine.collectors.get(collector_id)
            if collector is not None and collector.state is not CollectorState.LOGGED_OUT:
                return runner
        return None
