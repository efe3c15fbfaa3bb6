"""The collector state machine.

logged_out -> ready <-> paused
ready -> reserved (held for a call being dialed for them: preview/manual) -> on_call
ready -> on_call (an answered call bridged to them)
on_call -> wrap_up -> ready | paused | logged_out
ready | paused | wrap_up -> logged_out
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dialer.domain.errors import IllegalCollectorTransition

# The pause reasons the dialer sets itself: a collector whose console was gone for the
# presence timeout, and one whose SIP phone hung up its nailed-up leg.
DISCONNECTED = "disconnected"
PHONE_LOST = "phone_lost"


class CollectorState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_S = CollectorState
_TRANSITIONS: dict[str, tuple[frozenset[CollectorState], CollectorState]] = {
    "log_in": (frozenset({_S.LOGGED_OUT}), _S.READY),
    "ready": (frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP}), _S.READY),
    "pause": (frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP}), _S.PAUSED),
    "reserve": (frozenset({_S.READY}), _S.RESERVED),
    "release": (frozenset({_S.RESERVED}), _S.READY),
    "connect": (frozenset({_S.READY, _S.RESERVED}), _S.ON_CALL),
    "hang_up": (frozenset({_S.ON_CALL}), _S.WRAP_UP),
    "log_out": (frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP, _S.LOGGED_OUT}), _S.LOGGED_OUT),
}


@dataclass(slots=True)
class Collector:
    collector_id: str
    team: str | None = None
    skills: frozenset[str] = frozenset()
    state: CollectorState = CollectorState.LOGGED_OUT
    since: float = 0.0  # when the current state began (engine seconds)
    call_id: str | None = None
    pause_reason: str | None = None
    talk_started_at: float | None = None
    wrap_started_at: float | None = None
    # Accumulated seconds per state, for occupancy.
    seconds: dict[str, float] = field(default_factory=dict)

    def _move(self, action: str, now: float) -> None:
        allowed, target = _TRANSITIONS[action]
        if self.state not in allowed:
            raise IllegalCollectorTransition(self.collector_id, self.state, action)
        if self.state is not CollectorState.LOGGED_OUT:
            key = self.state.value
            self.seconds[key] = self.seconds.get(key, 0.0) + (now - self.since)
        self.state = target
        self.since = now

    def log_in(self, now: float) -> None:
        self._move("log_in", now)

    def ready(self, now: float) -> None:
        self._move("ready", now)
        self.pause_reason = None
        self.wrap_started_at = None

    def pause(self, reason: str, now: float) -> None:
        self._move("pause", now)
        self.pause_reason = reason
        self.wrap_started_at = None

    def reserve(self, call_id: str, now: float) -> None:
        self._move("reserve", now)
        self.call_id = call_id

    def release(self, now: float) -> None:
        self._move("release", now)
        self.call_id = None

    def connect(self, call_id: str, now: float) -> None:
        if self.state is CollectorState.RESERVED and self.call_id != call_id:
            raise IllegalCollectorTransition(self.collector_id, self.state, f"connect {call_id}")
        self._move("connect", now)
        self.call_id = call_id
        self.talk_started_at = now

    def hang_up(self, now: float) -> None:
        self._move("hang_up", now)
        self.call_id = None
        self.talk_started_at = None
        self.wrap_started_at = now

    def log_out(self, now: float) -> None:
        self._move("log_out", now)
        self.pause_reason = None
        self.wrap_started_at = None
