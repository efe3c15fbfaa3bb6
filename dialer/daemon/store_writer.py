"""Writes the engine's record of calls to the store off the pacing path: no record, no call.

The campaign runners put small operations on a queue; one task commits them in batches, so
a slow disk delays bookkeeping, never a dial decision. Three promises:

- **Write-ahead.** A dial's attempt row is committed before its INVITE may leave: the runner
  waits on `put_durable(AttemptStarted(...))` and places the call only when it resolves
  True. The steps compliance depends on (answered by a person, bridged to a collector) are
  written as they happen (`AttemptAnswered`, `AttemptBridged`), so a crash loses none of
  them; the outcome follows at the call's end.
- **Nothing the ledger or the caps need is dropped.** When the store cannot take writes
  (connection refused, server gone, database locked: `is_outage`), the writer says so
  (`up` False, `on_state`), keeps every queued operation in memory in order and retries
  with backoff until the store is back. An attempt that has not started yet is refused
  instead (its future resolves False): that call is never placed. Launching stops at once
  (the daemon holds every engine on `on_state`), so what waits in memory is bounded by the
  calls already up. At shutdown with the store still down, what is left goes to a spool
  file that the next start-up replays before anything dials (`spool`, `replay_spool`).
- **One bad operation does not lose the rest.** A write that fails for another reason (a
  bug, a constraint) is retried alone, and only it is dropped, counted and logged.
`flush()` waits until everything queued so far is committed. The operations themselves are
in dialer.daemon.store_ops.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.daemon.store_ops import (
    AttemptAnswered,
    AttemptBridged,
    AttemptEnded,
    AttemptStarted,
    CaseDeferredOp,
    Operation,
    from_plain,
    ring_seconds,
    to_plain,
)
from dialer.domain.model import ContactOutcome
from dialer.logs import event
from dialer.metrics import Metrics
from dialer.store.attempts_repo import AttemptRepository, LedgerRepository
from dialer.store.cases_repo import CaseRepository
from dialer.store.lease_repo import LeaseRepository
from dialer.store.recovery_repo import ledger_terms
from dialer.store.tables import CallAttempt

log = logging.getLogger(__name__)

# When a case may be tried again after each outcome (compliance rules may push it later).
RECYCLE_AFTER = {
    ContactOutcome.CONVERSATION: timedelta(days=1),
    ContactOutcome.ANSWERED: timedelta(hours=4),
    ContactOutcome.NO_ANSWER: timedelta(hours=1),
    ContactOutcome.BUSY: timedelta(minutes=30),
    ContactOutcome.FAILED: timedelta(minutes=30),
    ContactOutcome.MACHINE: timedelta(hours=2),
    ContactOutcome.MACHINE_MESSAGE_LEFT: timedelta(days=1),  # they have our message
    ContactOutcome.ABANDONED: timedelta(hours=1),
    ContactOutcome.INTERRUPTED: timedelta(days=1),
    ContactOutcome.MEDIA_LOST: timedelta(hours=1),
    ContactOutcome.TRUNK_FAILED: timedelta(0),
}
BATCH = 500
RETRY_FIRST = 0.2  # seconds before the first retry of a failed commit; doubles to RETRY_MAX
RETRY_MAX = 5.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def is_outage(exc: BaseException) -> bool:
    """The store cannot take writes now (as opposed to this write being bad)."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


StoreState = Callable[[bool, str | None], None]


class StoreWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        metrics: Metrics,
        *,
        lease_owner: str | None = None,
        recycle_after: Mapping[ContactOutcome, timedelta] | None = None,
        on_state: StoreState | None = None,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        # With a lease owner, each case is released in the transaction that parks it.
        self._lease_owner = lease_owner
        self.recycle_after = {**RECYCLE_AFTER, **(recycle_after or {})}
        self._queue: asyncio.Queue[Operation] = asyncio.Queue()
        self._durable: dict[int, asyncio.Future[bool]] = {}  # id(op) -> its future
        self._inflight: list[Operation] = []  # the batch being committed (or retried)
        self._refused: set[int] = set()  # id(op) of attempts refused while still queued
        self.on_state = on_state
        self.up = True
        self.down_reason: str | None = None
        self.written = 0

    def put(self, op: Operation) -> None:
        self._queue.put_nowait(op)

    def put_durable(self, op: AttemptStarted) -> asyncio.Future[bool]:
        """Queue a dial's attempt; the future says True once it is committed, False when
        the store cannot take it (the call must not be placed)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self.up:
            future.set_result(False)
            return future
        self._durable[id(op)] = future
        self._queue.put_nowait(op)
        return future

    @property
    def pending(self) -> int:
        """Operations queued and not yet committed."""
        return self._queue.qsize() + len(self._durable)

    async def flush(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._inflight = batch
            try:
                await self._commit(batch)
            finally:
                self._inflight = []
                for _ in batch:
                    self._queue.task_done()

    # ----- committing -------------------------------------------------------------------------

    async def _commit(self, batch: list[Operation]) -> None:
        delay = RETRY_FIRST
        if self._refused:
            refused = {id(op) for op in batch} & self._refused
            self._refused -= refused
            batch = [op for op in batch if id(op) not in refused]
        while True:
            batch = self._refuse_dials(batch) if not self.up else batch
            if not batch:
                return
            try:
                await self._write(batch)
            except Exception as exc:
                if not is_outage(exc):
                    for op in batch:  # one bad operation must not lose the rest
                        await self._commit_alone(op)
                    return
                self._set_state(False, _reason(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            self._set_state(True, None)
            self._resolve(batch, True)
            return

    async def _commit_alone(self, op: Operation) -> None:
        delay = RETRY_FIRST
        while True:
            if not self.up and isinstance(op, AttemptStarted):
                self._resolve([op], False)
                return
            try:
                await self._write([op])
            except Exception as exc:
                if is_outage(exc):
                    self._set_state(False, _reason(exc))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                self._metrics.store_errors.labels(type(op).__name__).inc()
                event(
                    log, "store.write_failed", logging.ERROR, op=type(op).__name__, error=str(exc)
                )
                self._resolve([op], False)
                return
            self._set_state(True, None)
            self._resolve([op], True)
            return

    def _refuse_dials(self, batch: list[Operation]) -> list[Operation]:
        """While the store is down, attempts not yet written are refused: no record, no
        call. Everything else waits for the store."""
        refused = [op for op in batch if isinstance(op, AttemptStarted)]
        self._resolve(refused, False)
        return [op for op in batch if not isinstance(op, AttemptStarted)]

    def _resolve(self, ops: Sequence[Operation], ok: bool) -> None:
        for op in ops:
            future = self._durable.pop(id(op), None)
            if future is not None and not future.done():
                future.set_result(ok)

    def _set_state(self, up: bool, reason: str | None) -> None:
        if up == self.up:
            return
        self.up, self.down_reason = up, reason
        if not up:
            # Calls waiting for their attempt behind the failing batch are not placed now,
            # and their attempts are never written when the store comes back.
            inflight = {id(op) for op in self._inflight}
            for key in [key for key in self._durable if key not in inflight]:
                self._durable.pop(key).set_result(False)
                self._refused.add(key)
        self._metrics.store_up.set(1.0 if up else 0.0)
        event(
            log,
            "store.up" if up else "store.down",
            logging.INFO if up else logging.ERROR,
            reason=reason,
            pending=self.pending,
        )
        if self.on_state is not None:
            self.on_state(up, reason)

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
                elif isinstance(op, AttemptAnswered):
                    await attempts.mark(op.call_id, answered_at=utc(op.at))
                elif isinstance(op, AttemptBridged):
                    await attempts.mark(
                        op.call_id, bridged_at=utc(op.at), collector_id=op.collector_id
                    )
                elif isinstance(op, AttemptEnded):
                    await self._ended(op, session, attempts, cases, ledger)
                else:
                    at = None if op.not_before is None else utc(op.not_before)
                    await cases.set_next_attempt(op.case_id, at or utc(4102444800.0))
            if self._lease_owner is not None:
                await LeaseRepository(session).after_attempts(
                    self._lease_owner,
                    [
                        (op.case_id, utc(op.ended_at))
                        for op in batch
                        if isinstance(op, AttemptEnded)
                    ],
                    [op.case_id for op in batch if isinstance(op, CaseDeferredOp)],
                )
        self.written += len(batch)

    async def _ended(
        self,
        op: AttemptEnded,
        session: AsyncSession,
        attempts: AttemptRepository,
        cases: CaseRepository,
        ledger: LedgerRepository,
    ) -> None:
        # A sweep may have closed this attempt as interrupted while the store was out of
        # reach (dialer.store.recovery_repo); the ledger then holds what it knew of it.
        before = (
            await session.execute(
                select(CallAttempt.outcome, CallAttempt.answered_at, CallAttempt.bridged_at).where(
                    CallAttempt.call_id == op.call_id
                )
            )
        ).first()
        counted = (0, 0)
        if before is not None and before[0] == ContactOutcome.INTERRUPTED.value:
            counted = ledger_terms(before[1] is not None, before[2] is not None)
        ended = utc(op.ended_at)
        await attempts.finish(
            op.call_id,
            op.outcome,
            ended_at=ended,
            sip_code=op.sip_code,
            answered_at=None if op.answered_at is None else utc(op.answered_at),
            bridged_at=None if op.bridged_at is None else utc(op.bridged_at),
            collector_id=op.collector_id,
            abandoned=op.outcome is ContactOutcome.ABANDONED,
            ring_seconds=ring_seconds(op),
            talk_seconds=op.talk_seconds,
            amd=op.amd,
            amd_seconds=op.amd_seconds,
        )
        await cases.set_next_attempt(op.case_id, ended + self.recycle_after[op.outcome])
        live = int(op.live_answer)
        abandons = int(op.outcome is ContactOutcome.ABANDONED)
        if (live, abandons) != counted:
            await ledger.record(
                op.campaign_id,
                ended,
                live_answers=live - counted[0],
                abandons=abandons - counted[1],
            )

    # ----- the spool: what a shutdown with the store down leaves ------------------------------

    def spool(self, path: Path) -> int:
        """Write every operation still queued to `path` (JSON lines, appended); returns how
        many. Attempts not yet started are left out: their calls were never placed."""
        ops: list[Operation] = list(self._inflight)
        self._inflight = []
        while not self._queue.empty():
            ops.append(self._queue.get_nowait())
            self._queue.task_done()
        self._resolve(ops, False)
        ops = [op for op in ops if not isinstance(op, AttemptStarted)]
        if not ops:
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for op in ops:
                out.write(json.dumps({"kind": type(op).__name__, **to_plain(op)}) + "\n")
        return len(ops)

    def replay_spool(self, path: Path) -> int:
        """Queue the operations a previous run spooled (in their order); the file is removed
        once they are queued: `flush()` then commits them, retrying while the store is down."""
        if not path.exists():
            return 0
        count = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                self.put(from_plain(json.loads(line)))
                count += 1
        path.unlink()
        return count


def _reason(exc: BaseException) -> str:
    """A one-line reason fit for health and logs (no SQL, no parameters)."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
