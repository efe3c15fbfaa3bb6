"""Logging in and out, for the login page and the API alike: throttled password checks, the
server-side session and its cookie."""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta

from fastapi import Request, Response

from dialer.logs import event
from dialer.store.session_repo import SessionRepository
from dialer.store.web_repo import UserInfo, UserRepository
from dialer.web.auth import SESSION_COOKIE
from dialer.web.context import Principal, WebContext, WebError

log = logging.getLogger(__name__)


def client_address(request: Request) -> str:
    """The client's address (the trusted proxies' word for it; see dialer.web.forwarded)."""
    return request.client.host if request.client else "unknown"


def mask_address(address: str) -> str | None:
    """The network a client came from, as kept with its session: IPv4 /24, IPv6 /48."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


async def log_in(
    ctx: WebContext, request: Request, username: str, password: str
) -> tuple[Principal, str]:
    """Check the password and open a session; returns the principal and the cookie's value.

    Refused with 429 while the client's address or the account is throttled
    (dialer.web.throttle), 401 for a wrong username or password (the same message for
    both), 403 for a disabled account (said only to whoever knows its password)."""
    client = client_address(request)
    refusal = ctx.throttle.refusal(username, client)
    if refusal is not None:
        raise WebError(429, refusal)
    async with ctx.sessions() as db:
        user = await UserRepository(db).get(username)
    ok = await ctx.passwords.verify_async(user.password_hash if user else None, password)
    if user is None or not ok:
        ctx.throttle.failed(username, client)
        event(log, "web.login_failed", logging.WARNING, user=username, client=client)
        raise WebError(401, "wrong username or password")
    ctx.throttle.succeeded(username)
    if not user.enabled:
        event(log, "web.login_disabled", logging.WARNING, user=user.username, client=client)
        raise WebError(403, "this account is disabled; ask a manager")
    who, token = await open_session(ctx, request, user)
    event(log, "web.login", user=user.username, role=user.role, client=client)
    return who, token


async def open_session(
    ctx: WebContext, request: Request, user: UserInfo, *, login: bool = True
) -> tuple[Principal, str]:
    """A new session of `user` from this client: a login (its time is recorded), or the
    session a password change gives the browser that made it (`login=False`)."""
    token, session = ctx.signer.issue(user.password_hash)
    now = ctx.wall()
    async with ctx.sessions() as db, db.begin():
        await SessionRepository(db).create(
            session.id,
            user.username,
            now,
            now + timedelta(seconds=ctx.signer.max_age),
            mask_address(client_address(request)),
        )
        if login:
            await UserRepository(db).record_login(user.username, now)
    return Principal(user, session), token


def set_session_cookie(request: Request, response: Response, ctx: WebContext, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.signer.max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


async def log_out(ctx: WebContext, who: Principal, response: Response) -> None:
    """Revoke the session in the store (its cookie is then worthless) and drop the cookie."""
    async with ctx.sessions() as db, db.begin():
        await SessionRepository(db).revoke(who.session.id, ctx.wall())
    event(log, "web.logout", user=who.username)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
