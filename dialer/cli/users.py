"""`dialer user ...`: accounts for the web console and the API."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dialer.settings import SettingsError, load_settings
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.web_repo import ROLES, UserRepository
from dialer.web.auth import Passwords
from dialer.web.users import UserError, add_user

MIN_PASSWORD = 8
user_app = typer.Typer(help="Web accounts (collectors, managers, admins).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (default: $DIALER_CONFIG or config/dialer.yaml)."
    ),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _database_url(config: Path | None) -> str:
    try:
        return load_settings(config).database.url
    except SettingsError as exc:
        raise _fail(str(exc)) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise _fail(f"the password must have at least {MIN_PASSWORD} characters")
    return password


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    collector: Annotated[
        str | None,
        typer.Option(
            help="Collector (case owner name) a collector account works as; default NAME."
        ),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Team of a new collector.")] = None,
    skill: Annotated[
        list[str] | None, typer.Option(help="Skill of a new collector (repeat the option).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Create an account; the password is prompted for (or read with --password-stdin)."""
    if role not in ROLES:
        raise _fail(f"--role must be one of: {', '.join(ROLES)}")
    if collector is not None and role != "collector":
        raise _fail("--collector is only for collector accounts")
    if not 1 <= len(name) <= 100:
        raise _fail("the name must have 1 to 100 characters")
    url = _database_url(config)
    password = _read_password(password_stdin)

    async def main() -> None:
        await migrate(url)
        engine = create_engine(url)
        try:
            await add_user(
                session_factory(engine), Passwords(), name, password, role, collector,
                team=team, skills=skill or (),
            )  # fmt: skip
        finally:
            await engine.dispose()

    try:
        asyncio.run(main())
    except UserError as exc:
        raise _fail(str(exc), 1) from None
    console.print(f"user {name} ({role}) created", markup=False, highlight=False)


@user_app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """List the accounts."""
    url = _database_url(config)

    async def main() -> list[tuple[str, str, str]]:
        await migrate(url)
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as db:
                users = await UserRepository(db).list_all()
        finally:
            await engine.dispose()
        return [(u.username, u.role, u.collector or "") for u in users]

    for username, role, collector in asyncio.run(main()):
        typer.echo(f"{username}\t{role}\t{collector}")
