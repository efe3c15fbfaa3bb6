"""The Starlette/FastAPI application served by uvicorn inside the daemon's event loop."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from dialer.daemon import Daemon


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


def create_app(daemon: Daemon) -> FastAPI:
    app = FastAPI(
        title="dialer",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    allow = daemon.settings.web.metrics_allow

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        trunk_ok = daemon.trunk is not None and daemon.trunk.registered
        body = {
            "status": "ok" if trunk_ok else "degraded",
            "trunk": trunk_ok,
            "campaigns": sorted(daemon.runners),
        }
        return JSONResponse(body, status_code=200 if trunk_ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not _allowed(client, allow):
            return PlainTextResponse("forbidden\n", status_code=403)
        return Response(daemon.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
