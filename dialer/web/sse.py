"""Server-sent events for a collector: their state changes and the screen pop when a call
is bridged to them, pushed the moment the engine decides.

A stream starts with the current state (so a page never misses what happened between its
rendering and the connection), then relays the events hub's messages for that collector,
with a comment line as keep-alive. It ends when the client goes away or the daemon stops.
It is also the collector's heartbeat (dialer.web.presence): its opening and its end are
heard, and every `Presence.ping_every` seconds it sends a `presence` event that the page
answers with `POST /api/v1/me/presence`.
The console renders messages as HTML fragments for htmx's SSE extension; the API sends
JSON (`GET /api/v1/me/events`). A stream may also be given a `poll` (called at the start
and then every half second, while the stream is quiet too) for what changes without a
hub message: the campaign banner (dialer.web.banner), sent as a `campaign` event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

from dialer.web import collector_ops
from dialer.web.banner import Banner, BannerWatch
from dialer.web.context import Principal, WebContext, WebError
from dialer.web.events_hub import HubMessage

KEEP_ALIVE = 15.0  # seconds between comment lines on a quiet stream
POLL = 0.5  # seconds between checks that the daemon is not stopping
RETRY_MS = 3000

# Turns a hub message (None: the stream's start) into (event name, data) pairs.
Renderer = Callable[[HubMessage | None], Awaitable[list[tuple[str, str]]]]
# Events for what changed since its last call (empty: nothing did).
Poll = Callable[[], list[tuple[str, str]]]


def format_event(name: str, data: str) -> str:
    """One SSE event; every line of `data` gets its own `data:` field."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def relay(
    ctx: WebContext, collector_id: str, render: Renderer, poll: Poll | None = None
) -> AsyncIterator[str]:
    presence = ctx.presence
    presence.stream_opened(collector_id)
    try:
        async for chunk in _relay(ctx, collector_id, render, poll):
            yield chunk
    finally:  # also when the client went away (the response is cancelled)
        presence.stream_closed(collector_id)


def ping() -> str:
    """The heartbeat's question; the page answers `POST /api/v1/me/presence`."""
    return format_event("presence", json.dumps({"answer": "/api/v1/me/presence"}))


async def _relay(
    ctx: WebContext, collector_id: str, render: Renderer, poll: Poll | None
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    every = ctx.presence.ping_every
    with ctx.hub.subscription(collector_id) as queue:
        for name, data in await render(None) + (poll() if poll else []):
            yield format_event(name, data)
        yield ping()
        quiet_since = pinged = time.monotonic()
        while not ctx.dialer.stopping:
            try:
                async with asyncio.timeout(POLL):
                    message = await queue.get()
            except TimeoutError:
                polled = poll() if poll else []
                for name, data in polled:
                    yield format_event(name, data)
                if time.monotonic() - pinged >= every:
                    quiet_since = pinged = time.monotonic()
                    yield ping()
                elif polled:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= KEEP_ALIVE:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            if message is None:
                break
            quiet_since = time.monotonic()
            for name, data in await render(message) + (poll() if poll else []):
                yield format_event(name, data)
            if quiet_since - pinged >= every:  # a busy stream pings too
                pinged = quiet_since
                yield ping()


def stream(
    request: Request, ctx: WebContext, who: Principal, render: Renderer, poll: Poll | None = None
) -> StreamingResponse:
    collector_id = collector_ops.collector_id_of(who)
    ctx.hub.track(collector_id)
    return StreamingResponse(
        relay(ctx, collector_id, render, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def campaign_of(ctx: WebContext, collector_id: str) -> Callable[[], str | None]:
    def campaign() -> str | None:
        found = ctx.locate(collector_id)
        return None if found is None else found[0]

    return campaign


def json_stream(request: Request, ctx: WebContext, who: Principal) -> StreamingResponse:
    """The API's stream: `state` with the collector's view, `call` with the case,
    `campaign` when the collector's campaign stops or resumes dialing (and why)."""

    async def render(message: HubMessage | None) -> list[tuple[str, str]]:
        if message is not None and message.kind in ("call", "ended"):
            data = dict(message.data)
            if message.kind == "call":
                data["case"] = None  # an unknown inbound caller has no case
                try:
                    if data["case_id"] is not None:
                        screen = await collector_ops.case_screen(ctx, who, int(data["case_id"]))
                        data["case"] = collector_ops.case_view(ctx, screen)
                except WebError:
                    data["case"] = None
            return [(message.kind, json.dumps(data))]
        return [("state", json.dumps(collector_ops.view(ctx, who).as_dict()))]

    def banner_json(banner: Banner | None, campaign: str | None) -> str:
        if banner is None:
            return json.dumps({"campaign": campaign, "dialing": campaign is not None})
        return json.dumps(banner.as_dict())

    collector_id = collector_ops.collector_id_of(who)
    watch = BannerWatch(ctx, campaign_of(ctx, collector_id), banner_json)
    return stream(request, ctx, who, render, watch)
