"""Request-body limits: no body larger than `web.max_body_bytes`, none slower than
`web.body_timeout_seconds`.

The web server shares the dialer's event loop, so a request must never make it hold a large
body in memory or wait on a client for ever:

- a request whose Content-Length is over the limit is answered 413 at once, before any of
  its body is read (the application never sees it);
- a body without a length (chunked) is counted as it streams in; the message that takes it
  over the limit is not passed on, and the request is answered 413;
- the time the application spends waiting for the body's pieces is summed; past the budget
  the request is answered 408, however slowly the bytes keep dripping in.

Refusals raised while the application reads the body are `HTTPException`s, so the app's own
handlers render them (JSON under /api, a page elsewhere). Every refused response carries
`Connection: close`. Before a 413 for a streamed body goes out, up to another
`max_body_bytes` of it are read and dropped (within what is left of the time budget): most
clients read the answer only once they have sent their whole body, and a server closing
on unread data resets the connection, answer and all. Nothing is kept: uvicorn reads ahead
at most its flow-control high-water mark (64 KiB) beyond what the application asked for,
so memory per request stays bounded by the limit.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dialer.logs import event

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body not received within {seconds:g} s")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses such a request before us
    return None


class _Body:
    """The request's `receive`, counting bytes and the time spent waiting for them."""

    def __init__(self, receive: Receive, limit: int, budget: float) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = budget
        self._left = budget
        self.received = 0
        self.complete = False
        self.refused: HTTPException | None = None
        self.dropped = 0

    async def receive(self) -> Message:
        if self.refused is not None:
            return {"type": "http.disconnect"}
        if self.complete:  # only a disconnect can come now (streaming responses wait for it)
            return await self._receive()
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(max(self._left, 0.0)):
                message = await self._receive()
        except TimeoutError:
            self.refused = BodyTooSlow(self.timeout)
            raise self.refused from None
        self._left -= loop.time() - started
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.refused = BodyTooLarge(self.limit)
                raise self.refused
            if not message.get("more_body", False):
                self.complete = True
        elif message["type"] == "http.disconnect":
            self.complete = True
        return message

    async def drain(self, max_bytes: int) -> int:
        """Read and drop the rest of a refused body, up to `max_bytes` and the time left;
        returns how many bytes were dropped."""
        dropped = 0
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + max(self._left, 0.0)):
                while not self.complete and dropped <= max_bytes:
                    message = await self._receive()
                    dropped += len(message.get("body", b""))
                    if message["type"] != "http.request" or not message.get("more_body", False):
                        self.complete = True
        except TimeoutError:
            pass
        return dropped


class BodyLimits:
    """ASGI middleware enforcing the body size limit and the slow-body timeout."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            refusal = BodyTooLarge(self.max_bytes)
            _log_refusal(scope, refusal, declared=declared)
            await _answer(scope, send, refusal)
            return
        body = _Body(receive, self.max_bytes, self.timeout_seconds)

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and body.refused is not None:
                MutableHeaders(scope=message)["connection"] = "close"
                if isinstance(body.refused, BodyTooLarge):
                    body.dropped = await body.drain(self.max_bytes)
            await send(message)

        try:
            await self.app(scope, body.receive, send_closing)
        finally:
            if body.refused is not None:
                _log_refusal(scope, body.refused, received=body.received, dropped=body.dropped)


async def _answer(scope: Scope, send: Send, refusal: HTTPException) -> None:
    """Answer without the application: JSON under /api, plain text elsewhere."""
    if str(scope.get("path", "")).startswith("/api/"):
        content, media = json.dumps({"detail": refusal.detail}).encode(), b"application/json"
    else:
        content, media = f"{refusal.detail}\n".encode(), b"text/plain; charset=utf-8"
    headers = [
        (b"content-type", media),
        (b"content-length", str(len(content)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _log_refusal(scope: Scope, refusal: HTTPException, **extra: int) -> None:
    client = scope.get("client")
    event(
        log,
        "web.body_refused",
        logging.WARNING,
        status=refusal.status_code,
        reason=refusal.detail,
        method=scope.get("method"),
        path=scope.get("path"),
        client=client[0] if client else None,
        **extra,
    )
