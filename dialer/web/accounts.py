"""Managing accounts through the web, shared by the Accounts page and the JSON API: who may
manage whom, the list with live figures, a new password, disabling and enabling, deleting,
ending sessions, and a user's change of their own password.

Who manages whom: an admin manages every other account, a manager the collector accounts;
nobody manages their own here (their own password needs the current one: `/password`,
`PUT /api/v1/me/password`), so nobody locks themselves out by a click. The store work and
the audit rows are dialer.web.users'; what is done here besides is the running dialer's
part: when a collector has no live session left, they are taken out of their campaign as
a logout does (unless on a call), and their open event streams end (a stream that comes
back must show a live session).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request

from dialer.domain.events import CollectorLoggedOut
from dialer.logs import event
from dialer.store.session_repo import SessionInfo, SessionRepository
from dialer.store.web_repo import UserInfo, UserRepository
from dialer.web import users
from dialer.web.collector_ops import LEAVABLE
from dialer.web.context import Principal, WebContext, WebError
from dialer.web.login import client_address, open_session

log = logging.getLogger(__name__)
MANAGES: dict[str, frozenset[str]] = {
    "admin": frozenset({"collector", "manager", "admin"}),
    "manager": frozenset({"collector"}),
}
T = TypeVar("T")


class Refused(WebError):
    """A refusal with every reason (a form lists them; the API joins them)."""

    def __init__(self, status: int, errors: list[str]) -> None:
        super().__init__(status, "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class AccountRow:
    username: str
    role: str
    collector: str | None
    team: str | None
    enabled: bool
    last_login_at: datetime | None
    sessions: int  # live ones
    manageable: bool  # by whoever asked

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "collector": self.collector,
            "team": self.team,
            "enabled": self.enabled,
            "last_login": self.last_login_at.isoformat() if self.last_login_at else None,
            "sessions": self.sessions,
        }


def session_dict(s: SessionInfo) -> dict[str, Any]:
    """A session as it is shown: never its id, nor the hash the store keeps."""
    return {
        "ref": s.ref,
        "created": s.created_at.isoformat(),
        "last_seen": s.last_seen_at.isoformat(),
        "expires": s.expires_at.isoformat(),
        "client": s.client_masked,
    }


def may_manage(who: Principal, user: UserInfo) -> bool:
    return user.username != who.username and user.role in MANAGES.get(who.role, frozenset())


async def store_call(call: Coroutine[Any, Any, T]) -> T:
    """dialer.web.users' refusals as HTTP ones."""
    try:
        return await call
    except (users.NoSuchUser, users.NoSuchSession) as exc:
        raise WebError(404, str(exc)) from None
    except (users.UserExists, users.UserKept) as exc:
        raise WebError(409, str(exc)) from None
    except users.UserError as exc:
        raise WebError(422, str(exc)) from None


async def target(ctx: WebContext, who: Principal, username: str) -> UserInfo:
    """The account `who` wants to manage; 403 unless they may, 404 when there is none."""
    if not who.is_manager:
        raise WebError(403, "managers only")
    if username == who.username:
        raise WebError(403, "your own account: change your password on /password")
    user = await store_call(users.get_user(ctx.sessions, username))
    if not may_manage(who, user):
        raise WebError(403, "managers manage collector accounts; admins manage all")
    return user


async def accounts(ctx: WebContext, who: Principal) -> list[AccountRow]:
    """The accounts `who` manages, and their own, by name."""
    if not who.is_manager:
        raise WebError(403, "managers only")
    async with ctx.sessions() as db:
        everyone = await UserRepository(db).list_all()
        live = await SessionRepository(db).live_counts(ctx.wall())
    return [
        AccountRow(
            u.username,
            u.role,
            u.collector,
            u.team,
            u.enabled,
            u.last_login_at,
            live.get(u.username, 0),
            may_manage(who, u),
        )
        for u in everyone
        if u.username == who.username or may_manage(who, u)
    ]


async def account(ctx: WebContext, who: Principal, username: str) -> AccountRow:
    """One account `who` manages, with its figures (403, 404 as `target`)."""
    await target(ctx, who, username)
    found = [r for r in await accounts(ctx, who) if r.username == username]
    if not found:  # deleted meanwhile
        raise WebError(404, f"no user {username!r}")
    return found[0]


async def sessions_of(ctx: WebContext, who: Principal, username: str) -> list[SessionInfo]:
    await target(ctx, who, username)
    return await store_call(users.live_sessions(ctx.sessions, username, now=ctx.wall()))


