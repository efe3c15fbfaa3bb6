"""Call recordings in the store: their catalogue rows, the manager's search, audited plays
and what the retention job deletes.

A recording's row names the attempt it belongs to and copies its case, campaign and
collector (looked up by call id when the file is catalogued). Playing one is a clear read
of the debtor (their voice): `audit_play` writes it to the access audit like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.identity_repo import RECORDING_PLAY
from dialer.store.tables import AccessAudit, CallAttempt, Campaign, CaseRow, Collector, Recording

MAX_SEARCH = 500


@dataclass(frozen=True, slots=True)
class NewRecording:
    call_id: str
    campaign: str
    path: str
    bytes: int
    duration_seconds: float
    started_at: datetime
    ended_at: datetime
    sealed: bool
    key_id: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RecordingLine:
    """What the manager's list shows of one recording (no debtor identity)."""

    id: int
    call_id: str
    campaign: str
    case_id: int | None
    case_ref: str | None
    collector: str | None
    started_at: datetime
    duration_seconds: float
    bytes: int
    sealed: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RecordingFile:
    id: int
    campaign: str
    case_id: int | None
    path: str
    sealed: bool


class RecordingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, new: NewRecording) -> int:
        """Catalogue a finished recording under its attempt; its row id."""
        attempt = (
            await self.session.execute(
                select(
                    CallAttempt.id,
                    CallAttempt.case_id,
                    CallAttempt.campaign_id,
                    CallAttempt.collector_id,
                ).where(CallAttempt.call_id == new.call_id)
            )
        ).first()
        if attempt is not None:
            attempt_id, case_id, campaign_id, collector_id = attempt
        else:  # the attempt already gone (it should not be): still findable by campaign
            attempt_id = case_id = collector_id = None
            campaign_id = await self.session.scalar(
                select(Campaign.id).where(Campaign.name == new.campaign)
            )
            if campaign_id is None:
                raise LookupError(f"no campaign {new.campaign!r} for recording {new.call_id}")
        result = await self.session.execute(
            insert(Recording)
            .values(
                call_id=new.call_id,
                attempt_id=attempt_id,
                case_id=case_id,
                campaign_id=campaign_id,
                collector_id=collector_id,
                path=new.path,
                bytes=new.bytes,
                duration_seconds=new.duration_seconds,
                started_at=new.started_at,
                ended_at=new.ended_at,
                sealed=new.sealed,
                key_id=new.key_id,
                expires_at=new.expires_at,
            )
            .returning(Recording.id)
        )
        return int(result.scalar_one())

    async def search(
        self,
        campaigns: list[str],
        *,
        collector: str | None = None,
        case_ref: str | None = None,
        case_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[RecordingLine]:
        """Recordings of these campaigns, newest first, narrowed by the other filters."""
        query = (
            select(
                Recording.id,
                Recording.call_id,
                Campaign.name,
                Recording.case_id,
                CaseRow.debtor_ref,
                Collector.username,
                Recording.started_at,
                Recording.duration_seconds,
                Recording.bytes,
                Recording.sealed,
                Recording.expires_at,
            )
            .join(Campaign, Campaign.id == Recording.campaign_id)
            .outerjoin(CaseRow, CaseRow.id == Recording.case_id)
            .outerjoin(Collector, Collector.id == Recording.collector_id)
            .where(Campaign.name.in_(campaigns))
            .order_by(Recording.started_at.desc(), Recording.id.desc())
            .limit(min(limit, MAX_SEARCH))
        )
        if collector:
            query = query.where(Collector.username == collector)
        if case_ref:
            query = query.where(CaseRow.debtor_ref == case_ref)
        if case_id is not None:
            query = query.where(Recording.case_id == case_id)
        if since is not None:
            query = query.where(Recording.started_at >= since)
        if until is not None:
            query = query.where(Recording.started_at < until)
        rows = await self.session.execute(query)
        return [RecordingLine(*row) for row in rows.tuples()]

    async def file(self, recording_id: int) -> RecordingFile | None:
        row = (
            await self.session.execute(
                select(
                    Recording.id, Campaign.name, Recording.case_id, Recording.path, Recording.sealed
                )
                .join(Campaign, Campaign.id == Recording.campaign_id)
                .where(Recording.id == recording_id)
            )
        ).first()
        return None if row is None else RecordingFile(*row)

    async def audit_play(
        self, recording: RecordingFile, *, actor: str, role: str, now: datetime
    ) -> None:
        """A play is a clear read of the debtor: written to the access audit."""
        if recording.case_id is None:
            return  # no case to name (its attempt was never stored): nothing identifies it
        await self.session.execute(
            insert(AccessAudit).values(
                at=now, actor=actor, role=role, case_id=recording.case_id, reason=RECORDING_PLAY
            )
        )

    async def expired(self, now: datetime, limit: int = 1000) -> list[tuple[int, str]]:
        """(id, path) of recordings whose retention ended at or before `now`."""
        rows = await self.session.execute(
            select(Recording.id, Recording.path)
            .where(Recording.expires_at <= now)
            .order_by(Recording.expires_at, Recording.id)
            .limit(limit)
        )
        return [(int(i), str(p)) for i, p in rows.tuples()]

    async def delete(self, ids: list[int]) -> int:
        if not ids:
            return 0
        result = await self.session.execute(delete(Recording).where(Recording.id.in_(ids)))
        return int(getattr(result, "rowcount", 0) or 0)
