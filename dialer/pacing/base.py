"""The pacer interface: how many calls to launch now, from a snapshot of the campaign.

A pacer is a pure decision rule with optional learning: the engine calls `decide` on every
event and tick, and feeds what it observes (answers, failures, talk and wrap times, abandons)
through the `observe_*` hooks. Randomness comes in as a `numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(slots=True)
class PacingInputs:
    """Counts the engine keeps up to date; cheap to pass on every event."""

    now: float
    logged_in: int  # collectors logged in (any state but logged out)
    ready: int  # idle and able to take a call now
    reserved: int  # held for a call dialed on their behalf (preview / manual)
    on_call: int
    wrap_up: int
    paused: int
    dialing: int  # originated, no progress yet
    ringing: int
    waiting: int  # answered live, waiting for a collector
    max_in_flight: int  # hard cap: max lines per collector x available collectors
    draining: bool = False
    connect_grace: float = 2.0  # seconds an answered call may wait for a collector
    # Inbound (blended campaigns): callers queued for a collector, and collectors talking
    # on an inbound call (counted in on_call too). Only a blended pacer reads them.
    inbound_queued: int = 0
    inbound_on_call: int = 0

    @property
    def in_flight(self) -> int:
        return self.dialing + self.ringing + self.waiting

    @property
    def available(self) -> int:
        """Collectors who are not paused: the people calls can eventually reach."""
        return self.ready + self.reserved + self.on_call + self.wrap_up


class EngineView(Protocol):
    """Detail a model-based pacer may ask for; computed only when asked."""

    def busy_elapsed(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(elapsed seconds in the current talk or wrap-up, True where in wrap-up)."""
        ...

    def ringing_elapsed(self, now: float) -> np.ndarray:
        """Seconds since dial for every call not yet answered."""
        ...


@dataclass(slots=True)
class PacingDecision:
    launch: int
    reason: str
    reserve_collector: bool = False  # preview/manual: each call is dialed for one collector
    detail: dict[str, Any] = field(default_factory=dict)


class Pacer:
    """Base class: the observation hooks default to no-ops."""

    name: str = "pacer"
    periodic: bool = False  # wants `decide` on a regular tick even without events

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        raise NotImplementedError

    def observe_launch(self, count: int, now: float) -> None:
        """`count` calls were just originated on this pacer's decision."""

    def observe_dial_resolved(self, delay: float, live_answer: bool, now: float) -> None:
        """A dial ended its ring phase after `delay` s: live answer or not."""

    def observe_talk(self, seconds: float, now: float) -> None:
        """A bridged call ended after `seconds` of talk."""

    def observe_wrap(self, seconds: float, now: float) -> None:
        """A collector finished wrap-up after `seconds`."""

    def observe_abandon(self, now: float) -> None:
        """A live answer was abandoned."""

    def observe_machine(self, now: float) -> None:
        """AMD called an answer a machine (a possible false positive: a person hung up on,
        which UK Ofcom counts as an abandoned call)."""

    def observe_inbound_arrival(self, now: float) -> None:
        """An inbound call arrived (never a dial, an answer or an abandon of ours)."""

    def observe_inbound_handled(self, seconds: float, now: float) -> None:
        """A collector finished an inbound call after `seconds` of talk."""

    def observe_inbound_wait(self, seconds: float, answered: bool, now: float) -> None:
        """An inbound caller was answered after `seconds` in the queue (or left, hung up
        or offered the callback, unanswered after them)."""

    def configure(self, **params: Any) -> None:
        """Change settings at run time (a manager's change); unknown keys raise ValueError."""
        if params:
            raise ValueError(f"{self.name} has no settings {sorted(params)}")
