"""The presence and collector-control part of the JSON API under /api/v1
(dialer.web.collector_control and dialer.web.presence do the work): a manager's roster of a
campaign's collectors, forcing a pause or a logout (202, audited; 404 no such collector,
409 already logged out / paused / leaving), and the console's heartbeat answer
(`POST /me/presence`, 204).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, ConfigDict

from dialer.web import collector_control
from dialer.web.api import changing_collector, changing_manager
from dialer.web.collector_ops import collector_id_of
from dialer.web.context import Principal, WebContext, context_of, manager

router = APIRouter(prefix="/api/v1")
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
ChangingManager = Annotated[Principal, Depends(changing_manager)]
ChangingCollector = Annotated[Principal, Depends(changing_collector)]
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
CollectorName = Annotated[str, Path(min_length=1, max_length=100)]


class LogoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_call: bool = False  # hang up the call they are on now, instead of waiting for it


@router.get(
    "/campaigns/{name}/collectors",
    summary="The campaign's logged-in collectors: state, for how long, console there or not",
)
async def get_collectors(ctx: Context, who: Manager, name: CampaignName) -> list[dict[str, Any]]:
    ctx.require_campaign(who, name)
    return [line.as_dict() for line in collector_control.roster(ctx, name)]


@router.post(
    "/campaigns/{name}/collectors/{collector}/pause",
    status_code=202,
    summary="Pause a collector (reason manager): now, or when the call in hand ends; audited",
)
async def post_pause(
    ctx: Context, who: ChangingManager, name: CampaignName, collector: CollectorName
) -> dict[str, Any]:
    return await collector_control.force_pause(ctx, who, name, collector)


@router.post(
    "/campaigns/{name}/collectors/{collector}/logout",
    status_code=202,
    summary="Take a collector out of the campaign: now, or when the call ends; audited",
    description="`end_call`: hang up the call they are on now (else it goes on and they "
    "leave when it ends). Their web session stays.",
)
async def post_logout(
    ctx: Context,
    who: ChangingManager,
    name: CampaignName,
    collector: CollectorName,
    body: Annotated[LogoutIn | None, Body()] = None,
) -> dict[str, Any]:
    end_call = body.end_call if body is not None else False
    return await collector_control.force_logout(ctx, who, name, collector, end_call=end_call)


@router.post(
    "/me/presence",
    status_code=204,
    summary="My console is here: the answer to the event stream's presence ping",
    description="Answer each `presence` event of `/me/events` (or call at least every "
    "third of web.presence_timeout_seconds): a collector not heard for the timeout is "
    "paused `disconnected` and routed no call.",
)
async def post_presence(ctx: Context, who: ChangingCollector) -> Response:
    ctx.presence.heard(collector_id_of(who))
    return Response(status_code=204)
