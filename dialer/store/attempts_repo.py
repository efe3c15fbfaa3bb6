"""Call attempts and the abandonment ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.model import ContactOutcome, ContactRecord
from dialer.store.inbound_repo import inbound_contacts, merged
from dialer.store.records import AttemptInfo
from dialer.store.tables import AbandonLedger, CallAttempt

_IN_CHUNK = 1000  # keeps IN lists under every backend's bound-parameter limit


def contact_outcome(outcome: str | None) -> ContactOutcome:
    """The compliance view of a stored outcome.

    An attempt still without an outcome is in flight, or its daemon died before it ended.
    A live daemon never offers a case it has in flight (the lease), so whoever reads such
    an attempt reads a dead daemon's call: it may have been answered and talked, so it
    counts as `INTERRUPTED`, which every rule reads as the most restrictive outcome.
    """
    return ContactOutcome.INTERRUPTED if outcome is None else ContactOutcome(outcome)


async def contact_history(
    session: AsyncSession, case_ids: Iterable[int], since: datetime
) -> dict[int, tuple[ContactRecord, ...]]:
    """Attempts dialed at or after `since`, and conversations on inbound calls since then
    (inbound_repo), per case, oldest first."""
    ids = list(case_ids)
    history: dict[int, list[ContactRecord]] = defaultdict(list)
    for start in range(0, len(ids), _IN_CHUNK):
        rows = await session.execute(
            select(
                CallAttempt.case_id,
                CallAttempt.dialed_at,
                CallAttempt.number_e164,
                CallAttempt.outcome,
            )
            .where(CallAttempt.case_id.in_(ids[start : start + _IN_CHUNK]))
            .where(CallAttempt.dialed_at >= since)
            .order_by(CallAttempt.case_id, CallAttempt.dialed_at, CallAttempt.id)
        )
        for case_id, dialed_at, number, outcome in rows.tuples():
            history[case_id].append(ContactRecord(dialed_at, number, contact_outcome(outcome)))
    return merged(history, await inbound_contacts(session, ids, since))


class AttemptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def start(
        self,
        call_id: str,
        case_id: int,
        campaign_id: int,
        number: str,
        dialed_at: datetime,
        collector_id: int | None = None,
    ) -> int:
        """Record a dial as it is launched (outcome null until `finish`); returns its id."""
        attempt_id = await self.session.scalar(
            insert(CallAttempt)
            .values(
                call_id=call_id,
                case_id=case_id,
                campaign_id=campaign_id,
                number_e164=number,
                dialed_at=dialed_at,
                collector_id=collector_id,
                abandoned=False,
            )
            .returning(CallAttempt.id)
        )
        assert attempt_id is not None
        return attempt_id

    async def finish(
        self,
        call_id: str,
        outcome: ContactOutcome,
        *,
        ended_at: datetime,
        sip_code: int | None = None,
        answered_at: datetime | None = None,
        bridged_at: datetime | None = None,
        collector_id: int | None = None,
        abandoned: bool | None = None,
        ring_seconds: float | None = None,
        talk_seconds: float | None = None,
        amd: str | None = None,
        amd_seconds: float | None = None,
    ) -> bool:
        """Complete the attempt `call_id`; False if no such attempt was started.

        Ring and talk seconds are derived from the timestamps unless given. `abandoned`
        defaults to whether the outcome is ABANDONED.
        """
        attempt = await self.session.scalar(
            select(CallAttempt).where(CallAttempt.call_id == call_id)
        )
        if attempt is None:
            return False
        attempt.outcome = outcome.value
        attempt.ended_at = ended_at
        attempt.sip_code = sip_code
        attempt.answered_at = answered_at
        attempt.bridged_at = bridged_at
        if collector_id is not None:
            attempt.collector_id = collector_id
        attempt.abandoned = outcome is ContactOutcome.ABANDONED if abandoned is None else abandoned
        if ring_seconds is None:
            ring_seconds = ((answered_at or ended_at) - attempt.dialed_at).total_seconds()
        if talk_seconds is None and bridged_at is not None:
            talk_seconds = (ended_at - bridged_at).total_seconds()
        attempt.ring_seconds = ring_seconds
        attempt.talk_seconds = talk_seconds
        attempt.amd, attempt.amd_seconds = amd, amd_seconds
        await self.session.flush()
        return True

    async def mark(
        self,
        call_id: str,
        *,
        answered_at: datetime | None = None,
        bridged_at: datetime | None = None,
        collector_id: int | None = None,
    ) -> bool:
        """Write a step of a call in progress (answered by a person, bridged to a collector)
        as it happens, so a crash loses none of what compliance depends on."""
        values: dict[str, object] = {}
        if answered_at is not None:
            values["answered_at"] = answered_at
        if bridged_at is not None:
            values["bridged_at"] = bridged_at
        if collector_id is not None:
            values["collector_id"] = collector_id
        if not values:
            return True
        result = await self.session.execute(
            update(CallAttempt).where(CallAttempt.call_id == call_id).values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def get(self, call_id: str) -> AttemptInfo | None:
        attempt = await self.session.scalar(
            select(CallAttempt).where(CallAttempt.call_id == call_id)
        )
        return None if attempt is None else _attempt_info(attempt)

    async def count(
        self,
        *,
        case_id: int | None = None,
        campaign_id: int | None = None,
        since: datetime | None = None,
        outcomes: Iterable[ContactOutcome] | None = None,
    ) -> int:
        """Attempts matching every given filter (all attempts when none is given)."""
        query = select(func.count()).select_from(CallAttempt)
        if case_id is not None:
            query = query.where(CallAttempt.case_id == case_id)
        if campaign_id is not None:
            query = query.where(CallAttempt.campaign_id == campaign_id)
        if since is not None:
            query = query.where(CallAttempt.dialed_at >= since)
        if outcomes is not None:
            query = query.where(CallAttempt.outcome.in_([o.value for o in outcomes]))
        return int(await self.session.scalar(query) or 0)

    async def history(self, case_id: int, since: datetime) -> tuple[ContactRecord, ...]:
        return (await contact_history(self.session, [case_id], since)).get(case_id, ())


class LedgerTotals(NamedTuple):
    """Unpacks as `(live_answers, abandons)`."""

    live_answers: int
    abandons: int

    @property
    def rate(self) -> float:
        """Abandons per live answer (0.0 before the first live answer)."""
        return self.abandons / self.live_answers if self.live_answers else 0.0


class LedgerRepository:
    """The abandonment ledger, shared by every daemon dialing a campaign."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self, campaign_id: int, at: datetime, live_answers: int = 0, abandons: int = 0
    ) -> None:
        self.session.add(
            AbandonLedger(
                campaign_id=campaign_id, at=at, live_answers=live_answers, abandons=abandons
            )
        )
        await self.session.flush()

    async def rate(self, campaign_id: int, since: datetime) -> LedgerTotals:
        """Totals over [since, now): one range scan of ix_abandon_ledger_campaign_at."""
        row = (
            await self.session.execute(
                select(
                    func.coalesce(func.sum(AbandonLedger.live_answers), 0),
                    func.coalesce(func.sum(AbandonLedger.abandons), 0),
                ).where(AbandonLedger.campaign_id == campaign_id, AbandonLedger.at >= since)
            )
        ).one()
        return LedgerTotals(live_answers=int(row[0]), abandons=int(row[1]))

    async def expire(self, before: datetime) -> int:
        """Delete entries older than `before` (beyond the longest legal window)."""
        result = await self.session.execute(
            delete(AbandonLedger).where(AbandonLedger.at < before),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _attempt_info(attempt: CallAttempt) -> AttemptInfo:
    return AttemptInfo(
        id=attempt.id,
        call_id=attempt.call_id,
        case_id=attempt.case_id,
        campaign_id=attempt.campaign_id,
        number_e164=attempt.number_e164,
        collector_id=attempt.collector_id,
        dialed_at=attempt.dialed_at,
        answered_at=attempt.answered_at,
        bridged_at=attempt.bridged_at,
        ended_at=attempt.ended_at,
        outcome=attempt.outcome,
        sip_code=attempt.sip_code,
        abandoned=attempt.abandoned,
        ring_seconds=attempt.ring_seconds,
        talk_seconds=attempt.talk_seconds,
    )
