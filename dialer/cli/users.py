"""`dialer user ...`: accounts for the web console and the API.

add, list, passwd, disable, enable, delete, sessions. They work on the store directly (the
daemon need not run; a running one refuses an ended session at its next request). Each
change is audited with the actor `cli:<login name>`. A bad input is one line on stderr:
exit status 2 for what was typed (a flag, a weak password), 1 for what the store refuses
(no such user, the name exists, history to keep).
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.core import TyperCommand, TyperGroup

from dialer.cli.common import ConfigOption, console, fail
from dialer.settings import SettingsError, load_settings
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.keyfile import KeyFileError, install_from
from dialer.store.session_repo import SessionRepository
from dialer.store.web_repo import ROLES, UserRepository
from dialer.web.auth import Passwords
from dialer.web.users import (
    UserError,
    UserKept,
    add_user,
    delete_user,
    end_sessions,
    get_user,
    live_sessions,
    password_problems,
    set_enabled,
    set_password,
)

T = TypeVar("T")
Sessions = async_sessionmaker[AsyncSession]


# click's UsageError, whether typer ships click or vendors it (typer >= 0.29).
UsageError: type[Exception] = typer.BadParameter.__base__  # type: ignore[assignment]


def _usage_error(ctx: Any, exc: Exception) -> NoReturn:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    fail(f"{message} (see: {ctx.command_path} --help)")


class OneLineCommand(TyperCommand):
    """Wrong flags or arguments: one line naming the problem, exit status 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _usage_error(ctx, exc)


class OneLineGroup(TyperGroup):
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            _usage_error(ctx, exc)


user_app = typer.Typer(
    help="Web accounts (collectors, managers, admins).", no_args_is_help=True, cls=OneLineGroup
)
Name = Annotated[str, typer.Argument(help="Login name.", show_default=False)]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def _database_url(config: Any) -> str:
    try:
        settings = load_settings(config)
        install_from(settings.privacy)  # migrations seal debtor data with it
        return settings.database.url
    except (SettingsError, KeyFileError) as exc:
        fail(str(exc))


def _read_password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, username)
    if problems:
        fail("; ".join(problems))
    return password


def _run(config: Any, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Run `work` on the migrated store; a refusal of the store is one line, status 1."""
    url = _database_url(config)

    async def main() -> T:
        await migrate(url)
        engine = create_engine(url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except UserError as exc:
        fail(str(exc), 1)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sessions(n: int) -> str:
    return f"{n} {'session' if n == 1 else 'sessions'}"


def _when(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at else "never"


@user_app.command("add", cls=OneLineCommand)
def add(
    name: Name,
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
    password_stdin: PasswordStdin = False,
    config: ConfigOption = None,
) -> None:
    """Create an account; the password is prompted for (or read with --password-stdin)."""
    if role not in ROLES:
        fail(f"--role must be one of: {', '.join(ROLES)}")
    if collector is not None and role != "collector":
        fail("--collector is only for collector accounts")
    if not 1 <= len(name) <= 100:
        fail("the name must have 1 to 100 characters")
    _database_url(config)  # a bad settings file is said before the password is asked for
    password = _read_password(password_stdin, name)

    async def work(sessions: Sessions) -> None:
        await add_user(
            sessions, Passwords(), name, password, role, collector, team=team,
            skills=skill or (), actor=_actor(),
        )  # fmt: skip

    _run(config, work)
    _say(f"user {name} ({role}) created")


@user_app.command("list", cls=OneLineCommand)
def list_users(config: ConfigOption = None) -> None:
    """List the accounts: name, role, collector, enabled/disabled, last login, live sessions."""

    async def work(sessions: Sessions) -> list[str]:
        async with sessions() as db:
            users = await UserRepository(db).list_all()
            live = await SessionRepository(db).live_counts(datetime.now(UTC))
        return [
            "\t".join(
                (
                    u.username,
                    u.role,
                    u.collector or "",
                    "enabled" if u.enabled else "disabled",
                    _when(u.last_login_at),
                    str(live.get(u.username, 0)),
                )
            )
            for u in users
        ]

    for line in _run(config, work):
        typer.echo(line)


@user_app.command("passwd", cls=OneLineCommand)
def passwd(name: Name, password_stdin: PasswordStdin = False, config: ConfigOption = None) -> None:
    """Set a new password (prompted for, or --password-stdin); ends all the user's sessions."""
    _run(config, lambda sessions: get_user(sessions, name))  # no prompt for nobody
    password = _read_password(password_stdin, name)

    async def work(sessions: Sessions) -> int:
        return await set_password(sessions, Passwords(), name, password, actor=_actor())

    ended = _run(config, work)
    _say(f"password of {name} changed; {_sessions(ended)} ended")


def _enable(name: str, enabled: bool, config: Any) -> None:
    async def work(sessions: Sessions) -> tuple[bool, int]:
        change = await set_enabled(sessions, name, enabled, actor=_actor())
        return change.changed, change.sessions_ended

    changed, ended = _run(config, work)
    state = "enabled" if enabled else "disabled"
    if not changed:
        _say(f"{name} was already {state}")
    elif enabled:
        _say(f"{name} enabled")
    else:
        _say(f"{name} disabled; {_sessions(ended)} ended")


@user_app.command("disable", cls=OneLineCommand)
def disable(name: Name, config: ConfigOption = None) -> None:
    """Disable an account: it cannot log in, and its sessions end at once."""
    _enable(name, False, config)


@user_app.command("enable", cls=OneLineCommand)
def enable(name: Name, config: ConfigOption = None) -> None:
    """Enable a disabled account again."""
    _enable(name, True, config)


@user_app.command("delete", cls=OneLineCommand)
def delete(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Delete an account that has no history; one that has (audit entries, calls,
    dispositions in its name) is kept: disable it instead."""
    _database_url(config)
    if not yes and not typer.confirm(f"Delete the account {name}?", default=False):
        fail("not deleted", 1)

    async def work(sessions: Sessions) -> int:
        try:
            return (await delete_user(sessions, name, actor=_actor())).sessions_ended
        except UserKept as exc:
            raise UserKept(f"{exc} (dialer user disable {name})") from None

    ended = _run(config, work)
    _say(f"user {name} deleted; {_sessions(ended)} ended")


@user_app.command("sessions", cls=OneLineCommand)
def sessions_of(
    name: Name,
    end: Annotated[
        bool, typer.Option("--end", help="End them all (as a password change would).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """List the user's live sessions: ref, created, last seen, client network (no secret)."""

    async def work(sessions: Sessions) -> list[str] | int:
        if end:
            return await end_sessions(sessions, name, actor=_actor())
        return [
            "\t".join((s.ref, _when(s.created_at), _when(s.last_seen_at), s.client_masked or ""))
            for s in await live_sessions(sessions, name)
        ]

    found = _run(config, work)
    if isinstance(found, int):
        _say(f"{_sessions(found)} of {name} ended")
        return
    if not found:
        _say(f"{name} has no live session")
    for line in found:
        typer.echo(line)
