"""Engines, sessions and schema migrations for the case store.

A database is named by one URL string everywhere (settings, CLI, tests, subprocesses):
- SQLite: `sqlite+aiosqlite:///var/dialer.db`; the parent directory is created, and every
  connection runs in WAL mode with foreign keys enforced.
- PostgreSQL: `postgresql+asyncpg://user@host/db`; an optional `?search_path=schema` query
  parameter (not understood by asyncpg itself) becomes the session's search_path, so one
  database can hold several isolated schemas (tests, tenants). Sessions run with
  plan_cache_mode=force_custom_plan (see `create_engine`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SEARCH_PATH_PARAM = "search_path"
# Connections a daemon's pool opens beyond pool_size under a burst (SQLAlchemy's default,
# set by us so that the pool gauge knows the limit without reading the pool's privates).
POOL_OVERFLOW = 10
_SQLITE_BUSY_TIMEOUT_MS = 5000  # the daemon and a CLI import may write at the same time


def create_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for `url`; extra keyword arguments go to SQLAlchemy.

    `sqlite_foreign_keys=False` is for migrations only: Alembic's batch mode rebuilds a
    SQLite table by dropping it, which would cascade into its children with keys enforced.
    """
    sa_url = make_url(url)
    connect_args: dict[str, Any] = dict(kwargs.pop("connect_args", {}))
    if sa_url.get_backend_name() == "sqlite":
        _make_sqlite_parent_dir(sa_url)
    elif sa_url.get_driver_name() == "asyncpg":
        settings = dict(connect_args.get("server_settings", {}))
        # asyncpg prepares every statement; after five runs PostgreSQL may switch to a
        # generic plan and keep it for the connection's life. One planned while a table
        # was empty scans it in full once it holds a portfolio (seen: 40x slower lookups
        # on re-import). Planning our few, small queries each time is cheap.
        settings.setdefault("plan_cache_mode", "force_custom_plan")
        if SEARCH_PATH_PARAM in sa_url.query:
            search_path = sa_url.query[SEARCH_PATH_PARAM]
            sa_url = sa_url.difference_update_query([SEARCH_PATH_PARAM])
            settings["search_path"] = (
                search_path if isinstance(search_path, str) else ",".join(search_path)
            )
        connect_args["server_settings"] = settings
    engine = _create_async_engine(sa_url, connect_args=connect_args, **kwargs)
    if sa_url.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(
            engine, file_backed=_sqlite_path(sa_url) is not None, foreign_keys=sqlite_foreign_keys
        )
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: repositories hand out values, not live rows.
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code: no alembic.ini, works from any directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%"; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def run_migrations(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (blocking; from synchronous code only).

    The migration environment runs its own event loop, so from async code use `migrate`.
    """
    if _loop_running():
        raise RuntimeError("run_migrations() called inside an event loop; use `await migrate(url)`")
    command.upgrade(alembic_config(url), revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` from async code (runs Alembic in a worker thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at `url` to `revision` ("base" empties it)."""
    command.downgrade(alembic_config(url), revision)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _sqlite_path(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _make_sqlite_parent_dir(url: URL) -> None:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: AsyncEngine, *, file_backed: bool, foreign_keys: bool) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            if file_backed:
                # WAL lets readers (web pages) proceed while the daemon writes.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)
