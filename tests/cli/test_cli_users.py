"""`dialer user passwd | disable | enable | delete | sessions | list` on SQLite and PostgreSQL:
what each does to the store (sessions ended, the account kept or gone, audit rows), and
that bad input is one line on stderr with a non-zero status, never a traceback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from dialer.cli import app as cli_app
from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.store.db import create_engine, session_factory
from dialer.store.history_repo import AuditRepository
from dialer.store.records import NewCase
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
)
from dialer.store.session_repo import SessionRepository, session_ref
from dialer.store.tables import AuditLog
from dialer.store.web_repo import UserRepository
from dialer.web.auth import Passwords

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]
PW = "s3cret-password"
runner = CliRunner()


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f'database: {{url: "{db_url}"}}\n'
        "campaigns: [{name: c1, compliance_profile: us_tsr_regf}]\n"
    )
    return path


def store(db_url: str, work: Callable[[Sessions], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(db_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def user(config: Path, *args: str, input: str | None = None) -> Any:
    return runner.invoke(cli_app, ["user", *args, "-c", str(config)], input)


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def one_line_error(result: Any, code: int) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return str(lines[0])


def add(config: Path, name: str, role: str = "collector", *extra: str) -> None:
    ok(user(config, "add", name, "--role", role, *extra, "--password-stdin", input=PW + "\n"))


def open_sessions(db_url: str, username: str, n: int) -> list[str]:
    """`n` live sessions of `username`, as logins would leave them; their ids."""
    now = datetime.now(UTC)
    ids = [f"{username}-session-{i}-{now.timestamp()}" for i in range(n)]

    async def work(sessions: Sessions) -> None:
        async with sessions() as db, db.begin():
            for i, session_id in enumerate(ids):
                await SessionRepository(db).create(
                    session_id, username, now, now + timedelta(hours=1), f"10.0.{i}.0/24"
                )

    store(db_url, work)
    return ids


def live(db_url: str, username: str) -> int:
    async def work(sessions: Sessions) -> int:
        async with sessions() as db:
            return len(await SessionRepository(db).live_for_user(username, datetime.now(UTC)))

    return store(db_url, work)


def audit(db_url: str, username: str) -> list[tuple[str, str]]:
    async def work(sessions: Sessions) -> list[tuple[str, str]]:
        async with sessions() as db:
            rows = await db.execute(
                select(AuditLog.action, AuditLog.actor)
                .where(AuditLog.subject == f"user:{username}")
                .order_by(AuditLog.id)
            )
            return [(a, b) for a, b in rows.tuples()]

    return store(db_url, work)


def password_ok(db_url: str, username: str, password: str) -> bool:
    async def work(sessions: Sessions) -> str:
        async with sessions() as db:
            found = await UserRepository(db).get(username)
        assert found is not None
        return found.password_hash

    return Passwords().verify(store(db_url, work), password)


def test_passwd_sets_the_password_and_ends_the_sessions(config: Path, db_url: str) -> None:
    add(config, "dora")
    add(config, "eve")
    open_sessions(db_url, "dora", 2)
    open_sessions(db_url, "eve", 1)
    out = ok(user(config, "passwd", "dora", "--password-stdin", input="a new long one\n"))
    assert out.strip() == "password of dora changed; 2 sessions ended"
    assert (live(db_url, "dora"), live(db_url, "eve")) == (0, 1)
    assert password_ok(db_url, "dora", "a new long one")
    assert not password_ok(db_url, "dora", PW)
    [(action, actor)] = [a for a in audit(db_url, "dora") if a[0] != "user.add"]
    assert action == "user.password" and actor.startswith("cli")
    # Prompted (twice, the second a confirmation), as `user add` does.
    prompted = user(config, "passwd", "eve", input="prompted pw 1\nprompted pw 1\n")
    assert ok(prompted).strip().endswith("password of eve changed; 1 session ended")
    assert password_ok(db_url, "eve", "prompted pw 1")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "the password must not be empty"),
        ("short", "at least 8 characters"),
        ("DORA-the-explorer", "must not be the username"),
        ("        ", "must not be only spaces"),
    ],
)
def test_passwd_refuses_a_weak_password(
    config: Path, db_url: str, password: str, reason: str
) -> None:
    add(config, "dora-the-explorer")
    result = user(config, "passwd", "dora-the-explorer", "--password-stdin", input=password + "\n")
    assert reason in one_line_error(result, 2)
    assert password_ok(db_url, "dora-the-explorer", PW)  # unchanged


def test_disable_ends_sessions_and_enable_lets_in_again(config: Path, db_url: str) -> None:
    add(config, "dora")
    open_sessions(db_url, "dora", 3)
    assert ok(user(config, "disable", "dora")).strip() == "dora disabled; 3 sessions ended"
    assert live(db_url, "dora") == 0
    assert ok(user(config, "disable", "dora")).strip() == "dora was already disabled"
    assert "\tdisabled\t" in ok(user(config, "list"))
    assert ok(user(config, "enable", "dora")).strip() == "dora enabled"
    assert ok(user(config, "enable", "dora")).strip() == "dora was already enabled"
    assert "dora\tcollector\tdora\tenabled\tnever\t0" in ok(user(config, "list"))
    actions = [a for a, _ in audit(db_url, "dora")]
    assert actions == ["user.add", "user.disable", "user.enable"]


def test_delete_an_account_without_history(config: Path, db_url: str) -> None:
    add(config, "temp", "manager")
    open_sessions(db_url, "temp", 1)
    refused = user(config, "delete", "temp", input="n\n")
    assert "not deleted" in one_line_error(refused, 1)
    assert (
        ok(user(config, "delete", "temp", "--yes")).strip() == "user temp deleted; 1 session ended"
    )
    assert "temp" not in ok(user(config, "list"))

    async def sessions_left(sessions: Sessions) -> int:
        async with sessions() as db:
            return len(await SessionRepository(db).for_user("temp"))

    assert store(db_url, sessions_left) == 0  # the rows went with the account
    assert [a for a, _ in audit(db_url, "temp")] == ["user.add", "user.delete"]
    # The name is free again.
    add(config, "temp", "collector")


def test_delete_refuses_an_account_with_history(config: Path, db_url: str) -> None:
    add(config, "boss", "manager")
    add(config, "dora")

    async def history(sessions: Sessions) -> None:
        now = datetime.now(UTC)
        async with sessions() as db, db.begin():
            await AuditRepository(db).record("boss", "campaign.run", "campaign:c1", at=now)
            campaign = await CampaignRepository(db).upsert("c1", compliance_profile="us_tsr_regf")
            case = NewCase(
                debtor_ref="R1", display_name_masked="J*** S****", balance=Decimal("10.00"),
                days_past_due=40, bucket=Bucket.M2, numbers=(PhoneNumber("+12125550101"),),
            )  # fmt: skip
            await CaseRepository(db).upsert_many(campaign, [case])
            case_id = await CaseRepository(db).id_for_ref(campaign, "R1")
            assert case_id is not None
            dora = await CollectorRepository(db).get("dora")
            assert dora is not None
            attempts = AttemptRepository(db)
            await attempts.start("call-1", case_id, campaign, "+12125550101", now)
            await attempts.finish(
                "call-1", ContactOutcome.CONVERSATION, ended_at=now, collector_id=dora.id
            )

    store(db_url, history)
    boss = one_line_error(user(config, "delete", "boss", "--yes"), 1)
    assert "cannot be deleted" in boss and "1 audit entry" in boss
    assert "disable the account instead (dialer user disable boss)" in boss
    dora = one_line_error(user(config, "delete", "dora", "--yes"), 1)
    assert "1 call attempt" in dora and "audit" not in dora.split("keeps")[1].split(";")[0]
    listed = ok(user(config, "list"))
    assert "boss\tmanager" in listed and "dora\tcollector" in listed


def test_sessions_lists_live_sessions_without_secrets(config: Path, db_url: str) -> None:
    add(config, "dora")
    assert ok(user(config, "sessions", "dora")).strip() == "dora has no live session"
    ids = open_sessions(db_url, "dora", 2)
    out = ok(user(config, "sessions", "dora"))
    rows = [line.split("\t") for line in out.strip().splitlines()]
    assert {row[0]: row[3] for row in rows} == {
        session_ref(ids[0]): "10.0.0.0/24",
        session_ref(ids[1]): "10.0.1.0/24",
    }
    assert all(len(row) == 4 and row[1] == row[2] for row in rows)  # never seen since
    for session_id in ids:
        assert session_id not in out
    assert ok(user(config, "sessions", "dora", "--end")).strip() == "2 sessions of dora ended"
    assert live(db_url, "dora") == 0


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["passwd", "zed", "--password-stdin"], 1, "no user 'zed'"),
        (["disable", "zed"], 1, "no user 'zed'"),
        (["enable", "zed"], 1, "no user 'zed'"),
        (["delete", "zed", "--yes"], 1, "no user 'zed'"),
        (["sessions", "zed"], 1, "no user 'zed'"),
        (["disable"], 2, "Missing argument"),
        (["disable", "dora", "--force"], 2, "No such option: --force"),
        (["passwd", "dora", "--role", "admin"], 2, "No such option: --role"),
        (["frobnicate", "dora"], 2, "No such command 'frobnicate'"),
        (["add", "x", "--role", "boss", "--password-stdin"], 2, "--role must be one of"),
    ],
)
def test_bad_input_is_one_line(config: Path, args: list[str], code: int, says: str) -> None:
    add(config, "dora")
    result = user(config, *args, input="long enough pw\n")
    assert says in one_line_error(result, code)
