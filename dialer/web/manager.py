"""The manager's page: each of their campaigns with live figures (refreshed every few
seconds by htmx) and, when it is not dialing, why (the trunk is down, the store is, it is
paused, outside its window ...: dialer.web.banner), start/pause, the pacing form with a
warning in plain words when the pacing in force is risky (dialer.web.pacing_checks), the
latest pacing decisions (a plain sentence each, the pacer's record one click away), the
collectors with Pause and Log out (dialer.web.collector_control_page) and the audit log.
Changes apply to the running engine at once and are audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dialer.web import campaign_ops, collector_control, pacing_checks
from dialer.web.banner import banner_for
from dialer.web.context import (
    Principal,
    WebContext,
    WebError,
    check_csrf,
    context_of,
    form_fields,
    manager,
)
from dialer.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
MODES = ("preview", "progressive", "ratio", "adaptive", "predictive")


async def _panel(ctx: WebContext, name: str) -> dict[str, Any]:
    return {
        "figures": await campaign_ops.figures(ctx, name),
        "decisions": campaign_ops.decisions(ctx, name, 10),
        "banner": banner_for(ctx, name),  # why it is not dialing: a trunk down, a hold ...
    }


async def manager_page(
    request: Request,
    ctx: WebContext,
    who: Principal,
    *,
    status: int = 200,
    error: str | None = None,
    error_campaign: str | None = None,
) -> Response:
    campaigns = []
    for name in ctx.visible_campaigns(who):
        panel = await _panel(ctx, name)
        pacing = campaign_ops.current_pacing(ctx, name)
        verdict = campaign_ops.cap_verdict(ctx, name)
        campaigns.append(
            {
                "name": name,
                "pacing": pacing,
                "warnings": pacing_checks.warnings(ctx, name, pacing, verdict),
                "audit": await campaign_ops.audit(ctx, name, 10),
                "profile": ctx.dialer.profiles[name].label,
                "roster": collector_control.roster(ctx, name),  # force pause / logout
                **panel,
            }
        )
    done = request.query_params.get("done")
    notice = {
        "pacing": "Pacing applied.",
        "running": "Campaign updated.",
        "collector": "Collector updated (see the audit log).",
    }.get(done or "")
    return render(
        ctx, request, "manager.html", who, status, title="Campaigns", campaigns=campaigns,
        modes=MODES, error=error, error_campaign=error_campaign, notice=notice,
        presence_timeout=ctx.presence.timeout,
    )  # fmt: skip


@router.get("/manager")
async def manager_home(request: Request, ctx: Context, who: Manager) -> Response:
    return await manager_page(request, ctx, who)


@router.get("/manager/campaigns/{name}/panel")
async def panel(request: Request, ctx: Context, who: Manager, name: CampaignName) -> HTMLResponse:
    ctx.require_campaign(who, name)
    body = ctx.templates.get_template("_figures.html").render(
        who=who, name=name, **(await _panel(ctx, name))
    )
    return HTMLResponse(body)


@router.post("/manager/campaigns/{name}/running")
async def running(request: Request, ctx: Context, who: Manager, name: CampaignName) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    value = fields.get("running")
    try:
        if value not in ("true", "false"):
            raise WebError(422, "running must be true or false")
        await campaign_ops.set_running(ctx, who, name, value == "true")
    except WebError as exc:
        return await _refused(request, ctx, who, exc, name)
    return RedirectResponse("/manager?done=running", status_code=303)


@router.post("/manager/campaigns/{name}/pacing")
async def pacing(request: Request, ctx: Context, who: Manager, name: CampaignName) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    data = {k: v for k, v in fields.items() if k != "csrf_token" and v != ""}
    try:
        change = campaign_ops.PacingIn.model_validate(data)
        await campaign_ops.set_pacing(ctx, who, name, change)
    except ValidationError as exc:
        reason = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        return await _refused(request, ctx, who, WebError(422, reason), name)
    except WebError as exc:
        return await _refused(request, ctx, who, exc, name)
    return RedirectResponse("/manager?done=pacing", status_code=303)


async def _refused(
    request: Request, ctx: WebContext, who: Principal, exc: WebError, name: str
) -> Response:
    if exc.status in (403, 404):
        raise exc
    return await manager_page(
        request, ctx, who, status=exc.status, error=exc.reason, error_campaign=name
    )
