"""The session secret survives a restart: kept in a file made on the first start."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import httpx
import pytest
from webkit import CLOCK_START, login, running, until, write_settings

from dialer.daemon import Daemon
from dialer.web.session_secret import SessionSecretError, session_secret


def test_a_configured_secret_wins_and_no_file_is_made(tmp_path: Path) -> None:
    path = tmp_path / "var" / "session-secret"
    assert session_secret("from-settings", path) == "from-settings"
    assert not path.exists()


def test_the_first_start_makes_a_private_secret_the_next_reads(tmp_path: Path) -> None:
    path = tmp_path / "var" / "session-secret"
    first = session_secret(None, path)
    assert len(first) >= 32 and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(None, path) == first  # a restart: the same secret, sessions hold
    assert [p.name for p in path.parent.iterdir()] == ["session-secret"]  # no temporary left


def test_a_short_or_empty_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "session-secret"
    path.write_text("\n")
    made = session_secret(None, path)
    assert len(made) >= 32 and session_secret(None, path) == made


def test_an_unwritable_place_names_the_setting_and_the_file(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(SessionSecretError, match=r"web\.session_secret_file .*file/secret"):
        session_secret(None, blocked / "secret")


async def test_a_restarted_daemon_keeps_its_users_logged_in(tmp_path: Path) -> None:
    """Without web.session_secret: log in, restart the daemon, the same cookie still works
    (before, a random secret per process logged everyone out at every restart)."""
    settings = write_settings(tmp_path)
    web = settings.web.model_copy(
        update={"session_secret": None, "session_secret_file": tmp_path / "var" / "secret"}
    )
    settings = settings.model_copy(update={"web": web})
    async with running(settings) as first, first.client() as client:
        await login(client, "boss")
        assert (await client.get("/api/v1/me")).status_code == 200
        cookies = dict(client.cookies)
    daemon = Daemon(settings, clock_start=CLOCK_START, seed=1)
    await daemon.prepare()
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.wait_ready(), 30)
        port = await until(lambda: daemon.web_port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", cookies=cookies) as c:
            me = await c.get("/api/v1/me")
            assert me.status_code == 200, me.text
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)
