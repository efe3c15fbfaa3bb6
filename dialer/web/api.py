"""The JSON API under /api/v1 (schema: /api/v1/openapi.json, for logged-in users).

Authentication is the session cookie `POST /api/v1/session` sets; every request that
changes something carries the session's CSRF token in the `X-CSRF-Token` header. Errors
are `{"detail": reason}` with a 4xx status: 401 not logged in, 403 not allowed, 404 no such
thing, 409 not in this state, 422 invalid input, 429 too many failed logins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dialer.web import campaign_ops, collector_ops, dispositions, pacing_checks, sse
from dialer.web.callback_check import DispositionRefused
from dialer.web.campaign_ops import PacingIn
from dialer.web.context import (
    Principal,
    WebContext,
    admin,
    check_csrf,
    collector,
    context_of,
    manager,
    principal,
)
from dialer.web.dispositions import DispositionIn
from dialer.web.login import log_in, log_out, set_session_cookie
from dialer.web.my_callbacks import my_callbacks

router = APIRouter(prefix="/api/v1")
CampaignName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
CaseId = Annotated[int, Path(ge=1, le=2**53)]
Limit = Annotated[int, Query(ge=1, le=200)]
Context = Annotated[WebContext, Depends(context_of)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: Username
    password: Password


class ReadyIn(_In):
    campaign: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class PauseIn(_In):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class RunningIn(_In):
    running: bool


async def _changing(request: Request, who: Principal) -> Principal:
    await check_csrf(request, who)
    return who


async def changing(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    return await _changing(request, who)


async def changing_collector(
    request: Request, who: Annotated[Principal, Depends(collector)]
) -> Principal:
    return await _changing(request, who)


async def changing_manager(
    request: Request, who: Annotated[Principal, Depends(manager)]
) -> Principal:
    return await _changing(request, who)


async def changing_admin(request: Request, who: Annotated[Principal, Depends(admin)]) -> Principal:
    return await _changing(request, who)


Anyone = Annotated[Principal, Depends(principal)]
Collector = Annotated[Principal, Depends(collector)]
Manager = Annotated[Principal, Depends(manager)]
Admin = Annotated[Principal, Depends(admin)]


# ----- session ------------------------------------------------------------------------------


@router.post("/session", summary="Log in: sets the session cookie, returns the CSRF token")
async def post_session(
    request: Request, response: Response, ctx: Context, body: LoginIn
) -> dict[str, Any]:
    who, token = await log_in(ctx, request, body.username, body.password)
    set_session_cookie(request, response, ctx, token)
    return {"user": _user(who), "csrf_token": who.session.csrf}


@router.delete("/session", status_code=204, summary="Log out")
async def delete_session(
    response: Response, ctx: Context, who: Annotated[Principal, Depends(changing)]
) -> Response:
    collector_ops.leave_quietly(ctx, who)
    await log_out(ctx, who, response)
    response.status_code = 204
    return response


@router.get("/me", summary="Who I am; a collector's own state and call")
async def get_me(ctx: Context, who: Anyone) -> dict[str, Any]:
    body: dict[str, Any] = {"user": _user(who), "csrf_token": who.session.csrf}
    if who.role == "collector":
        body["collector"] = collector_ops.view(ctx, who).as_dict()
    return body


# ----- collectors ---------------------------------------------------------------------------


@router.post("/me/ready", status_code=202, summary="Go ready (logging in to a campaign)")
async def post_ready(
    ctx: Context,
    who: Annotated[Principal, Depends(changing_collector)],
    body: Annotated[ReadyIn | None, Body()] = None,
) -> dict[str, Any]:
    name = collector_ops.go_ready(ctx, who, body.campaign if body else None)
    return {"campaign": name, "requested": "ready"}


@router.post("/me/pause", status_code=202, summary="Pause with a reason code")
async def post_pause(
    ctx: Context, who: Annotated[Principal, Depends(changing_collector)], body: PauseIn
) -> dict[str, Any]:
    return {"campaign": collector_ops.pause(ctx, who, body.reason), "requested": "paused"}


@router.post("/me/leave", status_code=202, summary="Log out of the campaign")
async def post_leave(
    ctx: Context, who: Annotated[Principal, Depends(changing_collector)]
) -> dict[str, Any]:
    return {"campaign": collector_ops.leave(ctx, who), "requested": "logged_out"}


@router.post("/me/hangup", status_code=202, summary="Hang up the current call")
async def post_hangup(
    ctx: Context, who: Annotated[Principal, Depends(changing_collector)]
) -> dict[str, Any]:
    return {"call_id": await collector_ops.hang_up(ctx, who), "requested": "hangup"}


@router.get("/me/callbacks", summary="My callbacks due from now on (UTC and debtor-local)")
async def get_callbacks(ctx: Context, who: Collector) -> list[dict[str, Any]]:
    return [c.as_dict() for c in await my_callbacks(ctx, who)]


@router.get(
    "/me/events",
    summary="Server-sent events: state, call (screen pop), ended",
    response_class=StreamingResponse,
)
async def get_events(request: Request, ctx: Context, who: Collector) -> StreamingResponse:
    return sse.json_stream(request, ctx, who)


@router.get("/cases/{case_id}", summary="A case: the one routed to me, or of my campaigns")
async def get_case(ctx: Context, who: Anyone, case_id: CaseId) -> dict[str, Any]:
    return collector_ops.case_view(ctx, await collector_ops.case_screen(ctx, who, case_id))


@router.post(
    "/cases/{case_id}/dispositions",
    status_code=201,
    summary="Record a disposition",
    description=(
        "A callback is checked against the case's compliance at that instant; a refusal "
        "(422) carries `errors`, `reasons`, `next_allowed_at` (UTC), `next_allowed_local` "
        "and `timezone` (the debtor's)."
    ),
    response_model=None,
)
async def post_disposition(
    ctx: Context,
    who: Annotated[Principal, Depends(changing_collector)],
    case_id: CaseId,
    body: DispositionIn,
) -> dict[str, Any] | JSONResponse:
    try:
        return (await dispositions.record(ctx, who, case_id, body)).as_dict()
    except DispositionRefused as exc:
        content = {"detail": exc.reason, "errors": exc.errors, **exc.extra}
        return JSONResponse(content, status_code=exc.status)


# ----- managers -----------------------------------------------------------------------------


@router.get("/campaigns", summary="My campaigns with live figures")
async def get_campaigns(ctx: Context, who: Manager) -> list[dict[str, Any]]:
    return [await campaign_ops.figures(ctx, name) for name in ctx.visible_campaigns(who)]


@router.get("/campaigns/{name}", summary="One campaign's live figures")
async def get_campaign(ctx: Context, who: Manager, name: CampaignName) -> dict[str, Any]:
    ctx.require_campaign(who, name)
    return await campaign_ops.figures(ctx, name)


@router.put("/campaigns/{name}/running", summary="Start (true) or pause (false) dialing")
async def put_running(
    ctx: Context,
    who: Annotated[Principal, Depends(changing_manager)],
    name: CampaignName,
    body: RunningIn,
) -> dict[str, Any]:
    return {"running": await campaign_ops.set_running(ctx, who, name, body.running)}


@router.patch("/campaigns/{name}/pacing", summary="Change pacing; applied at once, audited")
async def patch_pacing(
    ctx: Context,
    who: Annotated[Principal, Depends(changing_manager)],
    name: CampaignName,
    body: PacingIn,
) -> dict[str, Any]:
    pacing = await campaign_ops.set_pacing(ctx, who, name, body)
    verdict = campaign_ops.cap_verdict(ctx, name)
    return {
        "pacing": pacing.as_dict(),
        "applied": campaign_ops.applied(ctx.runner(name)),
        "cap_guard": verdict,
        "warnings": pacing_checks.warnings(ctx, name, pacing, verdict),
    }


@router.get("/campaigns/{name}/decisions", summary="Latest pacing decisions, newest first")
async def get_decisions(
    ctx: Context, who: Manager, name: CampaignName, limit: Limit = 20
) -> list[dict[str, Any]]:
    ctx.require_campaign(who, name)
    return campaign_ops.decisions(ctx, name, limit)


@router.get("/campaigns/{name}/audit", summary="Audit log of the campaign, newest first")
async def get_audit(
    ctx: Context, who: Manager, name: CampaignName, limit: Limit = 20
) -> list[dict[str, Any]]:
    ctx.require_campaign(who, name)
    return [
        {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "old": e.old, "new": e.new}
        for e in await campaign_ops.audit(ctx, name, limit)
    ]


def _user(who: Principal) -> dict[str, Any]:
    return {"username": who.username, "role": who.role, "collector": who.user.collector}
