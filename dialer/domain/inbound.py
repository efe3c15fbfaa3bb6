"""An inbound return call: a debtor (or an unknown caller) calling one of our numbers.

arrived -> routed to a collector -> bridged -> ended(answered)
arrived -> queued -> bridged -> ended(answered)
arrived | queued -> ended(abandoned)          (the caller hung up before a collector)
queued -> offered -> ended(callback_requested | voicemail_left | unanswered)

Not a call the dialer placed: it counts toward no outbound attempt cap and is never an
abandon in the outbound ledger; a conversation on it is a conversation (compliance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class InboundState(StrEnum):
    ARRIVED = "arrived"
    QUEUED = "queued"
    OFFERED = "offered"  # the callback/voicemail offer is playing
    BRIDGED = "bridged"
    ENDED = "ended"


class InboundOutcome(StrEnum):
    ANSWERED = "answered"  # a collector took it
    ABANDONED = "abandoned"  # the caller hung up before a collector took it
    CALLBACK_REQUESTED = "callback_requested"
    VOICEMAIL_LEFT = "voicemail_left"
    UNANSWERED = "unanswered"  # the offer timed out with no choice, or the caller left


@dataclass(slots=True)
class InboundCall:
    """One inbound call. Times are engine seconds. `number` is clear in memory only."""

    call_id: str
    number: str
    case_ref: str | None
    other_case_refs: tuple[str, ...] = ()
    state: InboundState = InboundState.ARRIVED
    outcome: InboundOutcome | None = None
    arrived_at: float = 0.0
    queued_at: float | None = None
    offered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    collector_id: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def wait_seconds(self) -> float | None:
        """Arrival to a collector (or to the end when none took it); None while open."""
        end = self.bridged_at if self.bridged_at is not None else self.ended_at
        return None if end is None else end - self.arrived_at

    @property
    def talk_seconds(self) -> float:
        if self.bridged_at is None or self.ended_at is None:
            return 0.0
        return self.ended_at - self.bridged_at
