"""The collector's console: state and controls, the screen pop (pushed over SSE), the
disposition form after the call, the wrap-up countdown and the collector's callbacks.

Forms post here and come back to the console (303); a refused action re-renders the
console with the reason and its 4xx status. The live parts are fragments the SSE stream
swaps in (`state`, `call`), rendered by the same templates as the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from dialer.web import collector_ops, dispositions, sse
from dialer.web.context import (
    Principal,
    WebContext,
    WebError,
    check_csrf,
    collector,
    context_of,
    form_fields,
)
from dialer.web.events_hub import HubMessage
from dialer.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Collector = Annotated[Principal, Depends(collector)]
NOTICES = {
    "ready": "You are ready for calls.",
    "paused": "You are paused.",
    "left": "You left the campaign.",
    "hangup": "Call ended.",
    "recorded": "Disposition recorded.",
}


async def _call_values(ctx: WebContext, who: Principal) -> dict[str, Any]:
    view = collector_ops.view(ctx, who)
    case = None
    if view.routed is not None:
        try:
            screen = await collector_ops.case_screen(ctx, who, view.routed.case_id)
            case = collector_ops.case_dict(screen)
        except WebError:
            case = None
    return {"view": view, "case": case, "kinds": KINDS}


KINDS = (
    ("promise_to_pay", "Promise to pay"),
    ("callback", "Callback"),
    ("refused", "Refused"),
    ("wrong_party", "Wrong party"),
    ("dispute", "Dispute"),
    ("cease_communication", "Cease communication"),
    ("note", "Note"),
)


async def console_page(
    request: Request,
    ctx: WebContext,
    who: Principal,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    values = await _call_values(ctx, who)
    notice = NOTICES.get(request.query_params.get("done", ""))
    return render(
        ctx, request, "console.html", who, status, title="Console", error=error,
        notice=notice, callbacks=await collector_ops.callbacks(ctx, who), form=form or {},
        **values,
    )  # fmt: skip


def _fragment(ctx: WebContext, template: str, who: Principal, **values: Any) -> str:
    return ctx.templates.get_template(template).render(who=who, csrf=who.session.csrf, **values)


@router.get("/console")
async def console(request: Request, ctx: Context, who: Collector) -> Response:
    return await console_page(request, ctx, who)


@router.get("/console/events")
async def console_events(request: Request, ctx: Context, who: Collector) -> StreamingResponse:
    async def render_message(message: HubMessage | None) -> list[tuple[str, str]]:
        out = []
        if message is None or message.kind in ("call", "ended"):
            values = await _call_values(ctx, who)
            out.append(("call", _fragment(ctx, "_call.html", who, form={}, **values)))
        view = collector_ops.view(ctx, who)
        out.append(("state", _fragment(ctx, "_state.html", who, view=view)))
        return out

    return sse.stream(request, ctx, who, render_message)


async def _act(request: Request, ctx: WebContext, who: Principal, action: str) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    try:
        if action == "ready":
            collector_ops.go_ready(ctx, who, fields.get("campaign") or None)
        elif action == "paused":
            collector_ops.pause(ctx, who, str(fields.get("reason", "")))
        elif action == "left":
            collector_ops.leave(ctx, who)
        else:
            await collector_ops.hang_up(ctx, who)
    except WebError as exc:
        return await console_page(request, ctx, who, status=exc.status, error=exc.reason)
    return RedirectResponse(f"/console?done={action}", status_code=303)


@router.post("/console/ready")
async def ready(request: Request, ctx: Context, who: Collector) -> Response:
    return await _act(request, ctx, who, "ready")


@router.post("/console/pause")
async def pause(request: Request, ctx: Context, who: Collector) -> Response:
    return await _act(request, ctx, who, "paused")


@router.post("/console/leave")
async def leave(request: Request, ctx: Context, who: Collector) -> Response:
    return await _act(request, ctx, who, "left")


@router.post("/console/hangup")
async def hangup(request: Request, ctx: Context, who: Collector) -> Response:
    return await _act(request, ctx, who, "hangup")


@router.post("/console/disposition")
async def disposition(request: Request, ctx: Context, who: Collector) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    data = {k: v for k, v in fields.items() if k != "csrf_token" and k != "case_id" and v != ""}
    case_id = str(fields.get("case_id", ""))
    try:
        if not case_id.isdigit() or len(case_id) > 15:
            raise WebError(422, "case_id must be a case number")
        parsed = dispositions.DispositionIn.model_validate(data)
        await dispositions.record(ctx, who, int(case_id), parsed)
    except ValidationError as exc:
        reason = "; ".join(_message(e) for e in exc.errors(include_input=False))
        return await console_page(request, ctx, who, status=422, error=reason, form=data)
    except WebError as exc:
        return await console_page(request, ctx, who, status=exc.status, error=exc.reason, form=data)
    return RedirectResponse("/console?done=recorded", status_code=303)


def _message(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
