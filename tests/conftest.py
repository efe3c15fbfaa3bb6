"""Fixtures shared by all tests: a database URL per backend, and a migrated engine.

`db_url` runs a test on SQLite (a file under tmp_path) and on PostgreSQL when
DIALER_TEST_POSTGRES_URL is set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Each PostgreSQL test gets a fresh schema with a random name (through the URL's
`search_path` parameter, which dialer.store.db understands), dropped afterwards, so tests
and concurrent runs never see each other's tables. Without the variable the PostgreSQL
variant skips, unless DIALER_REQUIRE_ALL=1, under which it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.store.db import create_engine, migrate

POSTGRES_URL_ENV = "DIALER_TEST_POSTGRES_URL"
_T = TypeVar("_T")


def _run_in_thread(coroutine: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to completion on a private loop, whatever loop the test uses."""

    async def main() -> _T:
        return await coroutine()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def _postgres(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    reason = f"{POSTGRES_URL_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"
    if os.environ.get("DIALER_REQUIRE_ALL") == "1":
        pytest.fail(f"DIALER_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, as a URL string."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'dialer.db'}"
        return
    base = _postgres_url()
    schema = f"test_{secrets.token_hex(6)}"
    url = make_url(base).update_query_dict({"search_path": schema})
    url_text = url.render_as_string(hide_password=False)
    _run_in_thread(lambda: _postgres(base, f"CREATE SCHEMA {schema}"))
    try:
        yield url_text
    finally:
        _run_in_thread(lambda: _postgres(base, f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture
async def migrated_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `db_url` after `upgrade head`."""
    await migrate(db_url)
    engine = create_engine(db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


# Debtor data is sealed with the process's keyring (dialer.store.crypto); the daemon and
# the CLI install it from the settings. Tests get a fixed key through the environment
# (DIALER_PRIVACY__KEY), so a CLI command run in the test's process or in a subprocess
# loads the same keyring the test installed.
TEST_PRIVACY_KEY = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="  # base64 of b"k" * 32


@pytest.fixture(autouse=True)
def privacy_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The installed keyring's key id."""
    from dialer.settings import PrivacySettings
    from dialer.store.crypto import install, installed
    from dialer.store.keyfile import keyring_from

    before = installed()
    monkeypatch.setenv("DIALER_PRIVACY__KEY", TEST_PRIVACY_KEY)
    keyring = keyring_from(PrivacySettings(key=TEST_PRIVACY_KEY))
    install(keyring)
    yield keyring.current
    if before is not None:
        install(before)
