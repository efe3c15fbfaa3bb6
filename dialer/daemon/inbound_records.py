"""An inbound call's record, and the callback a caller asked for.

One transaction per call: the `inbound_calls` row (number sealed, its blind index beside
it) and, when the caller pressed 1, a callback on the case: the follow-up the hopper
supplies first, owed by the case's owner, and a `callback` disposition saying where it came
from. Its time is the earliest from `inbound.callback_delay_seconds` on at which the
campaign's compliance profile allows a call to the case (the check console callbacks get,
dialer.compliance.callback_decision, on the case's history from the store); none allowed
within 90 days: no callback, and the record says so (callback_at empty, a log line).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import Profile, callback_decision
from dialer.compliance.evaluate import history_span
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.logs import event
from dialer.settings import InboundSettings
from dialer.store.case_reads import history_of
from dialer.store.cases_repo import CaseRepository
from dialer.store.followup_repo import FollowupRepository
from dialer.store.history_repo import DispositionRepository
from dialer.store.inbound_repo import CallerMatch, InboundRecord, InboundRepository
from dialer.store.records import DispositionKind

log = logging.getLogger(__name__)
LATEST_CALLBACK_DAYS = 90
CALLBACK_NOTE = "inbound: the debtor called back and asked for a callback"


def utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


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
        try:
            async with self._sessions() as session, session.begin():
                callback_at = None
                if outcome is InboundOutcome.CALLBACK_REQUESTED and match.case_id is not None:
                    callback_at = await self._book_callback(session, campaign, match.case_id, ended)
                await InboundRepository(session).record(
                    InboundRecord(
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
                        callback_at=callback_at,
                        voicemail_path=str(voicemail)
                        if voicemail is not None and outcome is InboundOutcome.VOICEMAIL_LEFT
                        else None,
                    )
                )
        except Exception as exc:  # logged, never raised into the loop: the call is over
            event(
                log,
                "inbound.record_failed",
                logging.ERROR,
                call_id=call.call_id,
                error=type(exc).__name__,
            )

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