async def set_password(
    ctx: WebContext, who: Principal, username: str, password: str, confirm: str | None = None
) -> int:
    """A new password for someone else's account; ends all its sessions (how many)."""
    user = await target(ctx, who, username)
    errors = users.password_problems(password, username)
    if confirm is not None and confirm != password:
        errors.append("the two passwords differ")
    if errors:
        raise Refused(422, errors)
    ended = await store_call(
        users.set_password(
            ctx.sessions, ctx.passwords, username, password, now=ctx.wall(), actor=who.username
        )
    )
    await _sessions_ended(ctx, user)
    _logged(who, "user.password", username, sessions_ended=ended)
    return ended


async def set_enabled(
    ctx: WebContext, who: Principal, username: str, enabled: bool
) -> users.Change:
    user = await target(ctx, who, username)
    change = await store_call(
        users.set_enabled(ctx.sessions, username, enabled, now=ctx.wall(), actor=who.username)
    )
    if not enabled:
        await _sessions_ended(ctx, user)
    if change.changed:
        action = "user.enable" if enabled else "user.disable"
        _logged(who, action, username, sessions_ended=change.sessions_ended)
    return change


async def delete(ctx: WebContext, who: Principal, username: str) -> users.Change:
    user = await target(ctx, who, username)
    change = await store_call(
        users.delete_user(ctx.sessions, username, now=ctx.wall(), actor=who.username)
    )
    await _sessions_ended(ctx, user)
    _logged(who, "user.delete", username, sessions_ended=change.sessions_ended)
    return change


async def end_sessions(
    ctx: WebContext, who: Principal, username: str, ref: str | None = None
) -> int:
    """End one session of the account (`ref`) or all; how many ended."""
    user = await target(ctx, who, username)
    ended = await store_call(
        users.end_sessions(ctx.sessions, username, ref, now=ctx.wall(), actor=who.username)
    )
    await _sessions_ended(ctx, user)
    _logged(who, "user.sessions_end", username, sessions_ended=ended)
    return ended


async def change_own_password(
    ctx: WebContext,
    request: Request,
    who: Principal,
    current: str,
    password: str,
    confirm: str | None = None,
) -> tuple[Principal, str, int]:
    """Change your own password: the current one is checked (a wrong one counts against
    the account like a failed login), every session ends and this browser gets a new one.
    Returns the new principal, its cookie and how many other sessions ended."""
    refusal = ctx.throttle.account_refusal(who.username)
    if refusal is not None:
        raise WebError(429, refusal)
    errors = []
    if not await ctx.passwords.verify_async(who.user.password_hash, current):
        ctx.throttle.failed(who.username, client_address(request))
        errors.append("the current password is wrong")
    errors += users.password_problems(password, who.username)
    if password and password == current:
        errors.append("the new password must differ from the current one")
    if confirm is not None and confirm != password:
        errors.append("the two new passwords differ")
    if errors:
        raise Refused(422, errors)
    ctx.throttle.succeeded(who.username)
    ended = await store_call(
        users.set_password(
            ctx.sessions, ctx.passwords, who.username, password, now=ctx.wall(),
            actor=who.username,
        )
    )  # fmt: skip
    user = await store_call(users.get_user(ctx.sessions, who.username))
    fresh, token = await open_session(ctx, request, user, login=False)
    others = max(0, ended - 1)  # this browser's session was one of them
    if user.collector is not None:
        ctx.hub.disconnect(user.collector)  # this page's stream comes back on the new cookie
    _logged(who, "user.password", who.username, sessions_ended=others, own=True)
    return fresh, token, others


async def _sessions_ended(ctx: WebContext, user: UserInfo) -> None:
    """A collector without a live session leaves their campaign, as at logout; their open
    streams end either way."""
    collector = user.collector
    if collector is None:
        return
    async with ctx.sessions() as db:
        live = await SessionRepository(db).live_for_user(user.username, ctx.wall())
    if not live:
        found = ctx.locate(collector)
        if found is not None and found[1].state in LEAVABLE:
            ctx.runner(found[0]).push(CollectorLoggedOut(collector))
    ctx.hub.disconnect(collector)


def _logged(who: Principal, action: str, username: str, **values: Any) -> None:
    event(log, "web.audit", action=action, user=who.username, subject=f"user:{username}", **values)
