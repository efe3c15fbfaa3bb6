"""Accounts in the store, for `dialer user` and the web alike: creating them, the password
rules, changing a password, disabling and enabling, deleting, and their sessions.

A collector account is tied to a collector of the store (the person the engine routes calls
to, whose username is the case owner's name); the collector is created when missing and
never deleted with the account (dialer.store.account_repo says why an account with
history is kept). Every change that names an `actor` is written to the audit log (subject
`user:NAME`) in the same transaction as the change itself; no password or hash is ever
written there. What the running dialer must do after a change (end open streams, take a
collector out of a campaign) is dialer.web.accounts'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.store.account_repo import AccountRepository
from dialer.store.history_repo import AuditRepository
from dialer.store.org_repo import CollectorRepository
from dialer.store.session_repo import SessionInfo, SessionRepository
from dialer.store.web_repo import ROLES, UserInfo, UserRepository
from dialer.web.auth import Passwords

MIN_PASSWORD = 8
MAX_PASSWORD = 1000


class UserError(ValueError):
    """The account change is refused; the message says why."""


class UserExists(UserError):
    """An account of that name exists."""


class NoSuchUser(UserError):
    """There is no account of that name."""


class NoSuchSession(UserError):
    """The user has no live session of that ref."""


class UserKept(UserError):
    """The account has history the store must keep: it may be disabled, not deleted."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did: whether anything changed, and how many sessions it ended."""

    user: UserInfo
    changed: bool
    sessions_ended: int


def password_problems(password: str, username: str) -> list[str]:
    """Everything wrong with `password` as `username`'s new password (empty: it is fine)."""
    if not password:
        return ["the password must not be empty"]
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        problems.append(f"the password must have at most {MAX_PASSWORD} characters")
    if password.strip() == "":
        problems.append("the password must not be only spaces")
    if password.casefold() == username.casefold():
        problems.append("the password must not be the username")
    return problems


def check_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise UserError("; ".join(problems))


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def _audit(
    db: AsyncSession,
    actor: str | None,
    action: str,
    username: str,
    now: datetime,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    if actor is not None:
        await AuditRepository(db).record(
            actor, action, f"user:{username}", old=old, new=new, at=now
        )


async def _existing(db: AsyncSession, username: str) -> UserInfo:
    user = await UserRepository(db).get(username)
    if user is None:
        raise NoSuchUser(f"no user {username!r}")
    return user


async def get_user(sessions: async_sessionmaker[AsyncSession], username: str) -> UserInfo:
    async with sessions() as db:
        return await _existing(db, username)


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    passwords: Passwords,
    username: str,
    password: str,
    role: str,
    collector: str | None = None,
    *,
    team: str | None = None,
    skills: Iterable[str] = (),
    actor: str | None = None,
    now: datetime | None = None,
) -> int:
    """Create the account; a collector account's collector defaults to `username`."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role != "collector" and collector is not None:
        raise UserError("only collector accounts name a collector")
    check_password(password, username)
    password_hash = await passwords.hash_async(password)
    async with sessions() as db, db.begin():
        users = UserRepository(db)
        if await users.get(username) is not None:
            raise UserExists(f"user {username!r} exists")
        row = None
        name = None
        if role == "collector":
            name = collector or username
            people = CollectorRepository(db)
            found = await people.get(name)
            if found is None:
                row = await people.upsert(name, team=team, skills=skills)
            else:
                row = found.id
        user_id = await users.add(username, password_hash, role, row)
        new = {"role": role, "collector": name}
        await _audit(db, actor, "user.add", username, _now(now), new=new)
        return user_id


async def set_password(
    sessions: async_sessionmaker[AsyncSession],
    passwords: Passwords,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> int:
    """Give the account a new password and revoke every session it has open (in the same
    transaction); returns how many sessions were revoked."""
    check_password(password, username)
    password_hash = await passwords.hash_async(password)
    at = _now(now)
    async with sessions() as db, db.begin():
        if not await UserRepository(db).set_password(username, password_hash):
            raise NoSuchUser(f"no user {username!r}")
        ended = await SessionRepository(db).revoke_all(username, at)
        await _audit(db, actor, "user.password", username, at, new={"sessions_ended": ended})
        return ended


async def set_enabled(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    enabled: bool,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> Change:
    """Enable or disable the account; disabling ends all its sessions at once."""
    at = _now(now)
    async with sessions() as db, db.begin():
        user = await _existing(db, username)
        if user.enabled == enabled:
            return Change(user, False, 0)
        await UserRepository(db).set_disabled(username, None if enabled else at)
        ended = 0 if enabled else await SessionRepository(db).revoke_all(username, at)
        new: dict[str, Any] = {"enabled": enabled}
        if not enabled:
            new["sessions_ended"] = ended
        action = "user.enable" if enabled else "user.disable"
        await _audit(db, actor, action, username, at, old={"enabled": user.enabled}, new=new)
        return Change(await _existing(db, username), True, ended)


async def delete_user(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> Change:
    """Delete an account that has no history (its sessions with it); refused with
    `UserKept` naming the records otherwise."""
    at = _now(now)
    async with sessions() as db, db.begin():
        user = await _existing(db, username)
        history = await AccountRepository(db).history(username, user.collector_row)
        if not history.empty:
            raise UserKept(
                f"user {username!r} cannot be deleted: the store keeps {history.describe()} "
                "in their name; disable the account instead"
            )
        live = len(await SessionRepository(db).live_for_user(username, at))
        await SessionRepository(db).delete_for_user(username)
        await UserRepository(db).delete(username)
        old = {"role": user.role, "collector": user.collector, "enabled": user.enabled}
        await _audit(db, actor, "user.delete", username, at, old=old)
        return Change(user, True, live)


async def live_sessions(
    sessions: async_sessionmaker[AsyncSession], username: str, *, now: datetime | None = None
) -> list[SessionInfo]:
    async with sessions() as db:
        await _existing(db, username)
        return await SessionRepository(db).live_for_user(username, _now(now))


async def end_sessions(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    ref: str | None = None,
    *,
    now: datetime | None = None,
    actor: str | None = None,
) -> int:
    """End the user's session named `ref` (its SessionInfo.ref), or all of them (None);
    returns how many ended."""
    at = _now(now)
    async with sessions() as db, db.begin():
        await _existing(db, username)
        repo = SessionRepository(db)
        if ref is None:
            ended = await repo.revoke_all(username, at)
        elif await repo.revoke_ref(username, ref, at):
            ended = 1
        else:
            raise NoSuchSession(f"user {username!r} has no live session {ref!r}")
        if ended:
            new = {"sessions_ended": ended, **({"session": ref} if ref else {})}
            await _audit(db, actor, "user.sessions_end", username, at, new=new)
        return ended
