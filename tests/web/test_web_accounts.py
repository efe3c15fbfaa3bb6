"""Accounts through the API and the pages, against the real daemon on SQLite and PostgreSQL:
who manages whom, a new password (the account's sessions and open streams end, a collector
leaves the campaign), disabling, deleting (refused while the account has history), the
sessions list, one's own password change, the audit trail; and login throttling per account
and per address (one account locked, the others at the same address still log in)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from webkit import PASSWORD, Running, login, running, state_of, until, write_settings

from dialer.settings import Settings, SettingsError, load_settings
from dialer.store.history_repo import AuditRepository
from dialer.store.session_repo import SessionRepository
from dialer.store.tables import AuditLog
from dialer.web.auth import SESSION_COOKIE
from dialer.web.events_hub import EventsHub
from dialer.web.throttle import LoginThrottles, address_key

NEW = "a brand new password"


def on(db_url: str, tmp_path: Path, **throttle: Any) -> Settings:
    settings = write_settings(tmp_path)
    database = settings.database.model_copy(update={"url": db_url})
    limits = settings.web.login_throttle.model_copy(update=throttle)
    web = settings.web.model_copy(update={"login_throttle": limits})
    return settings.model_copy(update={"database": database, "web": web})


@pytest.fixture
async def live(db_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running(on(db_url, tmp_path)) as r:
        yield r


async def status(live: Running, cookie: str | None) -> int:
    async with live.client() as client:
        if cookie:
            client.cookies.set(SESSION_COOKIE, cookie)
        return (await client.get("/api/v1/me")).status_code


async def log_in(live: Running, username: str, password: str = PASSWORD) -> httpx.Response:
    async with live.client() as client:
        return await client.post(
            "/api/v1/session", json={"username": username, "password": password}
        )


def hub_of(live: Running) -> EventsHub:
    """The web's events hub (it observes every runner)."""
    runner = live.daemon.runners["c1"]
    found = {getattr(o, "__self__", None) for o in runner.step_observers}
    [hub] = [h for h in found if isinstance(h, EventsHub)]
    return hub


async def audit_of(live: Running, username: str) -> list[tuple[str, str, Any]]:
    async with live.daemon.sessions() as db:
        rows = await db.execute(
            select(AuditLog.action, AuditLog.actor, AuditLog.new)
            .where(AuditLog.subject == f"user:{username}")
            .order_by(AuditLog.id)
        )
        return [(a, b, c) for a, b, c in rows.tuples()]


async def test_a_new_password_ends_the_sessions_streams_and_campaign(live: Running) -> None:
    live.daemon.runners["c1"].engine.paused = True  # no calls: alice stays ready
    async with live.client() as alice, live.client() as alice2, live.client() as boss:
        await login(alice, "alice")
        await login(alice2, "alice")
        await login(boss, "boss")
        assert (await alice.post("/api/v1/me/ready", json={"campaign": "c1"})).status_code == 202
        await until(lambda: state_of(live.daemon, "alice") == "ready")

        async def stream_lines() -> list[str]:
            async with alice.stream("GET", "/api/v1/me/events") as response:
                assert response.status_code == 200
                return [line async for line in response.aiter_lines()]

        stream = asyncio.create_task(stream_lines())
        hub = hub_of(live)
        await until(lambda: hub.subscribers("alice") == 1, what="alice's stream")
        response = await boss.put("/api/v1/users/alice/password", json={"password": NEW})
        assert response.status_code == 200, response.text
        assert response.json() == {"username": "alice", "sessions_ended": 2}
        lines = await asyncio.wait_for(stream, 10)  # the open stream ended, by itself
        assert hub.subscribers("alice") == 0
        assert any(line.startswith("event: state") for line in lines)
        assert (await alice.get("/api/v1/me")).status_code == 401
        assert (await alice2.get("/api/v1/me")).status_code == 401
        assert (await alice.get("/api/v1/me/events")).status_code == 401
        await until(lambda: state_of(live.daemon, "alice") is None, what="alice out of c1")
        assert (await log_in(live, "alice")).status_code == 401
        assert (await log_in(live, "alice", NEW)).status_code == 200
        [listed] = [u for u in (await boss.get("/api/v1/users")).json() if u["username"] == "alice"]
        assert listed["sessions"] == 1 and listed["enabled"] and listed["last_login"]
    [(action, actor, new)] = [a for a in await audit_of(live, "alice")]
    assert (action, actor, new) == ("user.password", "boss", {"sessions_ended": 2})


