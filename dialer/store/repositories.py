"""All repositories in one import: each wraps an `AsyncSession` the caller owns.

The caller decides the transaction (`async with factory() as s, s.begin(): ...`);
repositories only flush. Read methods return domain or record dataclasses, never ORM rows.
"""

from __future__ import annotations

from dialer.store.attempts_repo import (
    AttemptRepository,
    LedgerRepository,
    LedgerTotals,
    contact_history,
    contact_outcome,
)
from dialer.store.cases_repo import HISTORY_DAYS, CaseRepository
from dialer.store.history_repo import AssignmentRepository, AuditRepository, DispositionRepository
from dialer.store.org_repo import CampaignRepository, CollectorRepository, TeamRepository

__all__ = [
    "HISTORY_DAYS",
    "AssignmentRepository",
    "AttemptRepository",
    "AuditRepository",
    "CampaignRepository",
    "CaseRepository",
    "CollectorRepository",
    "DispositionRepository",
    "LedgerRepository",
    "LedgerTotals",
    "TeamRepository",
    "contact_history",
    "contact_outcome",
]
