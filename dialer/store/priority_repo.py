"""What case priorities are computed from, and writing them back.

Reads cases in id order, chunk by chunk, with their attempts over the learning window
(last live contact, attempts and answers per local hour); writes only the priorities
that changed, as one statement per chunk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.domain.model import ContactOutcome
from dialer.domain.priority_inputs import ANSWERED, HourStats, PriorityInputs
from dialer.store.attempts_repo import contact_outcome
from dialer.store.tables import CallAttempt, CaseRow

_IN_CHUNK = 1000
_CALLABLE = ("open", "promised")
_ANSWERED = tuple(o.value for o in ANSWERED)
CASES = cast(Table, CaseRow.__table__)
_PG_WRITE = text(
    "UPDATE cases SET priority = v.p FROM unnest(CAST(:ids AS integer[]), "
    "CAST(:ps AS double precision[])) AS v(id, p) WHERE cases.id = v.id"
)


class PriorityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def chunk(
        self, campaign_id: int, after_id: int, limit: int, since: datetime
    ) -> tuple[list[PriorityInputs], dict[int, float]]:
        """Callable cases of the campaign with id > `after_id` (up to `limit`, by id), and
        their current priorities."""
        rows = await self.session.execute(
            _case_query()
            .where(
                CaseRow.campaign_id == campaign_id,
                CaseRow.status.in_(_CALLABLE),
                CaseRow.id > after_id,
            )
            .order_by(CaseRow.id)
            .limit(limit)
        )
        return await self._inputs(list(rows.tuples()), since)

    async def for_cases(
        self, case_ids: Sequence[int], since: datetime
    ) -> tuple[list[PriorityInputs], dict[int, float]]:
        found: list[Any] = []
        ids = sorted(set(case_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            rows = await self.session.execute(
                _case_query().where(CaseRow.id.in_(ids[start : start + _IN_CHUNK]))
            )
            found.extend(rows.tuples())
        return await self._inputs(found, since)

    async def _inputs(
        self, rows: list[Any], since: datetime
    ) -> tuple[list[PriorityInputs], dict[int, float]]:
        ids = [row[0] for row in rows]
        attempts = await self._attempts(ids, since)
        inputs = []
        current = {}
        for case_id, dpd, balance, bucket, tz, f_at, f_kind, priority in rows:
            records = attempts.get(case_id, [])
            answered = [at for at, outcome in records if outcome in ANSWERED]
            inputs.append(
                PriorityInputs(
                    case_id=case_id,
                    days_past_due=dpd,
                    balance=balance,
                    bucket=bucket,
                    timezone=tz,
                    followup_at=f_at,
                    followup_kind=f_kind,
                    last_contact_at=max(answered, default=None),
                    hours=HourStats.learn(records, tz) if records else None,
                )
            )
            current[case_id] = priority
        return inputs, current

    async def _attempts(
        self, ids: list[int], since: datetime
    ) -> dict[int, list[tuple[datetime, ContactOutcome]]]:
        found: dict[int, list[tuple[datetime, ContactOutcome]]] = defaultdict(list)
        for start in range(0, len(ids), _IN_CHUNK):
            rows = await self.session.execute(
                select(CallAttempt.case_id, CallAttempt.dialed_at, CallAttempt.outcome).where(
                    CallAttempt.case_id.in_(ids[start : start + _IN_CHUNK]),
                    CallAttempt.dialed_at >= since,
                )
            )
            for case_id, at, outcome in rows.tuples():
                found[case_id].append((at, contact_outcome(outcome)))
        return found

    async def write(self, priorities: Mapping[int, float]) -> int:
        """Store the priorities (case id -> value); returns how many were written."""
        if not priorities:
            return 0
        items = sorted(priorities.items())
        if self.session.get_bind().dialect.name == "postgresql":
            for start in range(0, len(items), 10_000):
                part = items[start : start + 10_000]
                await self.session.execute(
                    _PG_WRITE, {"ids": [i for i, _ in part], "ps": [p for _, p in part]}
                )
        else:
            await self.session.execute(
                update(CASES)
                .where(CASES.c.id == bindparam("b_id"))
                .values(priority=bindparam("b_p")),
                [{"b_id": case_id, "b_p": p} for case_id, p in items],
            )
        return len(items)

    async def answer_counts(self, campaign_id: int, since: datetime) -> tuple[int, int]:
        """(attempts, live answers) of the campaign since `since`: the learning prior."""
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.count().filter(CallAttempt.outcome.in_(_ANSWERED)),
                ).where(CallAttempt.campaign_id == campaign_id, CallAttempt.dialed_at >= since)
            )
        ).one()
        return int(row[0]), int(row[1])


def _case_query() -> Any:
    return select(
        CaseRow.id,
        CaseRow.days_past_due,
        CaseRow.balance,
        CaseRow.bucket,
        CaseRow.timezone,
        CaseRow.followup_at,
        CaseRow.followup_kind,
        CaseRow.priority,
    )
