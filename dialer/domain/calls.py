"""The call state machine.

queued -> dialing -> ringing -> answered -> bridged -> ended(completed)
                                answered -> abandoned -> ended(abandoned)
dialing | ringing -> ended(busy | no_answer | failed | trunk_failed)
answered | bridged -> ended(media_lost)   (the trunk saw the media stop: a dead call)
dialing | ringing | answered -> ended(machine)   (answering machine detected)
dialing | ringing -> voicemail -> ended(machine_message_left | machine)   (a voicemail drop)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.domain.errors import IllegalCallTransition


class CallState(StrEnum):
    QUEUED = "queued"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ABANDONED = "abandoned"
    # A machine answered and the campaign is leaving its message: the line is held, no
    # collector is (not "in flight" for pacing, never routed).
    VOICEMAIL = "voicemail"
    ENDED = "ended"


class CallOutcome(StrEnum):
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"
    COMPLETED = "completed"  # a live answer that reached a collector, or hung up waiting
    ABANDONED = "abandoned"  # a live answer no collector took within the connect grace
    MEDIA_LOST = "media_lost"  # answered, then torn down because its media stopped
    TRUNK_FAILED = "trunk_failed"  # the carrier side failed: it never reached the debtor
    # A machine answered and the campaign's whole limited-content message played on it.
    MACHINE_MESSAGE_LEFT = "machine_message_left"


class AmdVerdict(StrEnum):
    """What answering-machine detection concluded about an answered call (dialer.media)."""

    HUMAN = "human"
    MACHINE = "machine"
    NOTSURE = "notsure"  # goes to a collector, as a human would


# States in which the call holds a line at the carrier ("in flight" for pacing).
IN_FLIGHT = frozenset({CallState.DIALING, CallState.RINGING, CallState.ANSWERED})
_PRE_ANSWER = frozenset({CallState.DIALING, CallState.RINGING})
# A machine's answer, whatever became of the message: never a live answer.
MACHINE_OUTCOMES = frozenset({CallOutcome.MACHINE, CallOutcome.MACHINE_MESSAGE_LEFT})
_FAILURE_OUTCOMES = frozenset(
    {CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED, CallOutcome.TRUNK_FAILED}
)


@dataclass(slots=True)
class Call:
    """One outbound attempt. Times are engine seconds (the `now` passed to the engine)."""

    call_id: str
    case_ref: str
    number: str
    state: CallState = CallState.QUEUED
    outcome: CallOutcome | None = None
    created_at: float = 0.0
    dialed_at: float | None = None
    # When the INVITE actually left (a trunk pacing calls per second sends it later than
    # the dial): ring time and the ring timeout count from here. None until the trunk says.
    invite_at: float | None = None
    ring_deadline: float = float("inf")
    ringing_at: float | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    collector_id: str | None = None
    sip_code: int | None = None
    cancel_requested: bool = False
    # When the debtor's media stopped, for a call torn down as dead (`end(media_lost_at=)`):
    # its talk ends there, not at the teardown some seconds of dead air later.
    media_lost_at: float | None = None
    # Answering-machine detection's verdict and its time from the 200 OK to the decision
    # (None: AMD off), as the trunk reported them on `CallAnswered`.
    amd: AmdVerdict | None = None
    amd_seconds: float | None = None

    def _move(self, allowed: frozenset[CallState], target: CallState, action: str) -> None:
        if self.state not in allowed:
            raise IllegalCallTransition(self.call_id, self.state, action)
        self.state = target

    def dial(self, now: float) -> None:
        self._move(frozenset({CallState.QUEUED}), CallState.DIALING, "dial")
        self.dialed_at = now

    def ring(self, now: float) -> None:
        self._move(frozenset({CallState.DIALING}), CallState.RINGING, "ring")
        self.ringing_at = now

    def answer(self, now: float) -> None:
        self._move(_PRE_ANSWER, CallState.ANSWERED, "answer")
        self.answered_at = now

    def leave_voicemail(self, now: float) -> None:
        """A machine answered and the campaign drops a message on it (`LeaveVoicemail`)."""
        self._move(_PRE_ANSWER, CallState.VOICEMAIL, "leave a voicemail")
        self.answered_at = now

    def voicemail_ended(self, left: bool, now: float) -> None:
        """The drop is over: `machine_message_left` once the whole message played, else
        (the machine hung up first, no greeting end heard) a plain `machine`."""
        self._move(frozenset({CallState.VOICEMAIL}), CallState.ENDED, "end the voicemail")
        self.outcome = CallOutcome.MACHINE_MESSAGE_LEFT if left else CallOutcome.MACHINE
        self.ended_at = now

    def bridge(self, collector_id: str, now: float) -> None:
        self._move(frozenset({CallState.ANSWERED}), CallState.BRIDGED, "bridge")
        self.collector_id = collector_id
        self.bridged_at = now

    def abandon(self, now: float) -> None:
        self._move(frozenset({CallState.ANSWERED}), CallState.ABANDONED, "abandon")

    def fail(self, outcome: CallOutcome, now: float, sip_code: int | None = None) -> None:
        """A pre-answer end (busy / no answer / failure) or a machine answer."""
        allowed = (
            _PRE_ANSWER | {CallState.ANSWERED} if outcome is CallOutcome.MACHINE else _PRE_ANSWER
        )
        if outcome not in _FAILURE_OUTCOMES and outcome is not CallOutcome.MACHINE:
            raise IllegalCallTransition(self.call_id, self.state, f"fail with {outcome}")
        self._move(allowed, CallState.ENDED, f"end as {outcome}")
        self.outcome = outcome
        self.ended_at = now
        self.sip_code = sip_code

    def end(
        self, now: float, sip_code: int | None = None, *, media_lost_at: float | None = None
    ) -> None:
        """An answered call's end: completed after a bridge (or a hang-up while waiting),
        abandoned after the safe-harbor message, media_lost when the trunk tore it down
        because the debtor's media stopped at `media_lost_at` (the talk ends there)."""
        if self.state is CallState.ABANDONED:
            outcome = CallOutcome.ABANDONED
        elif self.state in (CallState.BRIDGED, CallState.ANSWERED):
            outcome = CallOutcome.COMPLETED if media_lost_at is None else CallOutcome.MEDIA_LOST
        else:
            raise IllegalCallTransition(self.call_id, self.state, "end")
        self.state = CallState.ENDED
        self.outcome = outcome
        if media_lost_at is not None:
            self.media_lost_at = min(max(media_lost_at, self.answered_at or now), now)
        self.ended_at = now
        if sip_code is not None:
            self.sip_code = sip_code

    @property
    def rang_from(self) -> float | None:
        """Where ring time starts: the INVITE if the trunk reported it, else the dial."""
        return self.invite_at if self.invite_at is not None else self.dialed_at

    @property
    def talk_seconds(self) -> float:
        """Time bridged to a collector with the debtor's media flowing (0 if never bridged)."""
        if self.bridged_at is None or self.ended_at is None:
            return 0.0
        end = self.media_lost_at if self.media_lost_at is not None else self.ended_at
        return max(0.0, end - self.bridged_at)

    @property
    def is_live_answer(self) -> bool:
        return self.answered_at is not None and self.outcome not in MACHINE_OUTCOMES
