"""Pages everyone shares: the login form, logging out, the start page and a case's page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dialer.web import collector_ops
from dialer.web.auth import LOGIN_COOKIE, LOGIN_FORM_MAX_AGE
from dialer.web.context import (
    Principal,
    WebContext,
    WebError,
    check_csrf,
    context_of,
    form_fields,
    principal,
    principal_or_none,
)
from dialer.web.login import log_in, log_out, set_session_cookie

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(context_of)]


def render(
    ctx: WebContext,
    request: Request,
    template: str,
    who: Principal | None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    values.setdefault("title", "dialer")
    body = ctx.templates.get_template(template).render(
        request=request, who=who, csrf=who.session.csrf if who else "", **values
    )
    return HTMLResponse(body, status_code=status)


def home_of(who: Principal) -> str:
    return "/console" if who.role == "collector" else "/manager"


def safe_next(target: str | None) -> str | None:
    """Only a local path (no scheme, no host, no backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _login_page(
    ctx: WebContext, request: Request, status: int = 200, error: str | None = None
) -> HTMLResponse:
    cookie, nonce = ctx.signer.login_token()
    next_path = safe_next(request.query_params.get("next")) or ""
    response = render(
        ctx, request, "login.html", None, status, title="Log in", form_token=nonce,
        error=error, next_path=next_path,
    )  # fmt: skip
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_FORM_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, ctx: Context) -> Response:
    who = await principal_or_none(request)
    if who is not None:
        return RedirectResponse(home_of(who), status_code=303)
    return _login_page(ctx, request)


@router.post("/login")
async def login_submit(request: Request, ctx: Context) -> Response:
    fields = await form_fields(request)
    if not ctx.signer.login_form_ok(request.cookies.get(LOGIN_COOKIE), fields.get("csrf_token")):
        return _login_page(ctx, request, 403, "the login form expired; please try again")
    username = str(fields.get("username", ""))[:100]
    password = str(fields.get("password", ""))[:1000]
    if not username or not password:
        return _login_page(ctx, request, 422, "enter your username and password")
    try:
        who, token = await log_in(ctx, request, username, password)
    except WebError as exc:
        return _login_page(ctx, request, exc.status, exc.reason)
    target = safe_next(str(fields.get("next", ""))) or home_of(who)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, ctx, token)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, who: Annotated[Principal, Depends(principal)]) -> Response:
    await check_csrf(request, who)
    ctx = context_of(request)
    collector_ops.leave_quietly(ctx, who)
    response = RedirectResponse("/login", status_code=303)
    await log_out(ctx, who, response)
    return response


@router.get("/")
async def index(request: Request) -> Response:
    who = await principal_or_none(request)
    return RedirectResponse("/login" if who is None else home_of(who), status_code=303)


@router.get("/cases/{case_id}")
async def case_page(
    request: Request,
    ctx: Context,
    who: Annotated[Principal, Depends(principal)],
    case_id: Annotated[int, Path(ge=1, le=2**53)],
) -> Response:
    screen = await collector_ops.case_screen(ctx, who, case_id)
    return render(
        ctx, request, "case.html", who, title=f"Case {case_id}",
        case=collector_ops.case_view(ctx, screen),
    )  # fmt: skip


def login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)
