"""The engine's case hopper: the dial targets waiting to be called, and when to ask for more.

The engine pops targets from it to dial; the campaign runner refills it on the `NeedCases`
command it emits (dialer.orchestration.supply leases the cases from the store). It also
remembers every case that is queued or on a call, so the supply never hands the same case
out twice.

It lives apart from `dialer.engine` because it is one job with its own small state (the
queue, the refs, the request throttle) that the call and collector logic only touches
through `pop` and `release`. Like the engine it is sans-I/O: it is told the time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from dialer.domain.commands import Command, NeedCases
from dialer.domain.model import DialTarget


class CaseHopper:
    """Targets in supply order, the refs not to be supplied again, and the request throttle."""

    __slots__ = (
        "_batch",
        "_low_water",
        "_next_request",
        "_queue",
        "_refs",
        "_requested",
        "_retry_after",
    )

    def __init__(self, low_water: int, batch: int, retry_after: float) -> None:
        self._low_water = low_water
        self._batch = batch
        self._retry_after = retry_after
        self._queue: deque[DialTarget] = deque()
        self._refs: set[str] = set()  # in the queue or on a call
        self._next_request = -math.inf
        self._requested = False  # a NeedCases is out and not yet answered

    def __len__(self) -> int:
        return len(self._queue)

    def supply(self, targets: Iterable[DialTarget], now: float) -> None:
        """Take in what the runner supplied in answer to `NeedCases`."""
        self._requested = False
        added = 0
        for target in targets:
            # The store may lease a case again that is still here or on a call.
            if target.case.ref not in self._refs:
                self._refs.add(target.case.ref)
                self._queue.append(target)
                added += 1
        if added == 0:
            # Nothing new to call: asking again at once would only spin the store.
            self._next_request = now + self._retry_after

    def wanted(self, draining: bool) -> bool:
        return not draining and len(self._queue) < self._low_water

    def request(self, now: float, draining: bool, out: list[Command]) -> None:
        """Append a `NeedCases` when running low, unless one is out or the retry wait runs."""
        if self.wanted(draining) and not self._requested and now >= self._next_request:
            self._requested = True
            out.append(NeedCases(self._batch))

    def next_request_at(self, now: float, draining: bool) -> float:
        """When `request` would next ask for cases (inf when it has no reason to)."""
        if self.wanted(draining) and not self._requested:
            return max(now, self._next_request)
        return math.inf

    def pop(self) -> DialTarget:
        """The next target to dial; its ref stays queued until `release`."""
        return self._queue.popleft()

    def release(self, ref: str) -> None:
        """The case is done with here (its call ended, or it was deferred): suppliable again."""
        self._refs.discard(ref)

    @property
    def queued_refs(self) -> frozenset[str]:
        """Cases in the hopper or on a call: not to be supplied again."""
        return frozenset(self._refs)
