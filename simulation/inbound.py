"""Simulated inbound callers: debtors calling back over the shift.

A scenario's ``inbound`` section (:class:`InboundTraffic`) gives the arrival rate per hour
of the shift (a Poisson process whose rate changes by the hour), the inbound talk time and
the callers' patience. :class:`InboundCallers` plays them for the simulator
(simulation.loop): each arrival is an `InboundCallArrived` for the engine; a caller still
waiting when their patience runs out hangs up (`CallHungUp`); offered a callback they take
it. It counts what the report needs (offered, answered, answered within the target,
abandoned, waits), from the engine's own commands, so the figures are what the engine did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dialer.domain.model import Case, DialTarget, PhoneNumber
from dialer.pacing.distributions import Distribution
from dialer.pacing.samples import SampleBuffer

__all__ = ["InboundCallers", "InboundMetrics", "InboundTraffic"]


@dataclass(frozen=True, slots=True)
class InboundTraffic:
    """``calls_per_hour``: one value, or one per hour of the shift; ``service_level`` of
    calls answered within ``answer_within`` s is the campaign's target; ``max_wait``: the
    queue's longest wait before the callback offer."""

    calls_per_hour: tuple[float, ...]
    talk: Distribution
    patience: Distribution
    service_level: float = 0.8
    answer_within: float = 20.0
    max_wait: float = 60.0

    def rate_at(self, hour: int) -> float:
        """Arrivals per second in hour ``hour`` of the shift (0-based)."""
        rates = self.calls_per_hour
        return rates[min(hour, len(rates) - 1)] / 3600.0


@dataclass(frozen=True, slots=True)
class InboundMetrics:
    """One shift's inbound figures. ``service_level``: answered within the target over
    offered (callers who hung up early count against it); ``mean_wait``: arrival to a
    collector, over the answered calls."""

    offered: int
    answered: int
    abandoned: int
    callbacks: int
    answered_within: int
    wait_seconds: float
    target: float

    @property
    def service_level(self) -> float:
        return self.answered_within / self.offered if self.offered else 1.0

    @property
    def mean_wait(self) -> float:
        return self.wait_seconds / self.answered if self.answered else 0.0

    @property
    def held(self) -> bool:
        return self.service_level >= self.target

    def as_dict(self) -> dict[str, float | int]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "callbacks": self.callbacks,
            "service_level": self.service_level,
            "mean_wait": self.mean_wait,
        }


class InboundCallers:
    """The callers of one shift; randomness only from ``rng``."""

    def __init__(
        self, traffic: InboundTraffic, rng: np.random.Generator, start: float, end: float
    ) -> None:
        self.traffic = traffic
        self.start, self.end = start, end
        self._rng = rng
        self._talk = SampleBuffer(traffic.talk, rng)
        self._patience = SampleBuffer(traffic.patience, rng)
        self._peak = max(traffic.calls_per_hour) / 3600.0
        self._seq = 0
        self.waiting: set[str] = set()  # arrived, not yet taken, offered or gone
        self.live: set[str] = set()  # every inbound call up, whatever its state
        self.offered = self.answered = self.abandoned = self.callbacks = 0
        self.answered_within = 0
        self.wait_seconds = 0.0

    def next_arrival(self, now: float) -> float | None:
        """The next arrival after ``now`` (thinning a Poisson process at the peak rate), or
        None when it would fall after the shift."""
        if self._peak <= 0:
            return None
        at = now
        while True:
            at += float(self._rng.exponential(1.0 / self._peak))
            if at >= self.end:
                return None
            hour = int((at - self.start) // 3600.0)
            if self._rng.random() * self._peak < self.traffic.rate_at(hour):
                return at

    def arrive(self) -> tuple[str, DialTarget, float]:
        """A new caller: (call id, the case their number identifies, their patience)."""
        self._seq += 1
        call_id = f"in{self._seq}"
        number = f"+1666{self._seq:07d}"
        self.offered += 1
        self.waiting.add(call_id)
        self.live.add(call_id)
        case = Case(f"sim-in-{self._seq}", (PhoneNumber(number),))
        return call_id, DialTarget(case, number), self._patience.next()

    def bridged(self, call_id: str, waited: float) -> float | None:
        """A `Bridge` of ours: the talk time it gets, or None for an outbound call."""
        if call_id not in self.live:
            return None
        self.waiting.discard(call_id)
        self.answered += 1
        self.wait_seconds += waited
        if waited <= self.traffic.answer_within:
            self.answered_within += 1
        return self._talk.next()

    def gives_up(self, call_id: str) -> bool:
        """Their patience ran out: True when they were still waiting (they hang up)."""
        if call_id not in self.waiting:
            return False
        self.waiting.discard(call_id)
        self.abandoned += 1
        return True

    def offered_callback(self, call_id: str) -> None:
        self.waiting.discard(call_id)
        self.callbacks += 1

    def ended(self, call_id: str) -> None:
        self.live.discard(call_id)

    def metrics(self) -> InboundMetrics:
        return InboundMetrics(
            self.offered,
            self.answered,
            self.abandoned,
            self.callbacks,
            self.answered_within,
            self.wait_seconds,
            self.traffic.service_level,
        )
