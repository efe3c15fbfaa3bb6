"""Logging in and out, for the login page and the API alike: throttled password checks and
the session cookie."""

from __future__ import annotations

import logging

from fastapi import Request, Response

from dialer.logs import event
from dialer.store.web_repo import UserRepository
from dialer.web.auth import SESSION_COOKIE
from dialer.web.context import Principal, WebContext, WebError

log = logging.getLogger(__name__)


async def log_in(
    ctx: WebContext, request: Request, username: str, password: str
) -> tuple[Principal, str]:
    """Check the password; returns the principal and the session cookie's value.

    Refused with 429 while the username or the client address is throttled, 401 for a
    wrong username or password (the same message for both)."""
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{username.lower()}", f"addr:{client}")
    wait = ctx.throttle.retry_after(keys)
    if wait > 0:
        raise WebError(429, f"too many failed logins; try again in {int(wait) + 1} s")
    async with ctx.sessions() as db:
        user = await UserRepository(db).get(username)
    ok = await ctx.passwords.verify_async(user.password_hash if user else None, password)
    if user is None or not ok:
        ctx.throttle.failed(keys)
        event(log, "web.login_failed", logging.WARNING, user=username, client=client)
        raise WebError(401, "wrong username or password")
    ctx.throttle.succeeded(keys[:1])
    token, session = ctx.signer.issue(user.username, user.password_hash)
    event(log, "web.login", user=user.username, role=user.role, client=client)
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


def log_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
