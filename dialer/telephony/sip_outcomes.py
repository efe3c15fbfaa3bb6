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


def carrier_failure(code: int, *, local: bool, heard: bool, ringing: bool) -> str | None:
    """Why a call that ended before an answer failed at the carrier, or None when the far
    end's network answered it (busy, 404, 480, a ring timeout: the debtor's outcomes).

    Nothing after ringing is the carrier's fault. Before it: an INVITE that drew no
    response at all, credentials the carrier refused (a 401/407 reaches us only once our
    answer to the challenge was refused), a 403, or a server error."""
    if ringing:
        return None
    if local:
        return "no_response" if code == 408 and not heard else None
    if code in (401, 407):
        return "credentials_refused"
    if code == 403:
        return "forbidden"
    if code in (500, 502, 503, 504):
        return "unavailable"
    return None


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
