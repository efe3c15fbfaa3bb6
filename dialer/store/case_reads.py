"""What a refill reads of the cases it leased: their numbers and their recent attempts
(compliance's input), a batch of cases at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.model import ContactRecord, NumberType, PhoneNumber
from dialer.store.attempts_repo import contact_outcome
from dialer.store.batches import among, chunks
from dialer.store.inbound_repo import inbound_contacts, merged
from dialer.store.tables import CallAttempt, CaseNumber


async def numbers_of(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[PhoneNumber, ...]]:
    """Each case's numbers, in their order."""
    found: dict[int, list[PhoneNumber]] = {}
    for chunk in chunks(list(ids)):
        rows = await session.execute(
            select(
                CaseNumber.case_id,
                CaseNumber.e164,
                CaseNumber.type,
                CaseNumber.consent,
                CaseNumber.dnc,
            )
            .where(among(CaseNumber.case_id, chunk, session))
            .order_by(CaseNumber.case_id, CaseNumber.position)
        )
        for case_id, e164, kind, consent, dnc in rows.tuples():
            found.setdefault(case_id, []).append(PhoneNumber(e164, NumberType(kind), consent, dnc))
    return {case_id: tuple(numbers) for case_id, numbers in found.items()}


async def history_of(
    session: AsyncSession, ids: Sequence[int], since: datetime
) -> dict[int, tuple[ContactRecord, ...]]:
    """Attempts dialed at or after `since` and inbound conversations since then, per case,
    oldest first (compliance's input)."""
    found: dict[int, list[ContactRecord]] = {}
    for chunk in chunks(list(ids)):
        rows = await session.execute(
            select(
                CallAttempt.case_id,
                CallAttempt.dialed_at,
                CallAttempt.number_e164,
                CallAttempt.outcome,
            )
            .where(among(CallAttempt.case_id, chunk, session), CallAttempt.dialed_at >= since)
            .order_by(CallAttempt.case_id, CallAttempt.dialed_at, CallAttempt.id)
        )
        for case_id, at, number, outcome in rows.tuples():
            record = ContactRecord(at, number, contact_outcome(outcome))
            found.setdefault(case_id, []).append(record)
    return merged(found, await inbound_contacts(session, ids, since))
