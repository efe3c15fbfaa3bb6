"""What the SIP adapter reports beyond events: outcome mapping, counters, errors."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from dialer.domain.calls import CallOutcome


class SipTrunkError(RuntimeError):
    """A trunk operation that cannot be done (no such collector leg, trunk not started)."""


def classify(code: int, *, local: bool, cancelled: bool) -> CallOutcome:
    """The outcome of a call that ended before an answer, from its SIP final code."""
    if code in (486, 600):
        return CallOutcome.BUSY
    if cancelled and code in (487, 408):
        return CallOutcome.NO_ANSWER
    if code == 487 or (code in (480, 408) and not local):
        return CallOutcome.NO_ANSWER
    return CallOutcome.FAILED  # 3xx, other 4xx/5xx/6xx, and our own timer B (408)


@dataclass(slots=True)
class SipTrunkStats:
    invites_sent: int = 0
    invite_span_seconds: float = 0.0  # from the first INVITE to the latest
    answered: int = 0
    bridged: int = 0
    active_calls: int = 0
    collector_legs: int = 0
    recv_buffer_bytes: int = 0
    rtp_received: int = 0  # on the legs up now: RTP packets taken in, and sent out
    rtp_sent: int = 0
    answer_to_bridge: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
