"""Inbound calls in the store: who is calling (the blind index of the sealed numbers),
each finished call's record, the figures of the manager's page, and the conversations
on inbound calls that compliance must see.

An inbound call is not an attempt: it is never written to `call_attempts`, so no attempt
cap counts it; a bridged one is read back by the compliance history as a conversation
marked `inbound` (`ContactRecord.inbound`: the lockouts and conversation caps count it, the
attempt caps and the abandon lockout never do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.inbound import InboundOutcome
from dialer.domain.model import ContactOutcome, ContactRecord
from dialer.store.batches import among, chunks
from dialer.store.crypto import blind_index
from dialer.store.tables import CallAttempt, CaseNumber, CaseRow, InboundCallRow


@dataclass(frozen=True, slots=True)
class CallerMatch:
    """The cases a calling number belongs to in one campaign: `case_id` the one most
    recently contacted (None: an unknown caller), `others` the rest. As the engine names
    cases, `case_ref` and `other_refs` (the case ids as text)."""

    case_id: int | None
    others: tuple[int, ...] = ()

    @property
    def case_ref(self) -> str | None:
        return None if self.case_id is None else str(self.case_id)

    @property
    def other_refs(self) -> tuple[str, ...]:
        return tuple(str(case_id) for case_id in self.others)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One finished inbound call as stored (times aware UTC)."""

    call_id: str
    campaign_id: int
    number: str | None  # E.164, clear in memory; sealed at rest
    case_id: int | None
    other_case_refs: tuple[str, ...]
    collector_id: int | None
    arrived_at: datetime
    ended_at: datetime
    wait_seconds: float
    outcome: InboundOutcome
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    bridged_at: datetime | None = None
    talk_seconds: float = 0.0
    callback_at: datetime | None = None
    voicemail_path: str | None = None


@dataclass(frozen=True, slots=True)
class InboundFigures:
    """A campaign's inbound calls over a window: offered, answered (within the target),
    abandoned, and the waits of the answered ones."""

    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    waits: tuple[float, ...] = field(default_factory=tuple)

    @property
    def service_level(self) -> float | None:
        """Answered within the target over offered (None before the first call)."""
        return self.answered_in_target / self.offered if self.offered else None


class InboundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def identify(self, campaign_id: int, e164: str) -> CallerMatch:
        """The campaign's cases with this number, the most recently contacted first (an
        outbound attempt or an inbound conversation; never contacted: oldest case first)."""
        if not e164:
            return CallerMatch(None)
        last_dial = (
            select(func.max(CallAttempt.dialed_at))
            .where(CallAttempt.case_id == CaseRow.id)
            .scalar_subquery()
        )
        last_inbound = (
            select(func.max(InboundCallRow.bridged_at))
            .where(InboundCallRow.case_id == CaseRow.id)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(CaseRow.id, last_dial, last_inbound)
            .join(CaseNumber, CaseNumber.case_id == CaseRow.id)
            .where(CaseRow.campaign_id == campaign_id, CaseNumber.e164_index == blind_index(e164))
            .distinct()
        )
        found = list(rows.tuples())
        if not found:
            return CallerMatch(None)

        def recency(row: tuple[int, datetime | None, datetime | None]) -> tuple[float, int]:
            times = [t.timestamp() for t in row[1:] if t is not None]
            return (-max(times) if times else float("inf"), row[0])

        found.sort(key=recency)
        return CallerMatch(found[0][0], tuple(row[0] for row in found[1:]))

    async def record(self, call: InboundRecord) -> int:
        row = InboundCallRow(
            call_id=call.call_id,
            campaign_id=call.campaign_id,
            number_e164=call.number or None,
            number_index=blind_index(call.number) if call.number else None,
            case_id=call.case_id,
            other_case_refs=list(call.other_case_refs),
            collector_id=call.collector_id,
            arrived_at=call.arrived_at,
            queued_at=call.queued_at,
            offered_at=call.offered_at,
            bridged_at=call.bridged_at,
            ended_at=call.ended_at,
            wait_seconds=call.wait_seconds,
            talk_seconds=call.talk_seconds,
            outcome=InboundOutcome(call.outcome).value,
            callback_at=call.callback_at,
            voicemail_path=call.voicemail_path,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def set_callback(self, call_id: str, at: datetime) -> None:
        await self.session.execute(
            update(InboundCallRow).where(InboundCallRow.call_id == call_id).values(callback_at=at)
        )

    async def get(self, call_id: str) -> InboundRecord | None:
        row = await self.session.scalar(
            select(InboundCallRow).where(InboundCallRow.call_id == call_id)
        )
        if row is None:
            return None
        return InboundRecord(
            call_id=row.call_id,
            campaign_id=row.campaign_id,
            number=row.number_e164,
            case_id=row.case_id,
            other_case_refs=tuple(row.other_case_refs or ()),
            collector_id=row.collector_id,
            arrived_at=row.arrived_at,
            ended_at=row.ended_at,
            wait_seconds=row.wait_seconds,
            outcome=InboundOutcome(row.outcome),
            queued_at=row.queued_at,
            offered_at=row.offered_at,
            bridged_at=row.bridged_at,
            talk_seconds=row.talk_seconds,
            callback_at=row.callback_at,
            voicemail_path=row.voicemail_path,
        )

    async def figures(
        self, campaign_id: int, since: datetime, target_seconds: float
    ) -> InboundFigures:
        """The campaign's inbound calls that arrived at or after `since`."""
        rows = await self.session.execute(
            select(InboundCallRow.outcome, InboundCallRow.wait_seconds).where(
                InboundCallRow.campaign_id == campaign_id, InboundCallRow.arrived_at >= since
            )
        )
        offered = answered = in_target = abandoned = 0
        waits: list[float] = []
        for outcome, wait in rows.tuples():
            offered += 1
            if outcome == InboundOutcome.ANSWERED:
                answered += 1
                waits.append(wait)
                in_target += wait <= target_seconds
            elif outcome == InboundOutcome.ABANDONED:
                abandoned += 1
        return InboundFigures(offered, answered, in_target, abandoned, tuple(waits))


async def inbound_contacts(
    session: AsyncSession, case_ids: Sequence[int], since: datetime
) -> dict[int, list[ContactRecord]]:
    """Conversations on inbound calls (bridged at or after `since`), per case: compliance's
    view of them (a conversation, not a call placed)."""
    found: dict[int, list[ContactRecord]] = {}
    for chunk in chunks(list(case_ids)):
        rows = await session.execute(
            select(InboundCallRow.case_id, InboundCallRow.bridged_at, InboundCallRow.number_e164)
            .where(among(InboundCallRow.case_id, chunk, session))
            .where(InboundCallRow.bridged_at >= since)
        )
        for case_id, at, number in rows.tuples():
            if case_id is not None and at is not None:
                record = ContactRecord(at, number or "", ContactOutcome.CONVERSATION, inbound=True)
                found.setdefault(case_id, []).append(record)
    return found


def merged(
    attempts: Mapping[int, Iterable[ContactRecord]], inbound: Mapping[int, list[ContactRecord]]
) -> dict[int, tuple[ContactRecord, ...]]:
    """Attempts and inbound conversations per case, oldest first."""
    out: dict[int, tuple[ContactRecord, ...]] = {}
    for case_id in set(attempts) | set(inbound):
        records = [*attempts.get(case_id, ()), *inbound.get(case_id, [])]
        records.sort(key=lambda r: r.at)
        out[case_id] = tuple(records)
    return out
