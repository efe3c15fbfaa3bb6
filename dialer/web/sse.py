"""Server-sent events for a collector: their state changes and the screen pop when a call
is bridged to them, pushed the moment the engine decides.

A stream starts with the current state (so a page never misses what happened between its
rendering and the connection), then relays the events hub's messages for that collector,
with a comment line as keep-alive. It ends when the client goes away or the daemon stops.
The console renders messages as HTML fragments for htmx's SSE extension; the API sends
JSON (`GET /api/v1/me/events`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from dialer.web import collector_ops
from dialer.web.context import Principal, WebContext, WebError
from dialer.web.events_hub import HubMessage

KEEP_ALIVE = 15.0  # seconds between comment lines on a quiet stream
POLL = 0.5  # seconds between checks that the daemon is not stopping
RETRY_MS = 3000

# Turns a hub message (None: the stream's start) into (event name, data) pairs.
Renderer = Callable[[HubMessage | None], Awaitable[list[tuple[str, str]]]]


def format_event(name: str, data: str) -> str:
    """One SSE event; every line of `data` gets its own `data:` field."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def relay(ctx: WebContext, collector_id: str, render: Renderer) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    with ctx.hub.subscription(collector_id) as queue:
        for name, data in await render(None):
            yield format_event(name, data)
        quiet_since = time.monotonic()
        while not ctx.dialer.stopping:
            try:
                async with asyncio.timeout(POLL):
                    message = await queue.get()
            except TimeoutError:
                if time.monotonic() - quiet_since >= KEEP_ALIVE:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            if message is None:
                break
            quiet_since = time.monotonic()
            for name, data in await render(message):
                yield format_event(name, data)


def stream(
    request: Request, ctx: WebContext, who: Principal, render: Renderer
) -> StreamingResponse:
    collector_id = collector_ops.collector_id_of(who)
    ctx.hub.track(collector_id)
    return StreamingResponse(
        relay(ctx, collector_id, render),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def json_stream(request: Request, ctx: WebContext, who: Principal) -> StreamingResponse:
    """The API's stream: `state` with the collector's view, `call` with the case."""

    async def render(message: HubMessage | None) -> list[tuple[str, str]]:
        if message is not None and message.kind in ("call", "ended"):
            data = dict(message.data)
            if message.kind == "call":
                try:
                    screen = await collector_ops.case_screen(ctx, who, int(data["case_id"]))
                    data["case"] = collector_ops.case_dict(screen)
                except WebError:
                    data["case"] = None
            return [(message.kind, json.dumps(data))]
        return [("state", json.dumps(collector_ops.view(ctx, who).as_dict()))]

    return stream(request, ctx, who, render)
