"""Helpers for the web tests: a real daemon (store, engine, simulated trunk, web server) on a
temporary SQLite database, with accounts, driven over HTTP.

The simulated carrier answers every call live after 0.3 s and calls last an hour unless
the collector hangs up, so a collector who goes ready gets a routed call at once and the
test decides when it ends. There are no simulated collectors: the people are the test's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from dialer.daemon import Daemon
from dialer.settings import Settings, load_settings
from dialer.web.auth import Passwords
from dialer.web.users import add_user

# A Tuesday, 11:00 in New York, 16:00 in London: inside every profile's calling hours.
CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()
PASSWORD = "correct horse battery"
# Cheap hashes keep logins fast in tests; verifying reads the parameters from the hash.
FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
SKILLS = ["es", "late_stage"]
NewPage = Callable[[str], Awaitable[Any]]  # opens a browser page at a base URL
USERS: list[tuple[str, str, str | None]] = [
    ("alice", "collector", "t1"),
    ("bob", "collector", "t1"),
    ("boss", "manager", None),
    ("other", "manager", None),
    ("root", "admin", None),
]


def write_settings(
    tmp_path: Path,
    campaign_extra: str = "",
    pacing: str = "progressive",
    presence_timeout: float = 15.0,
) -> Settings:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web:
  port: 0
  session_secret: "test-secret-for-signing"
  presence_timeout_seconds: {presence_timeout}
trunk:
  kind: simulated
  simulated:
    answer_probability: 1.0
    machine_probability: 0.0
    answer_delay: {{dist: fixed, value: 0.3}}
    failure_delay: {{dist: fixed, value: 1.0}}
collectors: {{count: 0, talk: {{dist: fixed, value: 3600}}}}
demo_cases: 40
drain_timeout: 0
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: {pacing}, target_abandon_rate: 0.025}}
    max_promise_days: 30
    managers: [boss]
{campaign_extra}
  - name: c2
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: adaptive}}
    managers: [other]
"""
    )
    return load_settings(path)


@dataclass
class Running:
    daemon: Daemon
    base_url: str

    def client(self) -> httpx.AsyncClient:
        # Idle connections are dropped well before the server's keep-alive timeout (5 s),
        # so a request never races the server closing the connection it reuses.
        limits = httpx.Limits(keepalive_expiry=1.0)
        return httpx.AsyncClient(
            base_url=self.base_url, follow_redirects=False, timeout=10, limits=limits
        )


@asynccontextmanager
async def running(settings: Settings, speed: float = 1.0) -> AsyncIterator[Running]:
    daemon = Daemon(settings, speed=speed, clock_start=CLOCK_START, seed=1)
    await daemon.prepare()
    for username, role, team in USERS:
        skills = SKILLS if role == "collector" else []
        await add_user(daemon.sessions, FAST, username, PASSWORD, role, team=team, skills=skills)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.wait_ready(), 30)
        await until(lambda: daemon.web_port is not None)
        yield Running(daemon, f"http://127.0.0.1:{daemon.web_port}")
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Wait for `condition()` to be truthy (checked as the event loop turns)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the API; returns the CSRF token."""
    response = await client.post(
        "/api/v1/session", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    client.headers["X-CSRF-Token"] = token
    return token


def state_of(daemon: Daemon, collector: str) -> str | None:
    for runner in daemon.runners.values():
        found = runner.engine.collectors.get(collector)
        if found is not None and found.state.value != "logged_out":
            return found.state.value
    return None
