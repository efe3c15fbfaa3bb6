"""A blind dialer: a Poisson stream of dials at a constant rate, whatever the collectors do.

It exists to check the simulator against theory. With grace 0, a live answer that finds
every collector busy is abandoned at once, so the collectors form an Erlang loss system
(M/G/n/n): the abandon rate must equal Erlang B with offered load rate x p x handle time.
Selected in the simulator as ``blind:RATE`` (dials per second).
"""

from __future__ import annotations

import numpy as np

from dialer.pacing.base import EngineView, Pacer, PacingDecision, PacingInputs

__all__ = ["BlindPacer"]


class BlindPacer(Pacer):
    """Launches the dials of a Poisson process of ``rate`` per second.

    The engine asks on every event and every tick (``periodic``), so each arrival is placed
    at the first decision at or after its time: at most one tick interval late, which the
    random answer delay that follows smooths out.
    """

    name = "blind"
    periodic = True

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"blind dial rate must be > 0 per second, got {rate!r}")
        self.rate = rate
        self._next: float | None = None

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        now = inputs.now
        if self._next is None:
            self._next = now + float(rng.exponential(1.0 / self.rate))
        launch = 0
        while self._next <= now:
            launch += 1
            self._next += float(rng.exponential(1.0 / self.rate))
        return PacingDecision(launch, f"Poisson arrivals at {self.rate:g}/s")
