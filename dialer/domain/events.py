"""The events that drive the core: what the trunk, the collectors and the store report.

Every event is a small frozen dataclass; the engine dispatches on its type. Times are not
carried on the events: the engine receives `now` alongside each one.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.domain.calls import AmdVerdict, CallOutcome
from dialer.domain.model import DialTarget


@dataclass(frozen=True, slots=True)
class CallInviteSent:
    """The trunk sent the call's INVITE (it may pace INVITEs later than the engine's dial):
    the ring timeout and the stored ring time count from here."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallRinging:
    call_id: str


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The debtor's side answered. With answering-machine detection on, the trunk reports
    the answer once AMD has decided: `amd` is its verdict and `amd_seconds` the time from
    the 200 OK to the decision (None when AMD is off). `machine` is what routing acts on
    (True only for a `machine` verdict; `notsure` goes to a collector)."""

    call_id: str
    machine: bool = False
    amd: AmdVerdict | None = None
    amd_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class VoicemailLeft:
    """The trunk finished a `LeaveVoicemail`: `left` once the whole message played after
    the greeting ended; otherwise False with the reason (the far end hung up first, no
    greeting end was heard in time, the message could not be played)."""

    call_id: str
    left: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class InboundCallArrived:
    """A call came in on the trunk to one of our numbers (a campaign's caller ID or a
    configured inbound number). `number`: the caller's number, E.164-normalised, in the
    clear in memory only (never logged). `target`: the case the number identifies (the
    most recently contacted one when several match), None for an unknown caller;
    `other_case_refs`: the other matching cases, listed on the collector's screen."""

    call_id: str
    number: str
    target: DialTarget | None = None
    other_case_refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InboundCallerChose:
    """The caller's answer to an `OfferCallback`: "callback" (DTMF 1), "voicemail" (DTMF 2)
    or "none" (no valid key before the offer timed out)."""

    call_id: str
    choice: str


@dataclass(frozen=True, slots=True)
class CallFailed:
    """A call ended before a live answer: busy, no answer (incl. our CANCEL), failure."""

    call_id: str
    outcome: CallOutcome
    sip_code: int | None = None


@dataclass(frozen=True, slots=True)
class CallNotPlaced:
    """A call the engine launched never left: its attempt could not be recorded first (the
    store is down) or the trunk refused it before the network. Not an attempt: nothing
    reached the debtor, and the case may be supplied again."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallHungUp:
    """An answered call ended (either party hung up, or the trunk tore down a dead call).

    `silent_for`: the trunk ended it because no media came from the debtor for that many
    seconds (RTP inactivity, or an in-dialog keep-alive that went unanswered); the talk
    ended that long before the hang-up."""

    call_id: str
    sip_code: int | None = None
    silent_for: float | None = None


@dataclass(frozen=True, slots=True)
class CollectorLoggedIn:
    collector_id: str
    team: str | None = None
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CollectorReady:
    """Collector is ready to take calls (after login, a pause, or wrap-up)."""

    collector_id: str


@dataclass(frozen=True, slots=True)
class CollectorPaused:
    """`after_call`: a collector on a call (or reserved for one) is paused when that call
    ends instead of being refused (a manager's pause); a free one at once."""

    collector_id: str
    reason: str
    after_call: bool = False


@dataclass(frozen=True, slots=True)
class CollectorLoggedOut:
    """`after_call`: as for `CollectorPaused`, a collector with a call in hand leaves when
    it ends (no wrap-up) instead of being refused."""

    collector_id: str
    after_call: bool = False


@dataclass(frozen=True, slots=True)
class CollectorSeen:
    """The collector's console is there (a web heartbeat): they count as present for
    `for_seconds` more. A collector once seen and not seen again in time is absent: paused
    `disconnected` and never routed a call (dialer.engine.presence). Collectors never seen
    (simulated ones) are not watched."""

    collector_id: str
    for_seconds: float


@dataclass(frozen=True, slots=True)
class CasesSupplied:
    """The store hands the hopper more callable cases (already compliance-filtered)."""

    targets: tuple[DialTarget, ...]


@dataclass(frozen=True, slots=True)
class DrainRequested:
    """Stop placing new calls; live calls finish."""


Event = (
    CallInviteSent
    | CallRinging
    | CallAnswered
    | VoicemailLeft
    | InboundCallArrived
    | InboundCallerChose
    | CallFailed
    | CallHungUp
    | CallNotPlaced
    | CollectorLoggedIn
    | CollectorReady
    | CollectorPaused
    | CollectorLoggedOut
    | CollectorSeen
    | CasesSupplied
    | DrainRequested
)
