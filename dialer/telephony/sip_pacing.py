"""A token bucket on the event loop's clock: INVITEs leave at no more than `rate` per second.

Only the pacer task waits on it; `originate` just queues, so pacing never holds up the
engine, and a burst of 200 originations becomes a steady stream the carrier (and our
receive buffer) can take.
"""

from __future__ import annotations

import asyncio


class TokenBucket:
    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp: float | None = None

    def _refill(self, now: float) -> None:
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self, now: float) -> float:
        """Seconds until a token is available (0 when one is there now)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def take(self) -> None:
        loop = asyncio.get_running_loop()
        while (wait := self.delay(loop.time())) > 0:
            await asyncio.sleep(wait)
        self._tokens -= 1
