"""Creating accounts and setting passwords, for `dialer user` and the admin API.

A collector account is tied to a collector of the store (the person the engine routes calls
to, whose username is the case owner's name); the collector is created when missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.store.org_repo import CollectorRepository
from dialer.store.session_repo import SessionRepository
from dialer.store.web_repo import ROLES, UserRepository
from dialer.web.auth import Passwords


class UserError(ValueError):
    """The account cannot be created; the message says why."""


class UserExists(UserError):
    """An account of that name exists."""


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
) -> int:
    """Create the account; a collector account's collector defaults to `username`."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if role != "collector" and collector is not None:
        raise UserError("only collector accounts name a collector")
    if not password:
        raise UserError("the password must not be empty")
    password_hash = await passwords.hash_async(password)
    async with sessions() as db, db.begin():
        users = UserRepository(db)
        if await users.get(username) is not None:
            raise UserExists(f"user {username!r} exists")
        row = None
        if role == "collector":
            name = collector or username
            people = CollectorRepository(db)
            found = await people.get(name)
            if found is None:
                row = await people.upsert(name, team=team, skills=skills)
            else:
                row = found.id
        return await users.add(username, password_hash, role, row)


async def set_password(
    sessions: async_sessionmaker[AsyncSession],
    passwords: Passwords,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
) -> int:
    """Give the account a new password and revoke every session it has open (in the same
    transaction); returns how many sessions were revoked."""
    if not password:
        raise UserError("the password must not be empty")
    password_hash = await passwords.hash_async(password)
    async with sessions() as db, db.begin():
        if not await UserRepository(db).set_password(username, password_hash):
            raise UserError(f"no user {username!r}")
        return await SessionRepository(db).revoke_all(username, now or datetime.now(UTC))
