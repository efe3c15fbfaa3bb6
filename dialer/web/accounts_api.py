"""The accounts part of the JSON API under /api/v1 (dialer.web.accounts does the work):
the list, creating (admins), a new password, disabling and enabling, deleting, listing and
ending sessions; and changing one's own password (`PUT /me/password`).

Managers manage collector accounts, admins all accounts; nobody their own here. Refusals:
403 not yours to manage, 404 no such account or session, 409 exists / has history to keep
(disable it instead), 422 a bad password (every reason), 429 too many wrong current
passwords.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from fastapi.requests import Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from dialer.web import accounts
from dialer.web.api import changing, changing_admin, changing_manager
from dialer.web.context import Principal, WebContext, context_of, manager
from dialer.web.login import set_session_cookie
from dialer.web.users import add_user

router = APIRouter(prefix="/api/v1")
Context = Annotated[WebContext, Depends(context_of)]
Manager = Annotated[Principal, Depends(manager)]
ChangingManager = Annotated[Principal, Depends(changing_manager)]
Username = Annotated[str, Path(min_length=1, max_length=100)]
SessionRef = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserIn(_In):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,100}$")]
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)]
    role: Literal["collector", "manager", "admin"]
    collector: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class PasswordIn(_In):
    password: Password


class OwnPasswordIn(_In):
    current_password: Password
    password: Password


class EnabledIn(_In):
    enabled: bool


@router.get("/users", summary="Accounts I manage, and mine (managers, admins)")
async def get_users(ctx: Context, who: Manager) -> list[dict[str, Any]]:
    return [row.as_dict() for row in await accounts.accounts(ctx, who)]


@router.post("/users", status_code=201, summary="Create an account (admins only)")
async def post_user(
    ctx: Context, who: Annotated[Principal, Depends(changing_admin)], body: UserIn
) -> dict[str, Any]:
    await accounts.store_call(
        add_user(
            ctx.sessions, ctx.passwords, body.username, body.password, body.role,
            body.collector, actor=who.username, now=ctx.wall(),
        )
    )  # fmt: skip
    return {"username": body.username, "role": body.role}


@router.get("/users/{username}", summary="One account with its live sessions")
async def get_user(ctx: Context, who: Manager, username: Username) -> dict[str, Any]:
    row = await accounts.account(ctx, who, username)
    sessions = await accounts.sessions_of(ctx, who, username)
    return {**row.as_dict(), "live_sessions": [accounts.session_dict(s) for s in sessions]}


@router.put("/users/{username}/password", summary="Set a new password; ends its sessions")
async def put_password(
    ctx: Context, who: ChangingManager, username: Username, body: PasswordIn
) -> dict[str, Any]:
    ended = await accounts.set_password(ctx, who, username, body.password)
    return {"username": username, "sessions_ended": ended}


@router.put("/users/{username}/enabled", summary="Enable, or disable (ends its sessions)")
async def put_enabled(
    ctx: Context, who: ChangingManager, username: Username, body: EnabledIn
) -> dict[str, Any]:
    change = await accounts.set_enabled(ctx, who, username, body.enabled)
    return {
        "username": username,
        "enabled": change.user.enabled,
        "changed": change.changed,
        "sessions_ended": change.sessions_ended,
    }


@router.delete("/users/{username}", summary="Delete an account without history (else 409)")
async def delete_user(ctx: Context, who: ChangingManager, username: Username) -> dict[str, Any]:
    change = await accounts.delete(ctx, who, username)
    return {"username": username, "deleted": True, "sessions_ended": change.sessions_ended}


@router.get("/users/{username}/sessions", summary="An account's live sessions")
async def get_sessions(ctx: Context, who: Manager, username: Username) -> list[dict[str, Any]]:
    return [accounts.session_dict(s) for s in await accounts.sessions_of(ctx, who, username)]


@router.delete("/users/{username}/sessions", summary="End all of an account's sessions")
async def delete_sessions(ctx: Context, who: ChangingManager, username: Username) -> dict[str, Any]:
    return {"sessions_ended": await accounts.end_sessions(ctx, who, username)}


@router.delete("/users/{username}/sessions/{ref}", summary="End one session (by its ref)")
async def delete_session(
    ctx: Context, who: ChangingManager, username: Username, ref: SessionRef
) -> dict[str, Any]:
    return {"sessions_ended": await accounts.end_sessions(ctx, who, username, ref)}


@router.put("/me/password", summary="Change my password; ends my other sessions")
async def put_my_password(
    request: Request,
    response: Response,
    ctx: Context,
    who: Annotated[Principal, Depends(changing)],
    body: OwnPasswordIn,
) -> dict[str, Any]:
    fresh, token, others = await accounts.change_own_password(
        ctx, request, who, body.current_password, body.password
    )
    set_session_cookie(request, response, ctx, token)
    return {"csrf_token": fresh.session.csrf, "sessions_ended": others}
