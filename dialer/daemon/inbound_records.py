"""An inbound call's record, and the callback a caller asked for.

One transaction per call: the `inbound_calls` row (number sealed, its blind index beside
it) and, when the caller pressed 1, a callback on the case: the follow-up the hopper
supplies first, owed by the case's owner, and a `callback` disposition saying where it came
from. Its time is the earliest from `inbound.callback_delay_seconds` on at which the
campaign's compliance profile allows a call to the case (the check console callbacks get,
dialer.compliance.callback_decision, on the case's history from the store); none allowed
within 90 days: no callback, and the record says so (callback_at empty, a log line).

Nothing is lost to a store outage (as the store writer promises for outbound records):
a record the store cannot take is kept in memory and retried with backoff until it can;
at a stop with the store still down, what is left goes to a spool file (JSON lines, the
caller's number sealed as at rest) that the next start-up replays (`spool`, `replay`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import Profile, callback_decision
from dialer.compliance.evaluate import history_span
from dialer.daemon.store_writer import RETRY_FIRST, RETRY_MAX, is_outage
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.logs import event
from dialer.store import crypto
from dialer.store.case_reads import history_of
from dialer.store.cases_repo import CaseRepository
from dialer.store.followup_repo import FollowupRepository
from dialer.store.history_repo import DispositionRepository
from dialer.store.inbound_repo import CallerMatch, InboundRecord, InboundRepository
from dialer.store.records import DispositionKind
from dialer.telephony.inbound_settings import InboundSettings

log = logging.getLogger(__name__)
LATEST_CALLBACK_DAYS = 90
CALLBACK_NOTE = "inbound: the debtor called back and asked for a callback"
SPOOL_LABEL = "inbound_calls.number_e164"  # the column's own sealing label
_TIMES = ("arrived_at", "ended_at", "queued_at", "offered_at", "bridged_at", "callback_at")


def utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class PendingRecord:
    """A finished inbound call not yet in the store: its row (callback time still to be
    found) and whether the caller asked for a callback on its case."""

    campaign: str
    record: InboundRecord
    callback: bool

    def to_plain(self) -> dict[str, Any]:
        """JSON-ready, the number sealed (a spool file is data at rest)."""
        values = dataclasses.asdict(self.record)
        for name in _TIMES:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        values["outcome"] = self.record.outcome.value
        values["other_case_refs"] = list(self.record.other_case_refs)
        number = self.record.number
        values["number"] = None if number is None else crypto.keyring().seal(number, SPOOL_LABEL)
        return {"campaign": self.campaign, "callback": self.callback, "record": values}

    @classmethod
    def from_plain(cls, plain: dict[str, Any]) -> PendingRecord:
        values = dict(plain["record"])
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        values["outcome"] = InboundOutcome(values["outcome"])
        values["other_case_refs"] = tuple(values["other_case_refs"])
        if values.get("number") is not None:
            values["number"] = crypto.keyring().open(values["number"], SPOOL_LABEL)
        return cls(str(plain["campaign"]), InboundRecord(**values), bool(plain["callback"]))


class InboundRecorder:
    def __init__(
        self,
        settings: InboundSettings,
        sessions: async_sessionmaker[AsyncSession],
        profiles: dict[str, Profile],
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._profiles = profiles
        self.pending: dict[str, PendingRecord] = {}  # by call id, until committed
        self.written = 0

    async def record(
        self,
        campaign_id: int,
        campaign: str,
        call: InboundCall,
        number: str,
        match: CallerMatch,
        collector_row: int | None,
        voicemail: Path | None,
    ) -> None:
        ended = call.ended_at if call.ended_at is not None else call.arrived_at
        outcome = call.outcome or InboundOutcome.UNANSWERED
        row = InboundRecord(
            call_id=call.call_id,
            campaign_id=campaign_id,
            number=number or None,
            case_id=match.case_id,
            other_case_refs=match.other_refs,
            collector_id=collector_row if call.bridged_at is not None else None,
            arrived_at=datetime.fromtimestamp(call.arrived_at, UTC),
            ended_at=datetime.fromtimestamp(ended, UTC),
            wait_seconds=call.wait_seconds or 0.0,
            outcome=outcome,
            queued_at=utc(call.queued_at),
            offered_at=utc(call.offered_at),
            bridged_at=utc(call.bridged_at),
            talk_seconds=call.talk_seconds,
            voicemail_path=str(voicemail)
            if voicemail is not None and outcome is InboundOutcome.VOICEMAIL_LEFT
            else None,
        )
        wants = outcome is InboundOutcome.CALLBACK_REQUESTED and match.case_id is not None
        await self.commit(PendingRecord(campaign, row, wants))

    async def commit(self, pending: PendingRecord) -> None:
        """Write `pending`, retrying while the store is out of reach (a cancel leaves it in
        `pending` for the spool); a record the store refuses otherwise is logged, dropped."""
        call_id = pending.record.call_id
        self.pending[call_id] = pending
        delay, warned = RETRY_FIRST, False
        while True:
            try:
                await self._write(pending)
            except Exception as exc:
                if is_outage(exc):
                    if not warned:
                        event(
                            log,
                            "inbound.record_waiting",
                            logging.WARNING,
                            call_id=call_id,
                            error=type(exc).__name__,
                        )
                        warned = True
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                event(
                    log,
                    "inbound.record_failed",
                    logging.ERROR,
                    call_id=call_id,
                    error=type(exc).__name__,
                )
            else:
                self.written += 1
            self.pending.pop(call_id, None)
            return

    async def _write(self, pending: PendingRecord) -> None:
        row = pending.record
        async with self._sessions() as session, session.begin():
            if pending.callback and row.case_id is not None:
                at = await self._book_callback(
                    session, pending.campaign, row.case_id, row.ended_at.timestamp()
                )
                row = dataclasses.replace(row, callback_at=at)
            await InboundRepository(session).record(row)

    def spool(self, path: Path) -> int:
        """Append every record not yet written to `path`; returns how many."""
        left = list(self.pending.values())
        self.pending.clear()
        if not left:
            return 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for pending in left:
                out.write(json.dumps(pending.to_plain()) + "\n")
        return len(left)

    @staticmethod
    def replay(path: Path) -> list[PendingRecord]:
        """The records a previous run spooled, in order; the file is removed once read. A
        line that cannot be read (edited by hand, another key) is logged by its number and
        kept aside in `<path>.bad` so that nothing is silently lost."""
        if not path.exists():
            return []
        records: list[PendingRecord] = []
        bad: list[str] = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(PendingRecord.from_plain(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                event(
                    log,
                    "inbound.spool_line_unreadable",
                    logging.ERROR,
                    path=str(path),
                    line=number,
                    error=type(exc).__name__,
                )
                bad.append(line)
        if bad:
            with path.with_name(path.name + ".bad").open("a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in bad)
        path.unlink()
        return records

    async def _book_callback(
        self, session: AsyncSession, campaign: str, case_id: int, ended: float
    ) -> datetime | None:
        profile = self._profiles.get(campaign)
        detail = await CaseRepository(session).get(case_id)
        if profile is None or detail is None:
            return None
        earliest = datetime.fromtimestamp(ended, UTC) + timedelta(
            seconds=self._settings.callback_delay_seconds
        )
        latest = earliest + timedelta(days=LATEST_CALLBACK_DAYS)
        # every record a rule may count up to the latest candidate time
        since = earliest - history_span(profile)
        history = (await history_of(session, [case_id], since)).get(case_id, ())
        decision = callback_decision(profile, detail.case, history, earliest)
        at = earliest if decision.allowed else decision.next_allowed_at
        if at is None or at > latest:
            event(
                log,
                "inbound.callback_refused",
                logging.WARNING,
                case_id=case_id,
                reasons=",".join(decision.reasons),
            )
            return None
        await FollowupRepository(session).set(case_id, "callback", at)
        await DispositionRepository(session).add(
            case_id, DispositionKind.CALLBACK, callback_at=at, note=CALLBACK_NOTE
        )
        event(log, "inbound.callback_booked", case_id=case_id, at=at.isoformat())
        return at
