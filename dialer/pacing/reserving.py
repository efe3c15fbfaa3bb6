"""A rule-based pacer keeping a blended campaign's inbound reservation.

The predictive pacer plans its outbound answers around the collectors it keeps free for
inbound (dialer.pacing.blending). A manager may switch a blended campaign to preview,
progressive, ratio or adaptive pacing; the return calls keep coming, so the reservation
stays: :class:`ReservingPacer` hands the rule-based pacer the ready collectors less those
held for inbound (kept free, or owed to callers already queued), keeps the reservation
learning from the callers' outcomes, and hands it back unchanged when the campaign goes
back to predictive (``inbound``). No outbound talk model here: the busy collectors expected
to come free are not counted (the credit the reservation learns covers them).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from dialer.pacing.base import EngineView, Pacer, PacingDecision, PacingInputs
from dialer.pacing.blending import InboundReservation

__all__ = ["ReservingPacer"]


class ReservingPacer(Pacer):
    """``pacer`` deciding on the ready collectors ``inbound`` does not hold."""

    def __init__(self, pacer: Pacer, inbound: InboundReservation) -> None:
        self.pacer = pacer
        self.inbound = inbound
        self.name = pacer.name
        self.periodic = pacer.periodic

    def __getattr__(self, name: str) -> Any:
        # The web pages read the inner pacer's settings (ratio, abandon_cap) through here.
        pacer = self.__dict__.get("pacer")
        if pacer is None:  # not built yet (copy, pickle)
            raise AttributeError(name)
        return getattr(pacer, name)

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        reservation = self.inbound.reserve(inputs, 0.0)
        free = max(0, inputs.ready - reservation.held)
        decision = self.pacer.decide(dataclasses.replace(inputs, ready=free), view, rng)
        decision.reason = f"{decision.reason} (of {free} ready: {reservation.words()})"
        decision.detail = {**decision.detail, "inbound": reservation.detail}
        return decision

    def observe_launch(self, count: int, now: float) -> None:
        self.pacer.observe_launch(count, now)

    def observe_dial_resolved(self, delay: float, live_answer: bool, now: float) -> None:
        self.pacer.observe_dial_resolved(delay, live_answer, now)

    def observe_talk(self, seconds: float, now: float) -> None:
        self.pacer.observe_talk(seconds, now)

    def observe_wrap(self, seconds: float, now: float) -> None:
        self.pacer.observe_wrap(seconds, now)

    def observe_abandon(self, now: float) -> None:
        self.pacer.observe_abandon(now)

    def observe_machine(self, now: float) -> None:
        self.pacer.observe_machine(now)

    def observe_inbound_arrival(self, now: float) -> None:
        self.inbound.observe_arrival(now)

    def observe_inbound_handled(self, seconds: float, now: float) -> None:
        self.inbound.observe_handled(seconds, now)

    def observe_inbound_wait(self, seconds: float, answered: bool, now: float) -> None:
        self.inbound.observe_wait(seconds, answered, now)

    def configure(self, **params: Any) -> None:
        self.pacer.configure(**params)
