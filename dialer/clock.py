"""The daemon's clock: wall time, optionally started elsewhere and run faster (demos).

One clock for everything the daemon schedules. The engine only ever sees numbers from
`now()`; every timer of the daemon (the engine's wake-ups, the simulated carrier and
collectors, the lease TTL and its heartbeat, the scheduled jobs, the reassigner's rules)
counts in this clock's seconds and waits `real_seconds(...)` of real time for them. With
`speed` > 1 simulated delays shrink in real time while the engine's deadlines (ring
timeout, connect grace) and the store's stamps (leases, attempts, lockouts) keep their
meaning in the clock's own time.

`start` sets what the clock reads at `anchor` (a real POSIX time; default: when the clock
is made). Several daemons sharing a store at `speed` > 1 must share `start` *and* `anchor`,
or their clocks drift apart by (speed - 1) x the difference of their start times, and the
leases one stamps look shorter or longer to the other. At speed 1 without `start` every
daemon reads the wall clock, as in production.

`ManualClock` moves only when told (tests; a host that drives the daemon in virtual time).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(
        self, speed: float = 1.0, start: float | None = None, anchor: float | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._mono0 = time.monotonic()
        wall = time.time()
        if start is None:
            self._wall0 = wall
        else:
            self._wall0 = start + (0.0 if anchor is None else (wall - anchor) * speed)

    def now(self) -> float:
        """POSIX seconds on this clock."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def utcnow(self) -> datetime:
        """`now()` as an aware UTC datetime (the store's stamps)."""
        return datetime.fromtimestamp(self.now(), UTC)

    def real_seconds(self, clock_seconds: float) -> float:
        """How long to wait in real time for `clock_seconds` to pass on this clock."""
        return max(0.0, clock_seconds / self.speed)


class ManualClock(Clock):
    """A clock that stands still until `move_to` or `advance` (waits still take
    `real_seconds`: whoever moves the clock wakes the waiters it cares about)."""

    def __init__(self, start: float | datetime, speed: float = 1.0) -> None:
        super().__init__(speed)
        self._at = _seconds(start)

    def now(self) -> float:
        return self._at

    def move_to(self, at: float | datetime) -> None:
        self._at = _seconds(at)

    def advance(self, seconds: float) -> None:
        self._at += seconds


def _seconds(at: float | datetime) -> float:
    return at.timestamp() if isinstance(at, datetime) else float(at)
