"""The manager's wallboard: the page (`/manager/wallboard`), its live stream of updates
(`/manager/wallboard/events`, server-sent events, one `wallboard` event per campaign that
changed, JSON from dialer.web.wallboard) and the same board as JSON for the API
(`GET /api/v1/campaigns/{name}/wallboard`).

The stream takes each of the manager's boards every `UPDATE_EVERY` seconds and sends
what changed since the last one it sent; a campaign's board is built at most about once a
second and today's figures asked of the store at most every 5 s, however many wallboards
are open (dialer.web.floor_figures). Every
`RECHECK_EVERY` seconds it checks the manager's session again and ends when it was ended
(logged out, password changed, account disabled). A store too busy to answer for the
figures leaves the page with the last ones it had (logged), not a broken stream. Pause and
Log out on the page call the API's collector-control endpoints
(dialer.web.collector_control_api), audited as from the manager's page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from dialer.logs import event
from dialer.web import floor_figures, wallboard
from dialer.web.context import Principal, WebContext, context_of, manager, principal_or_none
from dialer.web.pages import render
from dialer.web.sse import KEEP_ALIVE, RETRY_MS, format_event

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1")
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
UPDATE_EVERY = 1.0  # real seconds between boards
RECHECK_EVERY = 10.0  # real seconds between checks of the manager's session


@router.get("/manager/wallboard")
async def page(request: Request, ctx: Context, who: Manager) -> Response:
    campaigns = [
        {"name": name, "profile": ctx.dialer.profiles[name].label}
        for name in ctx.visible_campaigns(who)
    ]
    return render(
        ctx, request, "wallboard.html", who, title="Wallboard", campaigns=campaigns,
        presence_timeout=ctx.presence.timeout,
    )  # fmt: skip


@router.get("/manager/wallboard/events")
async def events(request: Request, ctx: Context, who: Manager) -> StreamingResponse:
    return StreamingResponse(
        updates(request, ctx, who),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@api_router.get(
    "/campaigns/{name}/wallboard",
    summary="The campaign's wallboard: collectors, abandon rate, budget, series, figures",
    description="The same JSON the wallboard page's first stream event carries (`columns` "
    "names each row's fields, `sample_columns` each sample's).",
)
async def get_board(ctx: Context, who: Manager, name: CampaignName) -> dict[str, Any]:
    ctx.require_campaign(who, name)
    figures = await floor_figures.today(ctx, name)
    full = wallboard.update(ctx, None, wallboard.board(ctx, name, figures))
    assert full is not None  # a first update is never empty
    return full


async def boards(ctx: WebContext, who: Principal) -> dict[str, wallboard.Board]:
    """The manager's boards, each shared with every other open wallboard for 0.9 s."""
    found = {}
    for name in ctx.visible_campaigns(who):

        async def build(name: str = name) -> wallboard.Board:
            try:
                figures = await floor_figures.today(ctx, name)
            except SQLAlchemyError as exc:  # a busy store: the page keeps the last figures
                event(log, "web.wallboard_figures_failed", logging.WARNING, campaign=name,
                      error=type(exc).__name__)  # fmt: skip
                figures = None
            return wallboard.board(ctx, name, figures)

        found[name] = await ctx.boards.get(name, build)
        await asyncio.sleep(0)  # a large floor's board per loop turn, not all at once
    return found


async def updates(request: Request, ctx: WebContext, who: Principal) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    sent: dict[str, wallboard.Board] = {}
    checked = quiet_since = time.monotonic()
    while not ctx.dialer.stopping:
        current = await boards(ctx, who)
        for name, board in current.items():
            message = wallboard.update(ctx, sent.get(name), board)
            sent[name] = board
            if message is not None:
                quiet_since = time.monotonic()
                yield format_event("wallboard", json.dumps(message, separators=(",", ":")))
        for name in sent.keys() - current.keys():  # no longer the manager's campaign
            del sent[name]
            yield format_event("gone", json.dumps({"campaign": name}))
        if time.monotonic() - quiet_since >= KEEP_ALIVE:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if time.monotonic() - checked >= RECHECK_EVERY:
            checked = time.monotonic()
            if await principal_or_none(request) is None:
                yield format_event("ended", json.dumps({"reason": "your session ended"}))
                return
        await asyncio.sleep(UPDATE_EVERY)
