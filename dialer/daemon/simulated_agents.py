"""Simulated collectors for the demo and tests: they log in, go ready, and after each call
wrap up for a drawn time, sometimes pausing before they are ready again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dialer.clock import Clock
from dialer.domain.events import CollectorLoggedIn, CollectorPaused, CollectorReady, Event
from dialer.telephony.simulated_model import AgentModel


class SimulatedCollectors:
    def __init__(
        self,
        model: AgentModel,
        clock: Clock,
        ids: list[str],
        team: str | None,
        skills: frozenset[str] = frozenset(),
    ) -> None:
        self._model = model
        self._skills = skills
        self._clock = clock
        self.ids = ids
        self._team = team
        self._push: Callable[[Event], None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def start(self, push: Callable[[Event], None]) -> None:
        self._push = push
        for collector_id in self.ids:
            push(CollectorLoggedIn(collector_id, self._team, self._skills))

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._push = None

    def on_wrap_up(self, collector_id: str) -> None:
        """A call of this collector ended: wrap up, maybe pause, then be ready again."""
        if collector_id not in self.ids:
            return
        wrap = self._model.wrap.next()
        if self._model.wants_pause():
            self._later(collector_id, wrap, CollectorPaused(collector_id, "break"))
            pause = self._model.pause.next()
            self._later(collector_id, wrap + pause, CollectorReady(collector_id), key="ready")
        else:
            self._later(collector_id, wrap, CollectorReady(collector_id))

    def _later(self, collector_id: str, after: float, event: Event, key: str = "") -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self._clock.real_seconds(after), self._fire, event)
        self._timers[collector_id + key] = handle

    def _fire(self, event: Event) -> None:
        if self._push is not None:
            self._push(event)
