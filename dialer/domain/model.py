"""Cases, numbers, contact history and campaigns as plain immutable dataclasses.

These are the shapes the core (engine, pacing, routing, compliance) works on. The store
maps its rows onto them; nothing here knows about persistence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class NumberType(StrEnum):
    DEBTOR = "debtor"
    WORK = "work"
    THIRD_PARTY = "third_party"
    THIRD_PARTY_REFUSED = "third_party_refused"


class CaseFlag(StrEnum):
    DO_NOT_CALL = "do_not_call"
    CEASE_COMMUNICATION = "cease_communication"
    DISPUTED = "disputed"
    DEBTOR_UNREACHABLE = "debtor_unreachable"


class CaseStatus(StrEnum):
    OPEN = "open"
    PROMISED = "promised"
    PAID = "paid"
    CLOSED = "closed"


class Bucket(StrEnum):
    """Delinquency bucket by days past due (M1 = 1-30, M2 = 31-60, ...)."""

    CURRENT = "M0"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M4 = "M4"
    M5 = "M5"
    M6 = "M6"
    WRITTEN_OFF = "WO"

    @classmethod
    def for_days_past_due(cls, dpd: int) -> Bucket:
        if dpd <= 0:
            return cls.CURRENT
        if dpd > 180:
            return cls.WRITTEN_OFF
        return cls(f"M{(dpd - 1) // 30 + 1}")


class ContactOutcome(StrEnum):
    """What one attempt produced, as compliance rules see it."""

    CONVERSATION = "conversation"  # right-party contact: we talked with the debtor
    ANSWERED = "answered"  # live answer, but no conversation with the debtor
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"
    # Dialed, then the daemon died (or lost its store) before the call's end was recorded:
    # it may have been answered, talked or abandoned. Rules read it as the most restrictive
    # of those (see `counts_as_conversation`, `counts_as_abandon`, `counts_as_unanswered`).
    INTERRUPTED = "interrupted"
    # Answered, then the media stopped (a dead phone or line) before any audio of the
    # debtor's reached a collector: no conversation took place. A call that went dead after
    # the debtor's audio had flowed in the bridge is stored as the conversation it was.
    MEDIA_LOST = "media_lost"
    # The carrier side failed (unreachable, credentials refused, every call refused or
    # unanswered by the trunk itself): the call never reached the debtor's network. It is
    # kept for the record and counts toward no cap (see `reached_network`).
    TRUNK_FAILED = "trunk_failed"
    # A machine answered and our limited-content message (Reg F 1006.2(j)) played on it in
    # full: a call attempt (Reg F counts it toward 7-in-7), never a conversation.
    MACHINE_MESSAGE_LEFT = "machine_message_left"
    # The debtor called us back and talked with a collector (an inbound call): a
    # conversation for the lockouts and conversation caps, never a call placed, so no
    # attempt cap counts it (Reg F 1006.14(b)(2)(i) counts calls the collector places).

    @property
    def is_unanswered(self) -> bool:
        return self in _UNANSWERED

    @property
    def counts_as_conversation(self) -> bool:
        """For the post-conversation lockout and conversation caps."""
        return self in (
            ContactOutcome.CONVERSATION,
            ContactOutcome.INTERRUPTED,
        )

    @property
    def reached_network(self) -> bool:
        """Whether the attempt is a call placed, for every cap and count: a trunk failure
        never left the carrier, so no rule may count it (Reg F counts calls placed)."""
        return self is not ContactOutcome.TRUNK_FAILED

    @property
    def counts_as_abandon(self) -> bool:
        """For the lockout after an abandoned call."""
        return self is ContactOutcome.ABANDONED or self is ContactOutcome.INTERRUPTED


_UNANSWERED = frozenset(
    {
        ContactOutcome.NO_ANSWER,
        ContactOutcome.BUSY,
        ContactOutcome.FAILED,
        ContactOutcome.MACHINE,
        ContactOutcome.MACHINE_MESSAGE_LEFT,  # a message on a machine: nobody answered
    }
)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    type: NumberType = NumberType.DEBTOR
    consent: bool = True  # consent to automated (dialer-placed) calls
    dnc: bool = False  # on a do-not-call list


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One past attempt on a case, as the compliance rules need it (`at` is timezone-aware).

    `inbound`: a call the debtor placed to us (a conversation on a return call), not an
    attempt of ours: the conversation rules count it, the attempt caps and the abandon
    lockout never do (Reg F 1006.14(b)(2) counts the calls the collector places)."""

    at: datetime
    number: str
    outcome: ContactOutcome
    inbound: bool = False


@dataclass(frozen=True, slots=True)
class Case:
    """A debt being collected, reduced to what the core decides on."""

    ref: str
    numbers: tuple[PhoneNumber, ...]
    timezone: str | None = None
    flags: frozenset[str] = frozenset()
    owner: str | None = None
    team: str | None = None
    skills: frozenset[str] = frozenset()  # skills a collector needs (language, bucket)
    balance: Decimal = Decimal(0)
    days_past_due: int = 0
    priority: float = 0.0

    def number(self, e164: str) -> PhoneNumber | None:
        for number in self.numbers:
            if number.e164 == e164:
                return number
        return None


@dataclass(frozen=True, slots=True)
class DialTarget:
    """A hopper entry: a case, the number to dial, and the case's recent contact history."""

    case: Case
    number: str
    history: tuple[ContactRecord, ...] = field(default_factory=tuple)
