"""What happens to a simulated dial, and what simulated collectors do: the models shared by
the in-process carrier (daemon, real time) and the simulator (virtual time)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from dialer.domain.calls import CallOutcome
from dialer.pacing.distributions import Distribution
from dialer.pacing.samples import SampleBuffer


class Fate(StrEnum):
    LIVE = "live"
    MACHINE = "machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"

    @property
    def failure_outcome(self) -> CallOutcome:
        return _FAILURE[self]


_FAILURE = {
    Fate.BUSY: CallOutcome.BUSY,
    Fate.NO_ANSWER: CallOutcome.NO_ANSWER,
    Fate.FAILED: CallOutcome.FAILED,
    Fate.MACHINE: CallOutcome.MACHINE,
}
SIP_CODE = {Fate.BUSY: 486, Fate.NO_ANSWER: 480, Fate.FAILED: 503}


class CarrierModel:
    """Draws each dial's fate: with probability p a live answer after `answer_delay`, else a
    non-live end after `failure_delay` (machine, busy, no answer or network failure)."""

    def __init__(
        self,
        rng: np.random.Generator,
        answer_delay: Distribution,
        failure_delay: Distribution,
        machine_share: float = 0.0,
        busy_share: float = 0.3,
        failed_share: float = 0.05,
    ) -> None:
        if machine_share + busy_share + failed_share > 1.0 + 1e-9:
            raise ValueError("machine, busy and failed shares must add up to at most 1")
        self._rng = rng
        self._answer = SampleBuffer(answer_delay, rng)
        self._failure = SampleBuffer(failure_delay, rng)
        self._cuts = np.cumsum([machine_share, busy_share, failed_share])

    def draw(self, answer_probability: float) -> tuple[Fate, float]:
        """(fate, seconds from dial to the answer or the failure)."""
        u = self._rng.random()
        if u < answer_probability:
            return Fate.LIVE, self._answer.next()
        v = self._rng.random()
        cuts = self._cuts
        if v < cuts[0]:
            fate = Fate.MACHINE
        elif v < cuts[1]:
            fate = Fate.BUSY
        elif v < cuts[2]:
            fate = Fate.FAILED
        else:
            fate = Fate.NO_ANSWER
        return fate, self._failure.next()


@dataclass(slots=True)
class AgentModel:
    """Simulated collectors: how long they talk and wrap up, and how often they pause."""

    talk: SampleBuffer
    wrap: SampleBuffer
    pause_probability: float
    pause: SampleBuffer
    rng: np.random.Generator

    @classmethod
    def build(
        cls,
        rng: np.random.Generator,
        talk: Distribution,
        wrap: Distribution,
        pause_probability: float,
        pause: Distribution,
    ) -> AgentModel:
        return cls(
            SampleBuffer(talk, rng),
            SampleBuffer(wrap, rng),
            pause_probability,
            SampleBuffer(pause, rng),
            rng,
        )

    def wants_pause(self) -> bool:
        return self.pause_probability > 0 and self.rng.random() < self.pause_probability
