"""The Accounts page in Chromium against the real daemon: a manager gives a collector a new
password while the collector's console is open; the refused first try keeps what was typed
and lists every reason; the collector's session ends (their next click lands on the login
page) and they are out of the campaign; the new password lets them in again.

Nothing sleeps: every step waits for what the page or the engine must show."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from webkit import PASSWORD, NewPage, running, state_of, until, write_settings

from dialer.store.session_repo import SessionRepository

pytestmark = pytest.mark.browser
NEW = "a brand new password"


async def _log_in(page: Any, username: str, then: str, password: str = PASSWORD) -> None:
    from playwright.async_api import expect

    await page.goto(then)
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(re.escape(then) + "$"))


async def test_manager_changes_a_collectors_password_and_her_session_ends(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True  # no calls: alice stays ready
        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        await expect(alice.get_by_test_id("state")).to_have_text("ready")

        boss = await new_page(live.base_url)
        await _log_in(boss, "boss", "/manager")
        await boss.get_by_test_id("nav-accounts").click()
        await expect(boss).to_have_url(re.compile(r"/accounts$"))
        await expect(boss.get_by_test_id("account-root")).to_have_count(0)
        await expect(boss.get_by_test_id("account-alice").get_by_test_id("sessions")).to_have_text(
            "1"
        )
        await boss.get_by_test_id("manage-alice").click()
        await expect(boss).to_have_url(re.compile(r"/accounts/alice$"))
        await expect(boss.get_by_test_id("session")).to_have_count(1)

        # Refused: too short, and the two differ. Both reasons; the fields keep their values.
        await boss.get_by_test_id("new-password").fill("short1")
        await boss.get_by_test_id("confirm-password").fill("short2")
        await boss.get_by_test_id("set-password").click()
        errors = boss.get_by_test_id("errors-password")
        await expect(errors).to_contain_text("at least 8 characters")
        await expect(errors).to_contain_text("the two passwords differ")
        await expect(errors.locator("li")).to_have_count(2)
        await expect(boss.get_by_test_id("new-password")).to_have_value("short1")
        await expect(boss.get_by_test_id("confirm-password")).to_have_value("short2")
        await expect(boss).to_have_url(re.compile(r"/accounts/alice$"))
        async with live.daemon.sessions() as db:
            assert len(await SessionRepository(db).live_for_user("alice", datetime.now(UTC))) == 1
        assert state_of(live.daemon, "alice") == "ready"

        await boss.get_by_test_id("new-password").fill(NEW)
        await boss.get_by_test_id("confirm-password").fill(NEW)
        await boss.get_by_test_id("set-password").click()
        await expect(boss.get_by_test_id("notice")).to_have_text(
            "Password changed. 1 session ended."
        )
        await expect(boss.get_by_test_id("no-sessions")).to_be_visible()
        await until(lambda: state_of(live.daemon, "alice") is None, what="alice out of c1")

        # Alice's next action lands on the login page; the new password lets her in.
        await alice.get_by_role("link", name="Console").click()
        await expect(alice).to_have_url(re.compile(r"/login\?next=%2Fconsole$"))
        await alice.get_by_label("Username").fill("alice")
        await alice.get_by_label("Password").fill(PASSWORD)
        await alice.get_by_role("button", name="Log in").click()
        await expect(alice.get_by_test_id("error")).to_contain_text("wrong username or password")
        await alice.get_by_label("Username").fill("alice")
        await alice.get_by_label("Password").fill(NEW)
        await alice.get_by_role("button", name="Log in").click()
        await expect(alice).to_have_url(re.compile(r"/console$"))
        await expect(alice.get_by_test_id("state")).to_have_text("logged out")

        await boss.get_by_test_id("nav-accounts").click()
        await expect(boss.get_by_test_id("account-alice").get_by_test_id("sessions")).to_have_text(
            "1"
        )


async def test_my_own_password_form_keeps_what_was_typed(tmp_path: Path, new_page: NewPage) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        bob = await new_page(live.base_url)
        await _log_in(bob, "bob", "/console")
        await bob.get_by_test_id("nav-password").click()
        await bob.get_by_test_id("current-password").fill("not my password")
        await bob.get_by_test_id("new-password").fill(NEW)
        await bob.get_by_test_id("confirm-password").fill(NEW + "!")
        await bob.get_by_test_id("change-password").click()
        errors = bob.get_by_test_id("errors-own")
        await expect(errors).to_contain_text("the current password is wrong")
        await expect(errors).to_contain_text("the two new passwords differ")
        await expect(bob.get_by_test_id("current-password")).to_have_value("not my password")
        await expect(bob.get_by_test_id("confirm-password")).to_have_value(NEW + "!")

        await bob.get_by_test_id("current-password").fill(PASSWORD)
        await bob.get_by_test_id("confirm-password").fill(NEW)
        await bob.get_by_test_id("change-password").click()
        await expect(bob.get_by_test_id("notice")).to_have_text(
            "Password changed. 0 other sessions ended."
        )
        await bob.get_by_role("link", name="Console").click()  # still logged in
        await expect(bob).to_have_url(re.compile(r"/console$"))
