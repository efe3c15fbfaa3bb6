"""What drives an engine, as the parts that watch it see it.

The daemon's campaign runner (dialer.daemon.runner) feeds one engine its events and
carries out its commands. Orchestration and the web watch each step and push events of
their own (a collector logs in, a reassignment); they need only this much of the runner,
so they depend on this protocol, not on the daemon that builds the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from dialer.domain.commands import Command
from dialer.domain.events import Event

if TYPE_CHECKING:  # annotations only: the engine package imports this module first
    from dialer.engine.core import Engine


class RunningCampaign(Protocol):
    """One campaign's engine in a running loop."""

    # Called after every engine step; observers append themselves.
    step_observers: list[StepObserver]

    @property
    def name(self) -> str: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def campaign_id(self) -> int:
        """The campaign's row in the store."""
        ...

    def push(self, event: Event) -> None:
        """Queue an event for the engine; never blocks."""


# Called after every engine step with the runner, the event (None for a tick) and the
# commands the engine returned.
StepObserver = Callable[[RunningCampaign, Event | None, list[Command]], None]
