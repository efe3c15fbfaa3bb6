"""The daemon's clock: wall time, optionally started elsewhere and run faster (demos).

The engine only ever sees numbers from `now()`; with `speed` > 1 simulated delays shrink in
real time while the engine's deadlines (ring timeout, connect grace) keep their meaning.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = speed
        self._mono0 = time.monotonic()
        self._wall0 = time.time() if start is None else start

    def now(self) -> float:
        """POSIX seconds on this clock."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def real_seconds(self, clock_seconds: float) -> float:
        """How long to wait in real time for `clock_seconds` to pass on this clock."""
        return max(0.0, clock_seconds / self.speed)
