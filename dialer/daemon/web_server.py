"""The web app served by uvicorn inside the daemon's own event loop (DESIGN §7)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from dialer.daemon.startup import StartupError

GRACEFUL_SHUTDOWN_SECONDS = 2


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: the daemon, not uvicorn, owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """One uvicorn server in the running loop; `port` is the bound port once it listens."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host, self.wanted_port = host, port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            lifespan="off",
            access_log=False,
            # X-Forwarded-* are read by dialer.web.forwarded, from web.trusted_proxies only
            # (uvicorn's own handling would trust any client on 127.0.0.1).
            proxy_headers=False,
            # Open event streams must not hold a stop (SIGTERM) past a couple of seconds.
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self.server = EmbeddedServer(config)
        self.port: int | None = None

    def start(self, group: asyncio.TaskGroup) -> asyncio.Task[None]:
        group.create_task(self._note_port())
        return group.create_task(self._serve())

    def stop(self) -> None:
        self.server.should_exit = True

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot bind
            raise StartupError(
                f"web server cannot listen on {self.host}:{self.wanted_port}"
            ) from exc

    async def _note_port(self) -> None:
        while not self.server.started:
            await asyncio.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
