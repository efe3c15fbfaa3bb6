"""Drawing durations one at a time, cheaply: the simulated carrier and collectors do it on
every call."""

from __future__ import annotations

import numpy as np

from dialer.pacing.distributions import Distribution


class SampleBuffer:
    """Draws from ``dist`` in blocks so one-at-a-time sampling costs a list index, not a call
    into numpy. The stream differs from calling ``dist.sample(rng)`` repeatedly."""

    __slots__ = ("_block", "_buf", "_dist", "_pos", "_rng")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = 4096) -> None:
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block!r}")
        self._dist = dist
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._pos = 0

    def next(self) -> float:
        pos = self._pos
        if pos >= len(self._buf):
            self._buf = self._dist.sample(self._rng, self._block).tolist()
            pos = 0
        self._pos = pos + 1
        return self._buf[pos]
