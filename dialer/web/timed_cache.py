"""A value per key, computed again once older than `max_age` seconds (real time): the
wallboard's daily figures are asked for by every open wallboard every second, and the
store answers at most once per campaign per `max_age`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TimedCache(Generic[V]):
    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.clock = clock
        self.computed = 0  # how many times a value was computed (tests, the benchmark)
        self._kept: dict[str, tuple[float, V]] = {}

    async def get(self, key: str, compute: Callable[[], Awaitable[V]]) -> V:
        at = self.clock()
        kept = self._kept.get(key)
        if kept is not None and at - kept[0] < self.max_age:
            return kept[1]
        value = await compute()
        self.computed += 1
        self._kept[key] = (at, value)
        return value
