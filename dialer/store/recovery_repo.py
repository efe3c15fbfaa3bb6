"""Attempts a dead daemon left open, closed as `interrupted` with what is known.

A daemon writes each attempt when it dials, then the answer and the bridge as they happen
(dialer.daemon.store_writer), and the outcome when the call ends. A daemon killed mid-call
leaves the row open: no outcome, no end. Such a row is an orphan once no live daemon holds
its case: the case's lease is free or expired, or, at a daemon's own start-up, the lease is
held under its own instance name (nothing of its own is in flight yet).

Closing an orphan sets the outcome `interrupted` (compliance reads it as the most
restrictive outcome: a conversation for the lockouts, an attempt for the caps), its end at
the last instant known (bridge, answer or dial), and, when the debtor had answered, writes
the live answer to the abandonment ledger: an abandon too when no collector had been
bridged. Reading an open attempt already counts it as `interrupted` (attempts_repo), so
the lockouts hold before any sweep runs; closing makes the ledger whole and the row final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.model import ContactOutcome
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.tables import CallAttempt, CaseRow

BATCH = 500


@dataclass(frozen=True, slots=True)
class Closed:
    attempts: int = 0
    live_answers: int = 0
    abandons: int = 0


def ledger_terms(answered: bool, bridged: bool) -> tuple[int, int]:
    """(live answers, abandons) an attempt adds to the ledger."""
    return (1, 0 if bridged else 1) if answered else (0, 0)


async def close_orphans(
    session: AsyncSession, now: datetime, *, own_instance: str | None = None, grace: float = 60.0
) -> Closed:
    """Close open attempts no live daemon holds; `own_instance` (at start-up) also closes
    those whose case is leased under that name. Attempts younger than `grace` seconds are
    left alone (their daemon may still be writing their lease)."""
    held_by_nobody = or_(
        CaseRow.lease_owner.is_(None),
        CaseRow.lease_expires_at.is_(None),
        CaseRow.lease_expires_at < now,
        *([CaseRow.lease_owner == own_instance] if own_instance is not None else []),
    )
    rows = (
        await session.execute(
            select(CallAttempt)
            .join(CaseRow, CaseRow.id == CallAttempt.case_id)
            .where(
                CallAttempt.outcome.is_(None),
                CallAttempt.dialed_at < now - timedelta(seconds=grace),
                held_by_nobody,
            )
            .order_by(CallAttempt.id)
            .limit(BATCH)
        )
    ).scalars()
    ledger = LedgerRepository(session)
    attempts = live = abandons = 0
    for attempt in rows:
        attempt.outcome = ContactOutcome.INTERRUPTED.value
        attempt.ended_at = attempt.bridged_at or attempt.answered_at or attempt.dialed_at
        answered, bridged = attempt.answered_at is not None, attempt.bridged_at is not None
        attempt.abandoned = answered and not bridged
        if attempt.answered_at is not None:
            attempt.ring_seconds = (attempt.answered_at - attempt.dialed_at).total_seconds()
        got_live, got_abandon = ledger_terms(answered, bridged)
        if got_live:
            at = attempt.answered_at or attempt.dialed_at
            await ledger.record(attempt.campaign_id, at, got_live, got_abandon)
        attempts += 1
        live += got_live
        abandons += got_abandon
    await session.flush()
    return Closed(attempts, live, abandons)
