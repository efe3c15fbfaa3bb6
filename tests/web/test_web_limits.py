"""Request-body limits against the real daemon over a real socket: a declared oversized body
is refused before any of it is sent, a streamed one once it passes the limit, a slow one
when its time is up; bodies up to the limit and ordinary logins go through."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from webkit import PASSWORD, Running, login, running, write_settings

from dialer.settings import Settings

LIMIT = 1 << 20  # the default web.max_body_bytes
BODY_TIMEOUT = 0.5
CREDENTIALS = {"username": "alice", "password": PASSWORD}


def limited(tmp_path: Path) -> Settings:
    settings = write_settings(tmp_path)
    assert settings.web.max_body_bytes == LIMIT  # the default is what is tested
    web = settings.web.model_copy(update={"body_timeout_seconds": BODY_TIMEOUT})
    return settings.model_copy(update={"web": web})


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(limited(tmp_path)) as r:
        yield r


class Raw:
    """One HTTP/1.1 exchange on a plain socket, for what httpx will not send."""

    def __init__(self, live: Running) -> None:
        self.port = live.daemon.web_port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def __aenter__(self) -> Raw:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body, read until the server closes the connection."""
        data = await asyncio.wait_for(self.reader.read(-1), timeout)
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split()[1]), headers, body


def post_head(path: str, length: int | None, content_type: str = "application/json") -> bytes:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{size}\r\n\r\n"
    ).encode()


async def test_declared_oversized_body_is_refused_before_it_is_sent(live: Running) -> None:
    async with Raw(live) as raw:
        await raw.send(post_head("/api/v1/session", 500 * 1024 * 1024))  # headers only
        status, headers, body = await raw.response()
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body) == {"detail": f"request body larger than {LIMIT} bytes"}
    async with live.client() as client:  # and the same through httpx, body and all
        response = await client.post("/login", content=b"x" * (LIMIT + 1))
        assert response.status_code == 413 and "larger than" in response.text
        assert (await client.get("/healthz")).status_code == 200


async def test_chunked_oversized_body_is_counted_and_refused(live: Running) -> None:
    async def chunks(total: int, sent: list[int]) -> AsyncIterator[bytes]:
        piece = b"y" * 65536
        while sent[0] < total:
            sent[0] += len(piece)
            yield piece

    async with live.client() as client:
        sent = [0]  # a little over the limit: the client gets to read the answer
        response = await client.post(
            "/api/v1/session",
            content=chunks(LIMIT + LIMIT // 2, sent),
            headers={"content-type": "application/json"},
        )
        assert "content-length" not in response.request.headers  # chunked indeed
        assert response.status_code == 413
        assert response.json() == {"detail": f"request body larger than {LIMIT} bytes"}
        assert response.headers["connection"] == "close"

        # An endless body: the server stops reading soon after the limit and hangs up
        # (the client, still sending, may see the 413 or only the closed connection).
        sent = [0]
        endless = 1 << 30
        try:
            response = await client.post(
                "/login",
                content=chunks(endless, sent),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 413
        except httpx.TransportError:
            pass
        # What the server read (<= 2 x the limit) plus what the sockets' buffers held.
        assert sent[0] < 64 * LIMIT, sent[0]
        assert (await client.get("/healthz")).status_code == 200


async def test_a_stalled_body_times_out(live: Running) -> None:
    async with Raw(live) as raw:
        started = time.monotonic()
        await raw.send(post_head("/api/v1/session", 100) + b'{"username": ')
        status, headers, body = await raw.response()
        waited = time.monotonic() - started
    assert status == 408 and headers["connection"] == "close"
    assert json.loads(body) == {"detail": f"request body not received within {BODY_TIMEOUT:g} s"}
    assert waited >= BODY_TIMEOUT


async def test_a_dripping_body_times_out_though_bytes_keep_coming(live: Running) -> None:
    async with Raw(live) as raw:
        await raw.send(post_head("/login", 1000, "application/x-www-form-urlencoded"))

        async def drip() -> None:  # one byte every 50 ms would take 50 s for the body
            try:
                for _ in range(1000):
                    await raw.send(b"a")
                    await asyncio.sleep(0.05)
            except (ConnectionError, OSError):
                return

        dripping = asyncio.create_task(drip())
        try:
            status, headers, body = await raw.response()
        finally:
            dripping.cancel()
    assert status == 408 and headers["connection"] == "close"
    assert b"not received within" in body


async def test_bodies_up_to_the_limit_and_logins_go_through(live: Running) -> None:
    exact = json.dumps(CREDENTIALS).encode()
    exact += b" " * (LIMIT - len(exact))  # JSON allows trailing white space
    assert len(exact) == LIMIT

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, LIMIT, 65536):
            yield exact[start : start + 65536]

    async with live.client() as client:
        headers = {"content-type": "application/json"}
        response = await client.post("/api/v1/session", content=exact, headers=headers)
        assert response.status_code == 200, response.text
        response = await client.post("/api/v1/session", content=streamed(), headers=headers)
        assert response.status_code == 200, response.text
        await login(client, "alice")
        assert (await client.get("/api/v1/me")).json()["user"]["username"] == "alice"
    async with live.client() as browser:  # the login form, as a browser posts it
        form = await browser.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        response = await browser.post(
            "/login", data={"csrf_token": token, "username": "bob", "password": PASSWORD}
        )
        assert response.status_code == 303 and response.headers["location"] == "/console"
