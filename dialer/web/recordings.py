"""Call recordings on the manager's pages: find one (by campaign, collector, date, case
reference) and play it in the browser.

`GET /manager/recordings` lists the recordings of the manager's campaigns, newest first
(a case's page links to its own: `?case=<id>`);
each row has a player whose audio loads only when played (`preload="none"`), so listing
reads nothing. `GET /manager/recordings/{id}/audio` streams the call as PCM16 WAV
(`audio/wav`; stored as μ-law, sealed files opened with the privacy keyring), managers of
the recording's campaign only: a collector gets 403. Every play is a clear read of the
debtor and goes to the access audit (`recording_play`) before the first byte is sent.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse

from dialer.media.recording_files import PlaybackError, open_playback
from dialer.store.crypto import installed
from dialer.store.recordings_repo import RecordingRepository
from dialer.web.context import Principal, WebContext, WebError, context_of, manager
from dialer.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
PAGE_ROWS = 100


def _day(request: Request, key: str) -> date | None:
    value = request.query_params.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WebError(422, f"{key}: expected a date as YYYY-MM-DD") from None


def _text(request: Request, key: str, limit: int = 100) -> str | None:
    value = request.query_params.get(key, "").strip()
    if len(value) > limit:
        raise WebError(422, f"{key}: at most {limit} characters")
    return value or None


def _case(request: Request) -> int | None:
    value = request.query_params.get("case", "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 2**53:
        raise WebError(422, "case: expected a case number")
    return int(value)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


@router.get("/manager/recordings")
async def recordings_page(request: Request, ctx: Context, who: Manager) -> Response:
    visible = ctx.visible_campaigns(who)
    campaign = _text(request, "campaign", 64)
    if campaign is not None and campaign not in visible:
        ctx.require_campaign(who, campaign)  # 404 or 403, with the reason
    since, until = _day(request, "since"), _day(request, "until")
    case_id = _case(request)
    filters: dict[str, str] = {
        "campaign": campaign or "",
        "collector": _text(request, "collector") or "",
        "case_ref": _text(request, "case_ref", 64) or "",
        "case": "" if case_id is None else str(case_id),
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    async with ctx.sessions() as db:
        rows = await RecordingRepository(db).search(
            [campaign] if campaign else visible,
            collector=filters["collector"] or None,
            case_ref=filters["case_ref"] or None,
            case_id=case_id,
            since=_start_of(since) if since else None,
            until=_start_of(until) + timedelta(days=1) if until else None,
            limit=PAGE_ROWS,
        )
    return render(
        ctx, request, "recordings.html", who, title="Recordings", rows=rows,
        campaigns=visible, filters=filters, limit=PAGE_ROWS,
    )  # fmt: skip


@router.get("/manager/recordings/{recording_id}/audio")
async def recording_audio(
    ctx: Context, who: Manager, recording_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    async with ctx.sessions() as db:
        found = await RecordingRepository(db).file(recording_id)
    if found is None:
        raise WebError(404, f"no recording {recording_id}")
    if found.campaign not in ctx.visible_campaigns(who):
        raise WebError(403, "not one of your campaigns")
    try:
        playback = await asyncio.to_thread(
            open_playback, FilePath(found.path), found.sealed, installed()
        )
    except PlaybackError as exc:
        raise WebError(410 if "gone" in str(exc) else 409, str(exc)) from None
    async with ctx.sessions() as db, db.begin():
        await RecordingRepository(db).audit_play(
            found, actor=who.username, role=who.role, now=ctx.utcnow()
        )
    return StreamingResponse(
        playback.body,  # a plain iterator: Starlette reads it in a worker thread
        media_type="audio/wav",
        headers={
            "Content-Length": str(playback.size),
            "Content-Disposition": f'inline; filename="recording-{recording_id}.wav"',
        },
    )
