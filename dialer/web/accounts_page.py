"""The Accounts pages: managers and admins see the accounts they manage (`/accounts`) and
manage one (`/accounts/{name}`: a new password, disable or enable, delete, its sessions);
everyone changes their own password on `/password`. The work is dialer.web.accounts'.

A refused form answers 4xx with every reason listed at the form. The forms are posted by
htmx where scripts run (static/accounts.js): only the list of reasons is replaced, so
what was typed stays in the fields, passwords included, without the server ever sending
a password back. Without scripts the page comes back with the reasons and the password
fields empty. A change that went through redirects (303, or HX-Redirect for htmx) to the
page with a notice.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from dialer.web import accounts
from dialer.web.context import (
    Principal,
    WebContext,
    WebError,
    check_csrf,
    context_of,
    form_fields,
    manager,
    principal,
)
from dialer.web.login import set_session_cookie
from dialer.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
Anyone = Annotated[Principal, Depends(principal)]
Username = Annotated[str, Path(min_length=1, max_length=100)]
NOTICES = {
    "password": "Password changed.",
    "disabled": "Account disabled.",
    "enabled": "Account enabled.",
    "deleted": "Account deleted.",
    "sessions": "Sessions ended.",
}


def _done(request: Request, target: str) -> Response:
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _notice(request: Request) -> str | None:
    notice = NOTICES.get(request.query_params.get("done") or "")
    ended = request.query_params.get("ended", "")
    if notice and ended.isdigit():
        n = int(ended)
        notice += f" {n} {'session' if n == 1 else 'sessions'} ended."
    return notice


def _text(fields: dict[str, Any], name: str, limit: int = 1000) -> str:
    return str(fields.get(name, ""))[: limit + 1]  # one over: "too long" is still said


@router.get("/accounts")
async def accounts_home(request: Request, ctx: Context, who: Manager) -> Response:
    rows = await accounts.accounts(ctx, who)
    return render(
        ctx, request, "accounts.html", who, title="Accounts", rows=rows,
        notice=_notice(request),
    )  # fmt: skip


async def account_page(
    request: Request,
    ctx: WebContext,
    who: Principal,
    username: str,
    *,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
) -> Response:
    row = await accounts.account(ctx, who, username)
    sessions = await accounts.sessions_of(ctx, who, username)
    return render(
        ctx, request, "account.html", who, status, title=f"Account {username}", account=row,
        sessions=sessions, errors=errors or {}, notice=None if errors else _notice(request),
    )  # fmt: skip


@router.get("/accounts/{username}")
async def account_home(
    request: Request, ctx: Context, who: Manager, username: Username
) -> Response:
    return await account_page(request, ctx, who, username)


async def _refusable(
    request: Request, ctx: WebContext, who: Principal, username: str, form: str, exc: WebError
) -> Response:
    if exc.status in (403, 404):
        raise exc
    errors = exc.errors if isinstance(exc, accounts.Refused) else [exc.reason]
    return await account_page(request, ctx, who, username, status=exc.status, errors={form: errors})


@router.post("/accounts/{username}/password")
async def account_password(
    request: Request, ctx: Context, who: Manager, username: Username
) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    try:
        ended = await accounts.set_password(
            ctx, who, username, _text(fields, "password"), _text(fields, "confirm")
        )
    except WebError as exc:
        return await _refusable(request, ctx, who, username, "password", exc)
    return _done(request, f"/accounts/{username}?done=password&ended={ended}")


@router.post("/accounts/{username}/enabled")
async def account_enabled(
    request: Request, ctx: Context, who: Manager, username: Username
) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    value = fields.get("enabled")
    try:
        if value not in ("true", "false"):
            raise WebError(422, "enabled must be true or false")
        change = await accounts.set_enabled(ctx, who, username, value == "true")
    except WebError as exc:
        return await _refusable(request, ctx, who, username, "enabled", exc)
    done = "enabled" if change.user.enabled else "disabled"
    return _done(request, f"/accounts/{username}?done={done}&ended={change.sessions_ended}")


@router.post("/accounts/{username}/delete")
async def account_delete(
    request: Request, ctx: Context, who: Manager, username: Username
) -> Response:
    await check_csrf(request, who)
    try:
        await accounts.delete(ctx, who, username)
    except WebError as exc:
        return await _refusable(request, ctx, who, username, "delete", exc)
    return _done(request, "/accounts?done=deleted")


@router.post("/accounts/{username}/sessions/end")
async def account_sessions_end(
    request: Request, ctx: Context, who: Manager, username: Username
) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    ref = str(fields.get("ref", "")) or None
    try:
        if ref is not None and not (len(ref) == 16 and all(c in "0123456789abcdef" for c in ref)):
            raise WebError(422, "no such session")
        ended = await accounts.end_sessions(ctx, who, username, ref)
    except WebError as exc:
        if exc.status == 404:  # the session ended meanwhile: say so at the form
            exc = WebError(409, exc.reason)
        return await _refusable(request, ctx, who, username, "sessions", exc)
    return _done(request, f"/accounts/{username}?done=sessions&ended={ended}")


# ----- one's own password -------------------------------------------------------------------


def _own_page(
    request: Request, ctx: WebContext, who: Principal, status: int = 200,
    errors: list[str] | None = None,
) -> Response:  # fmt: skip
    notice = None
    if not errors and request.query_params.get("done") == "password":
        ended = request.query_params.get("ended", "")
        notice = "Password changed."
        if ended.isdigit():
            n = int(ended)
            notice += f" {n} other {'session' if n == 1 else 'sessions'} ended."
    return render(
        ctx, request, "password.html", who, status, title="Change my password",
        errors=errors or [], notice=notice,
    )  # fmt: skip


@router.get("/password")
async def own_password_form(request: Request, ctx: Context, who: Anyone) -> Response:
    return _own_page(request, ctx, who)


@router.post("/password")
async def own_password(request: Request, ctx: Context, who: Anyone) -> Response:
    await check_csrf(request, who)
    fields = await form_fields(request)
    try:
        _fresh, token, others = await accounts.change_own_password(
            ctx, request, who, _text(fields, "current_password"), _text(fields, "password"),
            _text(fields, "confirm"),
        )  # fmt: skip
    except WebError as exc:
        errors = exc.errors if isinstance(exc, accounts.Refused) else [exc.reason]
        return _own_page(request, ctx, who, exc.status, errors)
    response = _done(request, f"/password?done=password&ended={others}")
    set_session_cookie(request, response, ctx, token)
    return response
