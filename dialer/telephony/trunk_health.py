"""Trunk health: telling a dead or refusing carrier from debtors who do not answer.

A call that fails at the carrier (its INVITE drew no response at all, credentials the
carrier refused, a 403 or 5xx before any ringing) says nothing about the debtor, and a run
of them says the trunk is down. `TrunkBreaker` is the circuit breaker the SIP trunk keeps:

- **up**: calls go out. `failures_to_open` carrier failures in a row (nothing in between
  reached the network) open it, as does a probe that fails (the server refused our
  datagrams, ICMP port unreachable, or did not answer an OPTIONS), or a registration that
  does not hold.
- **down**: no call goes out; the trunk fails queued calls as trunk failures (they never
  left) and probes the server with OPTIONS after `backoff`, doubling up to `backoff_max`.
- **trial**: a probe was answered; one call goes out. If it reaches the network (ringing,
  an answer, or a final response from the far end such as busy) the breaker closes, else
  it opens again with a doubled backoff (a wrong password answers OPTIONS but not INVITEs).

Pure: the trunk passes loop times in and acts on what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

REASONS = {
    "no_response": "the carrier does not answer our INVITEs",
    "unreachable": "the carrier's address refuses our datagrams (ICMP port unreachable)",
    "credentials_refused": "the carrier refuses our credentials (401/407)",
    "forbidden": "the carrier refuses every call (403)",
    "unavailable": "the carrier answers every call with a server error (5xx)",
    "probe_timeout": "the carrier does not answer OPTIONS",
    "not_registered": "the registration with the carrier does not hold",
}


class BreakerState(StrEnum):
    UP = "up"
    DOWN = "down"
    TRIAL = "trial"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures_to_open: int = 3
    backoff: float = 2.0  # seconds before the first probe once down
    backoff_max: float = 60.0


@dataclass(slots=True)
class TrunkBreaker:
    settings: BreakerSettings
    state: BreakerState = BreakerState.UP
    reason: str | None = None  # a key of REASONS while not up
    since: float = 0.0  # loop time of the last change of state
    failures: int = 0  # carrier failures in a row
    next_probe_at: float = 0.0
    trial_in_flight: bool = False
    _backoff: float = 0.0

    @property
    def up(self) -> bool:
        """Whether the engine may launch calls (a trial counts: one goes out)."""
        return self.state is not BreakerState.DOWN

    @property
    def why(self) -> str:
        return REASONS.get(self.reason or "", self.reason or "")

    def may_send(self) -> bool:
        """May the next queued INVITE leave now? In trial, only one at a time."""
        if self.state is BreakerState.UP:
            return True
        return self.state is BreakerState.TRIAL and not self.trial_in_flight

    def sent(self) -> None:
        if self.state is BreakerState.TRIAL:
            self.trial_in_flight = True

    def reached(self, now: float) -> bool:
        """A call reached the network. True if that closed the breaker."""
        self.failures = 0
        if self.state is BreakerState.UP:
            return False
        self._change(BreakerState.UP, None, now)
        self._backoff = 0.0
        return True

    def carrier_failure(self, reason: str, now: float) -> bool:
        """A call failed at the carrier. True if that opened the breaker."""
        self.failures += 1
        if self.state is BreakerState.TRIAL or (
            self.state is BreakerState.UP and self.failures >= self.settings.failures_to_open
        ):
            self._open(reason, now)
            return True
        return False

    def probe_failed(self, reason: str, now: float) -> bool:
        """A probe of the server went unanswered or was refused. True if that opened it."""
        if self.state is BreakerState.DOWN:
            self.next_probe_at = now + self._next_backoff()
            return False
        self._open(reason, now)
        return True

    def probe_answered(self, now: float) -> bool:
        """The server answered a probe: down -> trial. True if the state changed."""
        if self.state is not BreakerState.DOWN:
            return False
        self._change(BreakerState.TRIAL, self.reason, now)
        return True

    def probe_due(self, now: float) -> bool:
        return self.state is BreakerState.DOWN and now >= self.next_probe_at

    def _open(self, reason: str, now: float) -> None:
        self._change(BreakerState.DOWN, reason, now)
        self.next_probe_at = now + self._next_backoff()

    def _next_backoff(self) -> float:
        s = self.settings
        self._backoff = s.backoff if self._backoff <= 0 else min(self._backoff * 2, s.backoff_max)
        return self._backoff

    def _change(self, state: BreakerState, reason: str | None, now: float) -> None:
        self.state = state
        self.reason = reason
        self.since = now
        self.trial_in_flight = False
