"""What the engine asks the outside world to do. The daemon or the simulator executes them."""

from __future__ import annotations

from dataclasses import dataclass

from dialer.domain.calls import Call
from dialer.domain.inbound import InboundCall


@dataclass(frozen=True, slots=True)
class Originate:
    call_id: str
    case_ref: str
    number: str
    ring_timeout: float


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel a call that has not been answered (ring timeout, drain)."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Bridge:
    call_id: str
    collector_id: str
    answer_to_bridge: float = 0.0  # seconds the debtor waited after answering


@dataclass(frozen=True, slots=True)
class PlaySafeHarbor:
    """Play the safe-harbor message to an answered call nobody took, then hang up."""

    call_id: str


@dataclass(frozen=True, slots=True)
class Hangup:
    call_id: str


@dataclass(frozen=True, slots=True)
class LeaveVoicemail:
    """An answering machine answered and the campaign drops a message: wait for the
    greeting's end (silence after speech, or the beep), play the campaign's
    limited-content message, hang up, and report `VoicemailLeft`."""

    call_id: str


@dataclass(frozen=True, slots=True)
class QueueInbound:
    """An inbound call no collector can take yet: answer it and play the queue message,
    then hold audio, until a `Bridge` (a collector took it; `Bridge` also answers an
    inbound call not yet answered), an `OfferCallback` or a `Hangup`."""

    call_id: str


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """An inbound call waited its longest: play the offer (1 for a callback, 2 to leave a
    voicemail), collect the caller's key, report `InboundCallerChose`. After "voicemail"
    the trunk records the caller's message and hangs up when they do."""

    call_id: str


@dataclass(frozen=True, slots=True)
class InboundFinished:
    """An inbound call reached its end: the record to persist (a finished snapshot)."""

    call: InboundCall


@dataclass(frozen=True, slots=True)
class AttemptFinished:
    """A call reached its end: the record to persist (the Call is a finished snapshot)."""

    call: Call
    case_ref: str


@dataclass(frozen=True, slots=True)
class CaseDeferred:
    """A hopper case was dropped at dial time; do not offer it again before `not_before`
    (POSIX seconds, None = not automatically)."""

    case_ref: str
    reasons: tuple[str, ...]
    not_before: float | None


@dataclass(frozen=True, slots=True)
class PresenceLost:
    """A watched collector was not seen within their presence timeout: the engine paused
    them `disconnected`, or will when the call in hand (`call_id`) ends; `call_ended`: the
    engine ended that call (no phone leg carries it). For the logs and metrics."""

    collector_id: str
    call_id: str | None = None
    call_ended: bool = False


@dataclass(frozen=True, slots=True)
class NeedCases:
    """The hopper is running low: supply up to `count` more callable cases."""

    count: int


Command = (
    Originate
    | Cancel
    | Bridge
    | PlaySafeHarbor
    | Hangup
    | LeaveVoicemail
    | QueueInbound
    | OfferCallback
    | InboundFinished
    | AttemptFinished
    | CaseDeferred
    | PresenceLost
    | NeedCases
)
