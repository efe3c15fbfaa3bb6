"""Server-side sessions and who a request comes from, against the real daemon on SQLite and
PostgreSQL: a cookie replayed after logout, after a password change (revoke_all), after
its session expired, or naming a session the store never had, opens nothing; the login
throttle counts the connection's address unless a configured proxy vouches for another
(these tests lower `web.login_throttle.address_failures` to 5 to see the address counted;
tests/web/test_web_accounts.py tries both thresholds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from webkit import FAST, PASSWORD, Running, login, running, write_settings

from dialer.settings import Settings, SettingsError, load_settings
from dialer.store.db import session_factory
from dialer.store.session_repo import SessionRepository, session_key
from dialer.store.tables import WebSession
from dialer.store.web_repo import UserRepository
from dialer.web.auth import SESSION_COOKIE, SessionSigner
from dialer.web.forwarded import TrustedProxies
from dialer.web.users import UserError, set_password

SECRET = "test-secret-for-signing"  # webkit.write_settings' web.session_secret
NOW = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


def on(
    db_url: str, tmp_path: Path, trusted: list[str] | None = None, address_failures: int = 50
) -> Settings:
    settings = write_settings(tmp_path)
    database = settings.database.model_copy(update={"url": db_url})
    throttle = settings.web.login_throttle.model_copy(update={"address_failures": address_failures})
    web = settings.web.model_copy(
        update={"trusted_proxies": trusted or [], "login_throttle": throttle}
    )
    return settings.model_copy(update={"database": database, "web": web})


@pytest.fixture
async def live(db_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async with running(on(db_url, tmp_path)) as r:
        yield r


async def cookie_of(live: Running, username: str) -> str:
    async with live.client() as client:
        await login(client, username)
        value = client.cookies.get(SESSION_COOKIE)
    assert value
    return value


async def me(live: Running, cookie: str) -> int:
    async with live.client() as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        return (await client.get("/api/v1/me")).status_code


async def sessions_of(live: Running, username: str) -> list[datetime | None]:
    async with live.daemon.sessions() as db:
        return [s.revoked_at for s in await SessionRepository(db).for_user(username)]


async def test_a_cookie_replayed_after_logout_is_refused(live: Running) -> None:
    async with live.client() as client:
        await login(client, "alice")
        cookie = client.cookies.get(SESSION_COOKIE)
        assert cookie and (await client.get("/api/v1/me")).status_code == 200
        assert (await client.delete("/api/v1/session")).status_code == 204
    assert await me(live, cookie) == 401  # the same cookie, copied before the logout
    async with live.client() as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        page = await client.get("/console")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    [revoked] = await sessions_of(live, "alice")
    assert revoked is not None


async def test_the_logout_form_revokes_the_session_too(live: Running) -> None:
    async with live.client() as client:
        token = await login(client, "boss")
        cookie = client.cookies.get(SESSION_COOKIE)
        response = await client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["location"] == "/login"
    assert cookie and await me(live, cookie) == 401


async def test_a_password_change_revokes_every_session_of_the_user(live: Running) -> None:
    first, second = await cookie_of(live, "alice"), await cookie_of(live, "alice")
    bobs = await cookie_of(live, "bob")
    assert [await me(live, c) for c in (first, second, bobs)] == [200, 200, 200]
    revoked = await set_password(live.daemon.sessions, FAST, "alice", "a new password")
    assert revoked == 2
    assert [await me(live, c) for c in (first, second, bobs)] == [401, 401, 200]
    async with live.client() as client:  # the new password opens a new session
        await login(client, "alice", "a new password")
    assert [r is None for r in await sessions_of(live, "alice")] == [False, False, True]
    with pytest.raises(UserError, match="no user"):
        await set_password(live.daemon.sessions, FAST, "nobody", "whatever it is")


async def test_revoke_all_alone_ends_the_sessions(live: Running) -> None:
    # The repository call the accounts pages will use, without changing the password.
    cookie = await cookie_of(live, "boss")
    async with live.daemon.sessions() as db, db.begin():
        assert await SessionRepository(db).revoke_all("boss", datetime.now(UTC)) == 1
    assert await me(live, cookie) == 401


async def test_expired_and_unknown_sessions_are_refused(live: Running) -> None:
    cookie = await cookie_of(live, "alice")
    assert await me(live, cookie) == 200
    async with live.daemon.sessions() as db, db.begin():
        await db.execute(
            update(WebSession)
            .where(WebSession.username == "alice")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await me(live, cookie) == 401  # the cookie itself is still within its max age
    # Signed with the right secret and alice's password fingerprint, as the old cookies
    # were: only the session the store never opened is wrong with it.
    signer = SessionSigner(SECRET, live.daemon.settings.web.session_max_age)
    async with live.daemon.sessions() as db:
        alice = await UserRepository(db).get("alice")
    assert alice is not None
    forged, _ = signer.issue(alice.password_hash)
    assert await me(live, forged) == 401
    assert await me(live, "garbage") == 401


async def test_the_session_row(live: Running) -> None:
    before = datetime.now(UTC)
    async with live.client() as client:
        await login(client, "alice")
        cookie = client.cookies.get(SESSION_COOKIE)
    signed = SessionSigner(SECRET, 3600).read(cookie)
    assert signed is not None
    async with live.daemon.sessions() as db:
        row = await db.get(WebSession, session_key(signed.id))
        assert row is not None and row.id_hash != signed.id  # only the hash is stored
        assert row.username == "alice" and row.revoked_at is None
        assert row.client_masked == "127.0.0.0/24"
        max_age = timedelta(seconds=live.daemon.settings.web.session_max_age)
        assert before <= row.created_at and row.expires_at == row.created_at + max_age


# ----- the repository on its own ------------------------------------------------------------


async def test_repository_lifecycle(migrated_engine: AsyncEngine) -> None:
    factory = session_factory(migrated_engine)
    hour = timedelta(hours=1)
    async with factory() as db, db.begin():
        repo = SessionRepository(db)
        await repo.create("s1", "ann", NOW, NOW + hour, "10.0.0.0/24")
        await repo.create("s2", "ann", NOW, NOW + hour)
        await repo.create("s3", "cy", NOW, NOW + hour)
    async with factory() as db, db.begin():
        repo = SessionRepository(db)
        found = await repo.active("s1", NOW + timedelta(minutes=5))
        assert found is not None and found.username == "ann"
        assert await repo.active("s1", NOW + hour) is None  # expired at expires_at
        assert await repo.active("nope", NOW) is None
        await repo.touch("s1", NOW + timedelta(minutes=5))
        assert await repo.revoke("s2", NOW) and not await repo.revoke("s2", NOW)
        assert await repo.revoke_all("ann", NOW) == 1  # s1; s2 was revoked already
        assert await repo.active("s3", NOW) is not None  # another user's
    async with factory() as db, db.begin():
        repo = SessionRepository(db)
        s1 = await repo.get("s1")
        assert s1 is not None and s1.last_seen_at == NOW + timedelta(minutes=5)
        assert s1.revoked_at == NOW and s1.client_masked == "10.0.0.0/24"
        # A new login clears out what expired before it.
        await repo.create("s4", "cy", NOW + 2 * hour, NOW + 3 * hour)
        assert [s.created_at for s in await repo.for_user("ann")] == []
        assert len(await repo.for_user("cy")) == 1


# ----- forwarded headers --------------------------------------------------------------------


def test_a_bad_trusted_proxy_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text('web: {trusted_proxies: ["10.0.0.0/8", "proxy.example"]}\n')
    reason = r"web\.trusted_proxies: .*not an IP address or network: 'proxy\.example'"
    with pytest.raises(SettingsError, match=reason):
        load_settings(path)


def test_trusted_proxies_pick_the_rightmost_untrusted_address() -> None:
    none = TrustedProxies([])
    assert none.client("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert proxies.client("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # The client wrote the left part; the proxies appended the right part.
    assert proxies.client("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert proxies.client("127.0.0.1", "10.1.2.3, 10.0.0.1") == "10.1.2.3"
    assert proxies.client("127.0.0.1", "not-an-ip, 10.0.0.1") == "10.0.0.1"
    assert proxies.client("127.0.0.1", "203.0.113.9:4711") == "203.0.113.9"
    assert proxies.client("127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
    assert proxies.client("127.0.0.1", "") == "127.0.0.1"
    assert proxies.client("192.0.2.1", "203.0.113.9") == "192.0.2.1"  # not from a proxy


async def _fail_five(client: httpx.AsyncClient, forwarded: list[str]) -> None:
    for i, address in enumerate(forwarded):
        response = await client.post(
            "/api/v1/session",
            json={"username": f"nobody{i}", "password": "wrong-password"},
            headers={"X-Forwarded-For": address},
        )
        assert response.status_code == 401, response.text


async def _attempt(client: httpx.AsyncClient, forwarded: str) -> httpx.Response:
    return await client.post(
        "/api/v1/session",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded},
    )


async def test_rotated_forwarded_for_does_not_escape_the_throttle(
    db_url: str, tmp_path: Path
) -> None:
    async with (
        running(on(db_url, tmp_path, address_failures=5)) as live,
        live.client() as client,
    ):
        # Five failures, five usernames, five claimed addresses: one real address.
        await _fail_five(client, [f"198.51.100.{i}" for i in range(5)])
        response = await _attempt(client, "198.51.100.99")
        assert response.status_code == 429, response.text
        assert "from your address" in response.json()["detail"]


async def test_a_trusted_proxy_names_the_client(db_url: str, tmp_path: Path) -> None:
    async with running(on(db_url, tmp_path, ["127.0.0.1/32"], address_failures=5)) as live:
        async with live.client() as client:
            await _fail_five(client, ["203.0.113.7"] * 5)
            assert (await _attempt(client, "203.0.113.7")).status_code == 429
            assert (await _attempt(client, "1.2.3.4, 203.0.113.8")).status_code == 200
        async with live.daemon.sessions() as db:
            [row] = await SessionRepository(db).for_user("alice")
        assert row.client_masked == "203.0.113.0/24"
