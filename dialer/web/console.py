"""The collector's console: state and controls with the time in the state, the screen pop
(pushed over SSE), the disposition form (typed during the call, recorded once it has
ended), the wrap-up countdown, a banner when the campaign is not dialing, and the
collector's callbacks in the debtor's local time.

Forms post here and come back to the console (303); a refused action re-renders the
console with the reason and its 4xx status, a refused disposition with every problem and
the values as typed. The live parts are fragments the SSE stream swaps in (`state`,
`call`, `campaign`), rendered by the same templates as the page. A notice ("You are ready
for calls.") lives in the state panel and only while the state it speaks of lasts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from dialer.web import collector_ops, dispositions, sse
from dialer.web.banner import Banner, BannerWatch, banner_for
from dialer.web.callback_check import DispositionRefused
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
from dialer.web.my_callbacks import my_callbacks
from dialer.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Collector = Annotated[Principal, Depends(collector)]
_OFF_CALL = frozenset({"wrap_up", "ready", "paused", "logged_out"})
# What a notice says, and the states in which it is still true.
NOTICES: dict[str, tuple[str, frozenset[str]]] = {
    "ready": ("You are ready for calls.", frozenset({"ready"})),
    "paused": ("You are paused.", frozenset({"paused"})),
    "left": ("You left the campaign.", frozenset({"logged_out"})),
    "hangup": ("Call ended.", frozenset({"wrap_up"})),
    "recorded": ("Disposition recorded.", _OFF_CALL),
}
KINDS = (
    ("promise_to_pay", "Promise to pay"),
    ("callback", "Callback"),
    ("refused", "Refused"),
    ("wrong_party", "Wrong party"),
    ("dispute", "Dispute"),
    ("cease_communication", "Cease communication"),
    ("note", "Note"),
)
LABELS = {
    "kind": "Outcome",
    "amount": "Amount",
    "promise_date": "Promise date",
    "callback_at": "Callback time",
    "note": "Note",
}
FLUSH_WAIT = 1.0  # seconds a render waits for the ended call's outcome to be stored


class Notice:
    """A notice from the page's URL, shown while the state it speaks of lasts: once the
    collector's state has left it, it is gone for good (no "ready" while on a call)."""

    def __init__(self, key: str | None) -> None:
        self.text, self.states = NOTICES.get(key or "", ("", frozenset()))
        self.key = key if self.text else None
        self.seen = False
        self.gone = not self.text

    def __call__(self, state: str) -> str | None:
        if self.gone:
            return None
        if state in self.states:
            self.seen = True
            return self.text
        if self.seen:
            self.gone = True
        return None


async def _call_values(ctx: WebContext, who: Principal) -> dict[str, Any]:
    view = collector_ops.view(ctx, who)
    case = hours = None
    routed = view.routed
    if routed is not None:
        if routed.ended_at is not None and ctx.dialer.store_problem is None:
            # The attempt's outcome is written as the call ends: let it land, or "Last
            # contacts" would still read the call as in progress.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_WAIT):
                    await ctx.dialer.flush_writes()
        try:
            if routed.case_id is not None:  # None: an unknown caller (a plain screen)
                screen = await collector_ops.case_screen(ctx, who, routed.case_id)
                case = collector_ops.case_view(ctx, screen)
        except WebError:
            case = None
        profile = ctx.dialer.profiles.get(routed.campaign)
        if profile is not None:
            h = profile.calling_hours
            hours = f"{h.start:%H:%M}-{h.end:%H:%M}"
    return {"view": view, "case": case, "kinds": KINDS, "hours": hours}


async def console_page(
    request: Request,
    ctx: WebContext,
    who: Principal,
    *,
    status: int = 200,
    error: str | None = None,
    form_errors: list[str] | None = None,
    offer: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    values = await _call_values(ctx, who)
    notice = Notice(request.query_params.get("done"))
    view = values["view"]
    return render(
        ctx, request, "console.html", who, status, title="Console", error=error,
        form_errors=form_errors or [], offer=offer, notice_key=notice.key,
        state_notice=notice(view.state), banner=banner_for(ctx, view.campaign),
        callbacks=await my_callbacks(ctx, who), form=form or {}, **values,
    )  # fmt: skip


def _fragment(ctx: WebContext, template: str, who: Principal, **values: Any) -> str:
    return ctx.templates.get_template(template).render(who=who, csrf=who.session.csrf, **values)


@router.get("/console")
async def console(request: Request, ctx: Context, who: Collector) -> Response:
    return await console_page(request, ctx, who)


@router.get("/console/events")
async def console_events(request: Request, ctx: Context, who: Collector) -> StreamingResponse:
    notice = Notice(request.query_params.get("done"))

    async def render_message(message: HubMessage | None) -> list[tuple[str, str]]:
        out = []
        if message is None or message.kind in ("call", "ended"):
            values = await _call_values(ctx, who)
            out.append(("call", _fragment(ctx, "_call.html", who, form={}, **values)))
        view = collector_ops.view(ctx, who)
        state = _fragment(ctx, "_state.html", who, view=view, state_notice=notice(view.state))
        out.append(("state", state))
        return out

    def render_banner(banner: Banner | None, campaign: str | None) -> str:
        return _fragment(ctx, "_banner.html", who, banner=banner)

    collector_id = collector_ops.collector_id_of(who)
    watch = BannerWatch(ctx, sse.campaign_of(ctx, collector_id), render_banner)
    return sse.stream(request, ctx, who, render_message, watch)


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


def parse_form(data: dict[str, Any]) -> dispositions.DispositionIn:
    """The form as a disposition, or DispositionRefused with every problem found."""
    try:
        return dispositions.DispositionIn.model_validate(data)
    except ValidationError as exc:
        errors = [_message(e) for e in exc.errors(include_input=False) if e.get("loc")]
        errors += dispositions.needs(data.get("kind"), data)
        raise DispositionRefused(errors or ["the disposition is not valid"]) from None


@router.post("/console/disposition")
async def disposition(request: Request, ctx: Context, who: Collector) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    data = {k: v for k, v in fields.items() if k != "csrf_token" and k != "case_id" and v != ""}
    case_id = str(fields.get("case_id", ""))
    try:
        if not case_id.isdigit() or len(case_id) > 15:
            raise WebError(422, "case_id must be a case number")
        await dispositions.record(ctx, who, int(case_id), parse_form(data))
    except DispositionRefused as exc:
        offer = exc.extra if exc.extra.get("next_allowed_input") else None
        return await console_page(
            request, ctx, who, status=exc.status, form_errors=exc.errors, offer=offer, form=data
        )
    except WebError as exc:
        return await console_page(
            request, ctx, who, status=exc.status, form_errors=[exc.reason], form=data
        )
    return RedirectResponse("/console?done=recorded", status_code=303)


def _message(error: Any) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    where = LABELS.get(loc[0], ".".join(loc)) if loc else ""
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
