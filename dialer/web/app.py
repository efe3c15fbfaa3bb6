"""The FastAPI (Starlette) application served by uvicorn inside the daemon's event loop.

Open to anyone: the login page, /healthz, /metrics (optionally limited to an allow-list of
addresses) and the static files the login page uses. Everything else needs a session: the
JSON API under /api/v1 (schema at /api/v1/openapi.json), the collector's console and the
manager's pages (campaigns, recordings). Refusals are JSON `{"detail": reason}` under /api
and an HTML page elsewhere; a page asked for without a session redirects to the login form.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import OperationalError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialer import __version__
from dialer.logs import event
from dialer.web import (
    accounts_api,
    accounts_page,
    api,
    collector_control_api,
    collector_control_page,
    console,
    manager,
    pages,
    recordings,
    wallboard_page,
)
from dialer.web.body_limits import BodyLimits
from dialer.web.context import (
    STATIC_DIR,
    LoginRequired,
    Principal,
    WebError,
    new_context,
    principal,
    principal_or_none,
)
from dialer.web.facade import DialerFacade
from dialer.web.forwarded import ForwardedHeaders

log = logging.getLogger(__name__)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
)


class SecurityHeaders:
    """Security headers on every response; no caching of anything but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _allowed(client: str | None, allow: list[str]) -> bool:
    if not allow:
        return True
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _error_page(request: Request, status: int, reason: str) -> Response:
    ctx = request.app.state.web
    who = await principal_or_none(request)
    return pages.render(ctx, request, "error.html", who, status, title=f"Error {status}",
                        code=status, reason=reason)  # fmt: skip


async def on_web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    if isinstance(exc, LoginRequired) and not _is_api(request):
        if request.method == "GET":
            return pages.login_redirect(request)
        return RedirectResponse("/login", status_code=303)
    if _is_api(request):
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)
    return await _error_page(request, exc.status, exc.reason)


async def on_invalid(request: Request, exc: Exception) -> Response:
    """422 naming each bad field and why; the submitted values are never echoed."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    if _is_api(request):
        return JSONResponse({"detail": errors}, status_code=422)
    reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return await _error_page(request, 422, reason)


async def on_store_busy(request: Request, exc: Exception) -> Response:
    """The database refused for now (SQLite busy, a lost connection): 503, try again."""
    event(log, "web.store_unavailable", logging.WARNING, path=request.url.path, error=str(exc))
    reason = "the store is busy; try again"
    if _is_api(request):
        return JSONResponse({"detail": reason}, status_code=503, headers={"Retry-After": "1"})
    return await _error_page(request, 503, reason)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _is_api(request) or request.url.path.startswith("/static/"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    return await _error_page(request, exc.status_code, str(exc.detail))


def create_app(dialer: DialerFacade) -> FastAPI:
    ctx = new_context(dialer)
    for runner in dialer.runners.values():
        if ctx.hub.observe not in runner.step_observers:
            runner.step_observers.append(ctx.hub.observe)
        runner.step_observers.append(ctx.floor.observe)  # the wallboard's charts
    app = FastAPI(
        title="dialer",
        version=__version__,
        description=(api.__doc__ or "").strip(),
        openapi_url=None,  # served below, to logged-in users only
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = ctx
    web = dialer.settings.web
    # The last added runs first: forwarded headers, security headers, then body limits.
    app.add_middleware(
        BodyLimits, max_bytes=web.max_body_bytes, timeout_seconds=web.body_timeout_seconds
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ForwardedHeaders, trusted=web.trusted_proxies)
    app.add_exception_handler(WebError, on_web_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(OperationalError, on_store_busy)
    app.include_router(accounts_api.router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(console.router)
    app.include_router(manager.router)
    app.include_router(recordings.router)
    app.include_router(accounts_page.router)
    app.include_router(collector_control_api.router)
    app.include_router(collector_control_page.router)
    app.include_router(wallboard_page.router)
    app.include_router(wallboard_page.api_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    allow = dialer.settings.web.metrics_allow

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    async def openapi(who: Annotated[Principal, Depends(principal)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """200 while every campaign dials or is not dialing on purpose (paused, outside
        its window, nothing to call...); 503 when one should dial and cannot, or the trunk
        or the store is down. `dialing` says per campaign which, and why."""
        trunk_ok = dialer.trunk_registered and dialer.trunk_problem is None
        store_problem = dialer.store_problem
        campaigns = dialer.health()
        ok = trunk_ok and store_problem is None and not any(h.fault for h in campaigns.values())
        body: dict[str, Any] = {
            "status": "ok" if ok else "degraded",
            "trunk": trunk_ok,
            "store": store_problem is None,
            "campaigns": sorted(dialer.runners),
            "dialing": {
                name: {
                    "state": "dialing" if h.dialing else "not dialing",
                    "fault": h.fault,
                    "reasons": [
                        {"reason": r.reason, "detail": r.detail, "fault": r.fault}
                        for r in h.reasons
                    ],
                }
                for name, h in sorted(campaigns.items())
            },
        }
        if store_problem is not None:
            body["store_problem"] = f"not dialing: {store_problem}"
        trunk_problem = dialer.trunk_problem
        if trunk_problem is not None:
            body["trunk_problem"] = f"not dialing: {trunk_problem}"
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not _allowed(client, allow):
            return PlainTextResponse("forbidden\n", status_code=403)
        return Response(dialer.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return HTMLResponse("", status_code=204)

    return app
