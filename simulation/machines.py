"""Who answers a simulated call, and what answering-machine detection makes of it.

With a scenario's ``machines`` section, a call the carrier answers is a machine with the
scenario's share, else a person. Without AMD every answer is reported at once as a person
(what a trunk without AMD does): a machine reaches a collector, who listens to its greeting
and hangs up (``misrouted_talk``). With ``amd`` the answer is reported at AMD's decision:
a person after ``human_decision`` s, a machine after ``machine_decision`` s, each verdict
wrong with the scenario's error rates. A person called a machine is a false positive (hung
up on, or played the message: Ofcom counts it as an abandoned call); a machine called a
person reaches a collector as above. A machine that gets the drop holds the line (never a
collector) to the end of its greeting and then the message.

Randomness comes from its own generator, so a scenario without machines draws exactly
what it drew before this module existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dialer.domain.calls import AmdVerdict
from dialer.domain.events import CallAnswered
from dialer.pacing.samples import SampleBuffer
from simulation.scenario import Amd, Machines

__all__ = ["AnsweringWorld", "MachineStats"]


@dataclass(slots=True)
class MachineStats:
    """What really answered, and what AMD got wrong (the engine cannot know these)."""

    humans: int = 0
    machines: int = 0
    false_positives: int = 0  # people AMD called machines: hung up on or played the message
    misrouted: int = 0  # machines put through to a collector (AMD off or wrong)
    messages_left: int = 0


class AnsweringWorld:
    def __init__(self, machines: Machines, amd: Amd | None, rng: np.random.Generator) -> None:
        self.machines = machines
        self.amd = amd
        self._rng = rng
        self._greeting = SampleBuffer(machines.greeting, rng)
        self._misrouted_talk = SampleBuffer(machines.misrouted_talk, rng)
        self._human_decision = SampleBuffer(amd.human_decision, rng) if amd else None
        self._machine_decision = SampleBuffer(amd.machine_decision, rng) if amd else None
        self.stats = MachineStats()
        self._misrouted: set[str] = set()  # machines reported as people, not yet bridged
        self._greeting_left: dict[str, float] = {}  # machines: greeting left at the verdict

    def answer(self, call_id: str) -> tuple[float, CallAnswered]:
        """The call was just answered: (seconds until the trunk reports it, the report)."""
        rng = self._rng
        is_machine = rng.random() < self.machines.share
        if is_machine:
            self.stats.machines += 1
        else:
            self.stats.humans += 1
        if self.amd is None:
            if is_machine:
                self._misrouted.add(call_id)
            return 0.0, CallAnswered(call_id)
        if is_machine:
            assert self._machine_decision is not None
            decided = self._machine_decision.next()
            wrong = rng.random() < self.amd.false_negative
            if wrong:
                self._misrouted.add(call_id)
            else:
                self._greeting_left[call_id] = max(0.0, self._greeting.next() - decided)
        else:
            assert self._human_decision is not None
            decided = self._human_decision.next()
            wrong = rng.random() < self.amd.false_positive
            if wrong:
                self.stats.false_positives += 1
                self._greeting_left[call_id] = 0.0  # a person: the message plays at once
        verdict = AmdVerdict.HUMAN if is_machine == wrong else AmdVerdict.MACHINE
        machine = verdict is AmdVerdict.MACHINE
        return decided, CallAnswered(call_id, machine=machine, amd=verdict, amd_seconds=decided)

    def talk_on_bridge(self, call_id: str) -> float | None:
        """A collector was put through: their time on it when it is a machine (None: a
        person, who talks as the scenario's collectors do)."""
        if call_id not in self._misrouted:
            return None
        self._misrouted.discard(call_id)
        self.stats.misrouted += 1
        return self._misrouted_talk.next()

    def voicemail_seconds(self, call_id: str) -> float:
        """`LeaveVoicemail` at the verdict: seconds until the message has played (the rest
        of the greeting, then the message)."""
        self.stats.messages_left += 1
        return self._greeting_left.pop(call_id, 0.0) + self.machines.message_seconds

    def forget(self, call_id: str) -> None:
        """The call ended without a bridge or a drop (hung up on, abandoned, cancelled)."""
        self._misrouted.discard(call_id)
        self._greeting_left.pop(call_id, None)
