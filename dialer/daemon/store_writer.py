"""Writes the engine's record of calls to the store off the pacing path.

The campaign runners put small operations on a queue; one task commits them in batches,
so a slow disk delays bookkeeping, never a dial decision. `flush()` waits until everything
queued so far is committed (the hopper refill does this first, so it never offers a case
whose last attempt is not yet written).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.domain.calls import Call
from dialer.domain.model import ContactOutcome
from dialer.engine import contact_outcome
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.store.attempts_repo import AttemptRepository, LedgerRepository
from dialer.store.cases_repo import CaseRepository
from dialer.store.lease_repo import LeaseRepository

log = logging.getLogger(__name__)

# When a case may be tried again after each outcome (compliance rules may push it later).
RECYCLE_AFTER = {
    ContactOutcome.CONVERSATION: timedelta(days=1),
    ContactOutcome.ANSWERED: timedelta(hours=4),
    ContactOutcome.NO_ANSWER: timedelta(hours=1),
    ContactOutcome.BUSY: timedelta(minutes=30),
    ContactOutcome.FAILED: timedelta(minutes=30),
    ContactOutcome.MACHINE: timedelta(hours=2),
    ContactOutcome.ABANDONED: timedelta(hours=1),
}
BATCH = 500


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    call_id: str
    case_id: int
    campaign_id: int
    number: str
    at: float


@dataclass(frozen=True, slots=True)
class AttemptEnded:
    call: Call
    case_id: int
    campaign_id: int
    collector_id: int | None = None  # the collector's row id, when bridged


@dataclass(frozen=True, slots=True)
class CaseDeferredOp:
    case_id: int
    not_before: float | None


Operation = AttemptStarted | AttemptEnded | CaseDeferredOp


class StoreWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        metrics: Metrics,
        *,
        lease_owner: str | None = None,
        recycle_after: Mapping[ContactOutcome, timedelta] | None = None,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        # With a lease owner, each case is released in the transaction that parks it.
        self._lease_owner = lease_owner
        self.recycle_after = dict(recycle_after or RECYCLE_AFTER)
        self._queue: asyncio.Queue[Operation] = asyncio.Queue()
        self.written = 0

    def put(self, op: Operation) -> None:
        self._queue.put_nowait(op)

    async def flush(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception:
                # One bad operation must not lose the rest: retry them one by one.
                for op in batch:
                    try:
                        await self._write([op])
                    except Exception as exc:
                        self._metrics.store_errors.labels(type(op).__name__).inc()
                        event(
                            log,
                            "store.write_failed",
                            logging.ERROR,
                            op=type(op).__name__,
                            error=str(exc),
                        )
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[Operation]) -> None:
        async with self._sessions() as session, session.begin():
            attempts = AttemptRepository(session)
            cases = CaseRepository(session)
            ledger = LedgerRepository(session)
            for op in batch:
                if isinstance(op, AttemptStarted):
                    await attempts.start(
                        op.call_id, op.case_id, op.campaign_id, op.number, utc(op.at)
                    )
                elif isinstance(op, AttemptEnded):
                    await self._ended(op, attempts, cases, ledger)
                else:
                    at = None if op.not_before is None else utc(op.not_before)
                    await cases.set_next_attempt(op.case_id, at or utc(4102444800.0))
            if self._lease_owner is not None:
                await LeaseRepository(session).after_attempts(
                    self._lease_owner,
                    [
                        (op.case_id, utc(op.call.ended_at or 0.0))
                        for op in batch
                        if isinstance(op, AttemptEnded)
                    ],
                    [op.case_id for op in batch if isinstance(op, CaseDeferredOp)],
                )
        self.written += len(batch)

    async def _ended(
        self,
        op: AttemptEnded,
        attempts: AttemptRepository,
        cases: CaseRepository,
        ledger: LedgerRepository,
    ) -> None:
        call = op.call
        assert call.ended_at is not None
        outcome = contact_outcome(call)
        ended = utc(call.ended_at)
        await attempts.finish(
            call.call_id,
            outcome,
            ended_at=ended,
            sip_code=call.sip_code,
            answered_at=None if call.answered_at is None else utc(call.answered_at),
            bridged_at=None if call.bridged_at is None else utc(call.bridged_at),
            collector_id=op.collector_id,
            abandoned=outcome is ContactOutcome.ABANDONED,
        )
        await cases.set_next_attempt(op.case_id, ended + self.recycle_after[outcome])
        if call.is_live_answer:
            abandoned = int(outcome is ContactOutcome.ABANDONED)
            await ledger.record(op.campaign_id, ended, live_answers=1, abandons=abandoned)