async def test_who_manages_whom(live: Running) -> None:
    async with live.client() as boss, live.client() as root, live.client() as alice:
        await login(boss, "boss")
        await login(root, "root")
        await login(alice, "alice")
        names = [u["username"] for u in (await boss.get("/api/v1/users")).json()]
        assert names == ["alice", "bob", "boss"]  # the collectors, and boss's own
        assert [u["username"] for u in (await root.get("/api/v1/users")).json()] == [
            "alice", "bob", "boss", "other", "root",
        ]  # fmt: skip
        assert (await alice.get("/api/v1/users")).status_code == 403
        body = {"password": NEW}
        for who, target, expected in [
            (boss, "other", 403),  # a manager: collectors only
            (boss, "root", 403),
            (boss, "boss", 403),  # one's own: PUT /me/password
            (root, "root", 403),
            (boss, "nobody", 404),
            (alice, "bob", 403),
        ]:
            response = await who.put(f"/api/v1/users/{target}/password", json=body)
            assert response.status_code == expected, (target, response.text)
            assert "detail" in response.json()
        no_csrf = await boss.put(
            "/api/v1/users/bob/password", json=body, headers={"X-CSRF-Token": "forged"}
        )
        assert no_csrf.status_code == 403
        assert (await root.put("/api/v1/users/other/password", json=body)).status_code == 200
        assert (await root.put("/api/v1/users/boss/enabled", json={"enabled": False})).json()[
            "enabled"
        ] is False
        assert (await boss.get("/api/v1/me")).status_code == 401  # boss was disabled
    assert (await log_in(live, "other", NEW)).status_code == 200


async def test_a_bad_password_gets_every_reason(live: Running) -> None:
    async with live.client() as boss:
        await login(boss, "boss")
        response = await boss.put("/api/v1/users/bob/password", json={"password": "bob"})
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert "at least 8 characters" in detail and "must not be the username" in detail
        for bad in ({"password": ""}, {"password": 5}, {"password": NEW, "x": 1}, {}):
            assert (await boss.put("/api/v1/users/bob/password", json=bad)).status_code == 422
        assert (
            await boss.put("/api/v1/users/bob/enabled", json={"enabled": "maybe"})
        ).status_code == 422
        bad_ref = await boss.delete("/api/v1/users/bob/sessions/not-a-ref")
        assert bad_ref.status_code == 422
        gone = await boss.delete("/api/v1/users/bob/sessions/0123456789abcdef")
        assert gone.status_code == 404 and "no live session" in gone.json()["detail"]
    assert (await log_in(live, "bob")).status_code == 200  # unchanged


async def test_disable_and_enable(live: Running) -> None:
    async with live.client() as alice, live.client() as boss:
        await login(alice, "alice")
        await login(boss, "boss")
        cookie = alice.cookies.get(SESSION_COOKIE)
        response = await boss.put("/api/v1/users/alice/enabled", json={"enabled": False})
        assert response.json() == {
            "username": "alice", "enabled": False, "changed": True, "sessions_ended": 1,
        }  # fmt: skip
        assert await status(live, cookie) == 401
        refused = await log_in(live, "alice")
        assert refused.status_code == 403 and "disabled" in refused.json()["detail"]
        wrong = await log_in(live, "alice", "not her password")
        assert wrong.status_code == 401 and "disabled" not in wrong.text  # told only to her
        [listed] = [u for u in (await boss.get("/api/v1/users")).json() if u["username"] == "alice"]
        assert listed["enabled"] is False and listed["sessions"] == 0
        again = await boss.put("/api/v1/users/alice/enabled", json={"enabled": False})
        assert again.json()["changed"] is False
        assert (await boss.put("/api/v1/users/alice/enabled", json={"enabled": True})).json()[
            "enabled"
        ]
    assert (await log_in(live, "alice")).status_code == 200
    actions = [(a, actor) for a, actor, _ in await audit_of(live, "alice")]
    assert actions == [("user.disable", "boss"), ("user.enable", "boss")]


