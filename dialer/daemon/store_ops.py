"""The operations the campaign runners hand the store writer (dialer.daemon.store_writer),
and their plain form for the spool file a shutdown with the store down leaves."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dialer.domain.calls import Call
from dialer.domain.model import ContactOutcome
from dialer.engine import contact_outcome


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    call_id: str
    case_id: int
    campaign_id: int
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class AttemptAnswered:
    call_id: str
    at: float


@dataclass(frozen=True, slots=True)
class AttemptBridged:
    call_id: str
    at: float
    collector_id: int | None = None  # the collector's row id


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    call_id: str
    case_id: int
    campaign_id: int
    outcome: ContactOutcome
    ended_at: float
    live_answer: bool
    sip_code: int | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    collector_id: int | None = None  # the collector's row id, when bridged
    rang_from: float | None = None  # the INVITE (or the dial): ring time starts here
    talk_seconds: float | None = None  # bridged: up to the hang-up, or to the media's loss
    amd: str | None = None  # answering-machine detection's verdict (None: AMD off)
    amd_seconds: float | None = None

    @classmethod
    def of(
        cls, call: Call, case_id: int, campaign_id: int, collector_id: int | None = None
    ) -> AttemptEnded:
        assert call.ended_at is not None
        return cls(
            call.call_id,
            case_id,
            campaign_id,
            contact_outcome(call),
            call.ended_at,
            call.is_live_answer,
            call.sip_code,
            call.answered_at,
            call.bridged_at,
            collector_id,
            call.rang_from,
            call.talk_seconds if call.bridged_at is not None else None,
            None if call.amd is None else call.amd.value,
            call.amd_seconds,
        )


@dataclass(frozen=True, slots=True)
class CaseDeferredOp:
    case_id: int
    not_before: float | None


Operation = AttemptStarted | AttemptAnswered | AttemptBridged | AttemptEnded | CaseDeferredOp
KINDS: dict[str, type[Operation]] = {
    k.__name__: k
    for k in (AttemptStarted, AttemptAnswered, AttemptBridged, AttemptEnded, CaseDeferredOp)
}


def ring_seconds(op: AttemptEnded) -> float | None:
    """From the INVITE that left to the answer (or the end): what the TSR's minimum ring
    time is about."""
    if op.rang_from is None:
        return None
    return max(0.0, (op.answered_at if op.answered_at is not None else op.ended_at) - op.rang_from)


def to_plain(op: Operation) -> dict[str, object]:
    values = asdict(op)
    if isinstance(op, AttemptEnded):
        values["outcome"] = op.outcome.value
    return values


def from_plain(values: dict[str, object]) -> Operation:
    kind = KINDS[str(values.pop("kind"))]
    if kind is AttemptEnded:
        values["outcome"] = ContactOutcome(str(values["outcome"]))
    return kind(**values)  # type: ignore[arg-type]
