"""The manager page's collector roster (an htmx fragment refreshed every 2 s) and its
Pause / Log out buttons (dialer.web.collector_control does the work). A refused click comes
back as the manager page with the reason at the campaign, with its 4xx status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dialer.web import collector_control
from dialer.web.context import (
    Principal,
    WebContext,
    WebError,
    check_csrf,
    context_of,
    form_fields,
    manager,
)
from dialer.web.manager import manager_page

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
CollectorName = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/manager/campaigns/{name}/collectors")
async def roster(request: Request, ctx: Context, who: Manager, name: CampaignName) -> HTMLResponse:
    ctx.require_campaign(who, name)
    body = ctx.templates.get_template("_collectors.html").render(
        who=who,
        csrf=who.session.csrf,
        name=name,
        roster=collector_control.roster(ctx, name),
        timeout=ctx.presence.timeout,
    )
    return HTMLResponse(body)


@router.post("/manager/campaigns/{name}/collectors/{collector}/pause")
async def pause(
    request: Request, ctx: Context, who: Manager, name: CampaignName, collector: CollectorName
) -> Response:
    await check_csrf(request, who)
    try:
        await collector_control.force_pause(ctx, who, name, collector)
    except WebError as exc:
        return await _refused(request, ctx, who, exc, name)
    return RedirectResponse("/manager?done=collector", status_code=303)


@router.post("/manager/campaigns/{name}/collectors/{collector}/logout")
async def logout(
    request: Request, ctx: Context, who: Manager, name: CampaignName, collector: CollectorName
) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    end_call = fields.get("end_call") == "true"
    try:
        await collector_control.force_logout(ctx, who, name, collector, end_call=end_call)
    except WebError as exc:
        return await _refused(request, ctx, who, exc, name)
    return RedirectResponse("/manager?done=collector", status_code=303)


async def _refused(
    request: Request, ctx: WebContext, who: Principal, exc: WebError, name: str
) -> Response:
    if exc.status == 403 or name not in ctx.visible_campaigns(who):
        raise exc  # nowhere on the page to say it
    return await manager_page(
        request, ctx, who, status=exc.status, error=exc.reason, error_campaign=name
    )