async def test_delete_only_what_has_no_history(live: Running) -> None:
    async with live.client() as root, live.client() as boss:
        await login(root, "root")
        await login(boss, "boss")
        new = {"username": "carol", "password": "long enough pw", "role": "collector"}
        assert (await root.post("/api/v1/users", json=new)).status_code == 201
        async with live.client() as carol:
            await login(carol, "carol", "long enough pw")
            cookie = carol.cookies.get(SESSION_COOKIE)
        deleted = await boss.delete("/api/v1/users/carol")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"username": "carol", "deleted": True, "sessions_ended": 1}
        assert await status(live, cookie) == 401
        assert (await log_in(live, "carol", "long enough pw")).status_code == 401
        assert "carol" not in [u["username"] for u in (await boss.get("/api/v1/users")).json()]
        assert (await boss.delete("/api/v1/users/carol")).status_code == 404
        # Boss's own audit rows keep boss; bob's collector history keeps bob.
        async with live.daemon.sessions() as db, db.begin():
            await AuditRepository(db).record("bob", "case.note", "case:1", at=datetime.now(UTC))
        kept = await boss.delete("/api/v1/users/bob")
        assert kept.status_code == 409
        assert "1 audit entry" in kept.json()["detail"]
        assert "disable the account instead" in kept.json()["detail"]
        assert (await root.delete("/api/v1/users/boss")).status_code == 409  # boss audited above
    assert (await log_in(live, "bob")).status_code == 200
    assert [(a, actor) for a, actor, _ in await audit_of(live, "carol")] == [
        ("user.add", "root"),
        ("user.delete", "boss"),
    ]


async def test_sessions_are_listed_and_ended_one_by_one(live: Running) -> None:
    async with live.client() as one, live.client() as two, live.client() as boss:
        await login(one, "alice")
        await login(two, "alice")
        await login(boss, "boss")
        listed = (await boss.get("/api/v1/users/alice/sessions")).json()
        assert len(listed) == 2
        assert set(listed[0]) == {"ref", "created", "last_seen", "expires", "client"}
        assert all(s["client"] == "127.0.0.0/24" and len(s["ref"]) == 16 for s in listed)
        secret = str(one.cookies.get(SESSION_COOKIE))
        detail = (await boss.get("/api/v1/users/alice")).json()
        assert detail["sessions"] == 2 and len(detail["live_sessions"]) == 2
        assert secret not in str(detail)
        async with live.daemon.sessions() as db:
            ones = {s.ref for s in await SessionRepository(db).for_user("alice")}
        assert ones == {s["ref"] for s in listed}
        first = listed[0]["ref"]
        ended = await boss.delete(f"/api/v1/users/alice/sessions/{first}")
        assert ended.json() == {"sessions_ended": 1}
        codes = sorted(
            [(await one.get("/api/v1/me")).status_code, (await two.get("/api/v1/me")).status_code]
        )
        assert codes == [200, 401]
        assert (await boss.delete(f"/api/v1/users/alice/sessions/{first}")).status_code == 404
        assert (await boss.delete("/api/v1/users/alice/sessions")).json() == {"sessions_ended": 1}
        assert [(await c.get("/api/v1/me")).status_code for c in (one, two)] == [401, 401]
        assert (await boss.get("/api/v1/users/alice/sessions")).json() == []


