"""Migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.store.db import (
    alembic_config,
    create_engine,
    downgrade,
    migrate,
    run_migrations,
    session_factory,
)
from dialer.store.tables import AuditLog, Base, UTCDateTime
from dialer.store.web_repo import UserRepository
from dialer.web.auth import Passwords


def _diff(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_upgrade_head_matches_models(migrated_engine: AsyncEngine, db_url: str) -> None:
    async with migrated_engine.connect() as connection:
        assert await connection.run_sync(_diff, Base.metadata) == []
        current = await connection.run_sync(_current)
    assert current == ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()


async def test_comparison_notices_a_drift(migrated_engine: AsyncEngine) -> None:
    # Guards the test above against comparing nothing with nothing.
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    Table("stray", drifted, Column("id", Integer, primary_key=True), Column("x", String(5)))
    async with migrated_engine.connect() as connection:
        diffs = await connection.run_sync(_diff, drifted)
    assert [diff[0] for diff in diffs] == ["add_table"]


def test_sync_upgrade_downgrade_from_any_directory(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini here, nor anywhere: the config is built
    run_migrations(db_url)
    downgrade(db_url, "base")
    run_migrations(db_url)


async def test_sync_runner_refuses_inside_event_loop(db_url: str) -> None:
    with pytest.raises(RuntimeError, match="await migrate"):
        run_migrations(db_url)


async def test_sqlite_file_engine_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'dialer.db'}")
    try:
        async with engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await engine.dispose()
    assert (tmp_path / "a" / "b" / "dialer.db").exists()
    assert (journal, foreign_keys) == ("wal", 1)


async def test_datetimes_come_back_aware_utc(migrated_engine: AsyncEngine) -> None:
    new_york = timezone(timedelta(hours=-5))
    at = datetime(2026, 3, 1, 7, 30, 15, 250000, tzinfo=new_york)
    factory = session_factory(migrated_engine)
    async with factory() as session, session.begin():
        session.add(AuditLog(at=at, actor="t", action="a", subject="s"))
    async with factory() as session:
        stored = await session.scalar(select(AuditLog.at))
        later = await session.scalar(
            select(AuditLog.id).where(AuditLog.at > datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        )
    assert stored == at and stored is not None and stored.tzinfo is UTC
    assert later is not None  # 07:30-05:00 is 12:30 UTC: compared as instants, not text


async def test_naive_datetimes_are_refused(migrated_engine: AsyncEngine) -> None:
    factory = session_factory(migrated_engine)
    async with factory() as session:
        session.add(AuditLog(at=datetime(2026, 3, 1), actor="t", action="a", subject="s"))
        with pytest.raises(Exception, match="naive datetime"):
            await session.flush()


async def test_async_migrate_is_idempotent(db_url: str) -> None:
    await migrate(db_url)
    await migrate(db_url)


async def test_0006_accounts_keep_their_rows_and_disabled_ones_stay_out(db_url: str) -> None:
    """Accounts made before 0006 come out enabled with no last login; a downgrade, whose
    schema cannot say "disabled", leaves a disabled account with a hash nothing matches."""
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    hashes = {name: passwords.hash("pw-" + name) for name in ("ann", "cy")}
    await migrate(db_url, "0005")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            for name, password_hash in hashes.items():
                await connection.execute(
                    text(
                        "INSERT INTO users (username, password_hash, role, created_at)"
                        " VALUES (:name, :hash, 'manager', :at)"
                    ).bindparams(bindparam("at", type_=UTCDateTime())),
                    {"name": name, "hash": password_hash, "at": datetime.now(UTC)},
                )
        await migrate(db_url)
        factory = session_factory(engine)
        async with factory() as session, session.begin():
            users = UserRepository(session)
            ann = await users.get("ann")
            assert ann is not None and ann.enabled and ann.last_login_at is None
            assert await users.set_disabled("ann", datetime.now(UTC))
        await engine.dispose()
        await asyncio.to_thread(downgrade, db_url, "0005")
        async with engine.connect() as connection:
            rows = dict(
                (await connection.execute(text("SELECT username, password_hash FROM users")))
                .tuples()
                .all()
            )
        assert not passwords.verify(rows["ann"], "pw-ann")
        assert rows["cy"] == hashes["cy"] and passwords.verify(rows["cy"], "pw-cy")
        await engine.dispose()
        await migrate(db_url)
        async with factory() as session:
            cy = await UserRepository(session).get("cy")
        assert cy is not None and cy.enabled
    finally:
        await engine.dispose()
