"""The inbound arrival rate of a blended campaign, learned online per time of day.

The blended reservation (:mod:`dialer.pacing.blending`) sizes its Erlang-C part and the
predictive pacer plans its callers due from this rate: arrivals over exposure, both
forgotten with a time constant, shrunk toward what the same time of day saw on earlier
days; a burst is caught sooner by the lower quartile of the rate the last few arrivals
give. Pure and sans-I/O: the time is passed in.
"""

from __future__ import annotations

import math
from collections import deque

from scipy.special import gammaincinv

__all__ = ["DAY", "InboundRateEstimator"]

DAY = 86400.0


class InboundRateEstimator:
    """Inbound arrivals per second now, learned online per time of day.

    ``prior_per_hour``: the rate assumed before any day has been seen; ``slot_seconds``:
    the time-of-day slots the daily memory keeps (30 min); ``memory_seconds``: how fast
    today's estimate forgets (15 min); ``prior_seconds``: how many seconds of evidence the
    prior weighs; ``day_weight``: the weight of the latest day in a slot's memory.
    """

    def __init__(
        self,
        prior_per_hour: float = 0.0,
        *,
        slot_seconds: float = 1800.0,
        memory_seconds: float = 900.0,
        prior_seconds: float = 900.0,
        day_weight: float = 0.3,
        burst_arrivals: int = 4,
    ) -> None:
        if prior_per_hour < 0 or not math.isfinite(prior_per_hour):
            raise ValueError(f"prior_per_hour must be >= 0, got {prior_per_hour!r}")
        for name, value in (
            ("slot_seconds", slot_seconds),
            ("memory_seconds", memory_seconds),
            ("prior_seconds", prior_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not 0 < day_weight <= 1:
            raise ValueError(f"day_weight must be in (0, 1], got {day_weight!r}")
        if burst_arrivals < 2:
            raise ValueError(f"burst_arrivals must be >= 2, got {burst_arrivals!r}")
        self.prior_rate = prior_per_hour / 3600.0
        self.slot_seconds = slot_seconds
        self.memory_seconds = memory_seconds
        self.prior_seconds = prior_seconds
        self.day_weight = day_weight
        self.slots = max(1, round(DAY / slot_seconds))
        self.by_slot: list[float | None] = [None] * self.slots
        self.arrivals = 0
        self._count = 0.0  # arrivals, exponentially forgotten
        self._exposure = 0.0  # seconds observed, forgotten alike
        self._at: float | None = None
        self._started_at: float | None = None  # the first time seen: a slot counts from it
        self._slot_start: float | None = None
        self._slot_count = 0
        self._latest: deque[float] = deque(maxlen=burst_arrivals)
        # The lower quartile of a Poisson rate given k - 1 arrivals after the oldest of
        # the last k (a gamma posterior): a burst counts only once it is plain.
        self._burst_quantile = float(gammaincinv(burst_arrivals - 1, 0.25))

    def _slot(self, now: float) -> int:
        return int((now % DAY) // self.slot_seconds) % self.slots

    def _advance(self, now: float) -> None:
        if self._at is None:
            self._at = self._started_at = now
            self._slot_start = now - now % self.slot_seconds
            return
        if now <= self._at:
            return
        assert self._slot_start is not None
        while now >= self._slot_start + self.slot_seconds:  # a slot ended: remember it
            end = self._slot_start + self.slot_seconds
            self._decay(end)
            assert self._started_at is not None
            seen = end - max(self._slot_start, self._started_at)
            if seen > 0:
                rate = self._slot_count / seen
                slot = self._slot(self._slot_start)
                old = self.by_slot[slot]
                w = self.day_weight
                self.by_slot[slot] = rate if old is None else (1 - w) * old + w * rate
            self._slot_start, self._slot_count = end, 0
        self._decay(now)

    def _decay(self, now: float) -> None:
        assert self._at is not None
        dt = now - self._at
        if dt <= 0:
            return
        keep = math.exp(-dt / self.memory_seconds)
        self._count *= keep
        self._exposure = self._exposure * keep + self.memory_seconds * (1 - keep)
        self._at = now

    def observe_arrival(self, now: float) -> None:
        self._advance(now)
        self._count += 1.0
        self._slot_count += 1
        self.arrivals += 1
        self._latest.append(now)

    def recent_rate(self, now: float) -> float:
        """Arrivals per second the latest few say at least (lower quartile), 0 until there
        are as many; it decays by itself as the time since the oldest of them grows."""
        if len(self._latest) < (self._latest.maxlen or 0):
            return 0.0
        span = now - self._latest[0]
        return self._burst_quantile / span if span > 0 else 0.0

    def prior(self, now: float) -> float:
        """The rate expected at this time of day before today's evidence."""
        known = self.by_slot[self._slot(now)]
        return self.prior_rate if known is None else known

    def rate(self, now: float) -> float:
        """Arrivals per second: today's forgetting count, shrunk toward the prior."""
        self._advance(now)
        # The prior weighs `prior_seconds` of evidence at the start and is forgotten like
        # evidence: today's own count takes over within a few `memory_seconds`.
        weight = self.prior_seconds * max(0.0, 1.0 - self._exposure / self.memory_seconds)
        if self._exposure + weight <= 0:
            return self.prior(now)
        return (self._count + self.prior(now) * weight) / (self._exposure + weight)