async def test_changing_my_own_password(live: Running) -> None:
    async with live.client() as mine, live.client() as elsewhere:
        await login(mine, "bob")
        await login(elsewhere, "bob")
        old_cookie = mine.cookies.get(SESSION_COOKIE)
        refused = await mine.put(
            "/api/v1/me/password", json={"current_password": "wrong one", "password": "bob"}
        )
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "the current password is wrong" in detail
        assert "at least 8 characters" in detail and "must not be the username" in detail
        same = await mine.put(
            "/api/v1/me/password", json={"current_password": PASSWORD, "password": PASSWORD}
        )
        assert "must differ" in same.json()["detail"]
        changed = await mine.put(
            "/api/v1/me/password", json={"current_password": PASSWORD, "password": NEW}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["sessions_ended"] == 1
        mine.headers["X-CSRF-Token"] = changed.json()["csrf_token"]
        assert (await mine.get("/api/v1/me")).status_code == 200  # this browser stays in
        assert mine.cookies.get(SESSION_COOKIE) != old_cookie
        assert await status(live, old_cookie) == 401
        assert (await elsewhere.get("/api/v1/me")).status_code == 401
        assert (await mine.delete("/api/v1/session")).status_code == 204  # the new CSRF works
    assert (await log_in(live, "bob", NEW)).status_code == 200
    [(action, actor, new)] = await audit_of(live, "bob")
    assert (action, actor, new) == ("user.password", "bob", {"sessions_ended": 2})


async def test_wrong_current_passwords_count_against_the_account(live: Running) -> None:
    async with live.client() as bob:
        await login(bob, "bob")
        body = {"current_password": "guess", "password": NEW}
        for _ in range(5):
            assert (await bob.put("/api/v1/me/password", json=body)).status_code == 422
        locked = await bob.put("/api/v1/me/password", json={**body, "current_password": PASSWORD})
        assert locked.status_code == 429
        assert (await log_in(live, "bob")).status_code == 429  # the same account counter
        assert (await log_in(live, "alice")).status_code == 200


# ----- throttling ---------------------------------------------------------------------------


async def test_one_account_locked_the_others_at_the_address_log_in(live: Running) -> None:
    for _ in range(5):
        assert (await log_in(live, "alice", "mistyped")).status_code == 401
    locked = await log_in(live, "alice")  # the right password, too late
    assert locked.status_code == 429
    assert "for this account" in locked.json()["detail"]
    assert (await log_in(live, "ALICE")).status_code == 429  # the name, in any case
    for other in ("bob", "boss", "root"):  # the same address: 127.0.0.1
        assert (await log_in(live, other)).status_code == 200, other


async def test_the_address_threshold(db_url: str, tmp_path: Path) -> None:
    async with running(on(db_url, tmp_path, account_failures=3, address_failures=7)) as live:
        for i in range(6):  # six accounts' mistakes: below the address's threshold
            assert (await log_in(live, f"user{i}", "wrong")).status_code == 401
        assert (await log_in(live, "bob")).status_code == 200
        assert (await log_in(live, "user6", "wrong")).status_code == 401  # the seventh
        refused = await log_in(live, "bob")
        assert refused.status_code == 429 and "from your address" in refused.json()["detail"]
        # A success did not wipe the address's count: bob's login above left it at 6.


def test_throttle_windows_and_lockouts_by_the_clock() -> None:
    now = [1000.0]
    limits = LoginThrottles(3, 5, window=60, lockout=120, clock=lambda: now[0])
    for _ in range(2):
        limits.failed("ann", "10.0.0.1")
    now[0] += 61  # the first two fell out of the window
    limits.failed("ann", "10.0.0.1")
    assert limits.refusal("ann", "10.0.0.1") is None
    limits.failed("ann", "10.0.0.1")
    limits.failed("Ann", "10.0.0.1")
    assert "for this account" in str(limits.refusal("ann", "10.0.0.2"))
    assert limits.refusal("cy", "10.0.0.1") is None
    now[0] += 119
    assert limits.refusal("ann", "10.0.0.1") is not None
    now[0] += 1
    assert limits.refusal("ann", "10.0.0.1") is None  # the lockout is over
    site = LoginThrottles(3, 5, window=60, lockout=120, clock=lambda: now[0])
    for name in ("a", "b", "c", "d"):
        site.failed(name, "10.0.0.1")
    site.succeeded("a")  # a success clears its account's count, never the address's
    assert site.refusal("zed", "10.0.0.1") is None
    site.failed("e", "10.0.0.1")  # the fifth failure from the address
    assert "from your address" in str(site.refusal("zed", "10.0.0.1"))
    assert site.refusal("zed", "10.0.0.9") is None
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff")  # one /64
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8::1")


def test_the_address_threshold_may_not_be_below_the_accounts(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text("web: {login_throttle: {account_failures: 10, address_failures: 5}}\n")
    with pytest.raises(SettingsError, match=r"web\.login_throttle: .*address_failures \(5\)"):
        load_settings(path)
    path.write_text("web: {login_throttle: {account_failures: 0}}\n")
    with pytest.raises(SettingsError, match=r"web\.login_throttle\.account_failures"):
        load_settings(path)


# ----- the pages ----------------------------------------------------------------------------


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_the_accounts_pages(live: Running) -> None:
    async with live.client() as boss, live.client() as alice:
        await login(boss, "boss")
        await login(alice, "alice")
        listing = await boss.get("/accounts")
        assert listing.status_code == 200
        assert 'data-testid="manage-alice"' in listing.text and "manage-root" not in listing.text
        assert (await alice.get("/accounts")).status_code == 403
        assert (await boss.get("/accounts/root")).status_code == 403
        assert (await boss.get("/accounts/nobody")).status_code == 404
        page = await boss.get("/accounts/alice")
        assert page.status_code == 200 and 'data-testid="session"' in page.text
        token = _token(page.text)
        typed = "tiny"
        refused = await boss.post(
            "/accounts/alice/password",
            data={"csrf_token": token, "password": typed, "confirm": "tinx"},
        )
        assert refused.status_code == 422
        assert (
            "at least 8 characters" in refused.text and "the two passwords differ" in refused.text
        )
        assert typed not in refused.text and "tinx" not in refused.text  # never sent back
        assert (await alice.get("/api/v1/me")).status_code == 200
        done = await boss.post(
            "/accounts/alice/password", data={"csrf_token": token, "password": NEW, "confirm": NEW}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/accounts/alice?done=password&ended=1"
        assert (
            "Password changed. 1 session ended." in (await boss.get(done.headers["location"])).text
        )
        assert (await alice.get("/api/v1/me")).status_code == 401
        htmx = await boss.post(
            "/accounts/alice/enabled",
            data={"csrf_token": token, "enabled": "false"},
            headers={"HX-Request": "true"},
        )
        assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith(
            "/accounts/alice?done=disabled"
        )
        assert 'data-testid="enable"' in (await boss.get("/accounts/alice")).text
        deleted = await boss.post("/accounts/alice/delete", data={"csrf_token": token})
        assert (
            deleted.status_code == 303 and deleted.headers["location"] == "/accounts?done=deleted"
        )
        async with live.daemon.sessions() as db, db.begin():
            await AuditRepository(db).record("bob", "case.note", "case:1", at=datetime.now(UTC))
        kept = await boss.post("/accounts/bob/delete", data={"csrf_token": token})
        assert kept.status_code == 409 and "disable the account instead" in kept.text
        forged = await boss.post(
            "/accounts/bob/enabled", data={"enabled": "false"}, headers={"X-CSRF-Token": "x"}
        )
        assert forged.status_code == 403
    assert (await log_in(live, "bob")).status_code == 200


async def test_my_password_page(live: Running) -> None:
    async with live.client() as bob:
        await login(bob, "bob")
        page = await bob.get("/password")
        token = _token(page.text)
        refused = await bob.post(
            "/password",
            data={"csrf_token": token, "current_password": "nope", "password": NEW, "confirm": "x"},
        )
        assert refused.status_code == 422
        assert "the current password is wrong" in refused.text
        assert "the two new passwords differ" in refused.text
        done = await bob.post(
            "/password",
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "password": NEW,
                "confirm": NEW,
            },
        )
        assert done.status_code == 303 and done.headers["location"].startswith("/password?done")
        after = await bob.get(done.headers["location"])
        assert (
            after.status_code == 200 and "Password changed. 0 other sessions ended." in after.text
        )
