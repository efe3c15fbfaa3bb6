"""Presence and a manager's control, in Chromium against the real daemon (a presence
timeout of a few seconds): a collector's browser closes and, once the timeout has passed,
she is paused `disconnected` in the engine and no call is routed to her afterwards while
her colleague's calls go on (checked in the engine and the store); a browser closed during
a call ends that call (the simulated trunk has no phone to carry it); coming back she sees
why and presses Ready; a manager's Log out and Pause buttons, seen in the collector's open
console.

Nothing sleeps for timing: every step waits, with a deadline, for what the page, the
engine or the store must show."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_web_browser import _log_in
from webkit import NewPage, Running, running, state_of, until, write_settings

from dialer.store.tables import CallAttempt, Collector

pytestmark = pytest.mark.browser
TIMEOUT = 3.0


async def _live(page: Any, answers: int = 1) -> None:
    """The console's stream is open and the page has answered `answers` presence pings."""
    await page.wait_for_function(
        "n => document.body.dataset.live === 'yes'"
        " && Number(document.body.dataset.presenceAnswers || 0) >= n",
        arg=answers,
    )


def _reason(live: Running, name: str) -> str | None:
    collector = live.daemon.runners["c1"].engine.collectors.get(name)
    return None if collector is None else collector.pause_reason


async def _bridged_to(live: Running, name: str) -> list[CallAttempt]:
    await live.daemon.flush_writes()
    async with live.daemon.sessions() as db:
        row = await db.scalar(select(Collector.id).where(Collector.username == name))
        found = await db.scalars(select(CallAttempt).where(CallAttempt.collector_id == row))
        return [a for a in found if a.bridged_at is not None]


async def test_a_closed_browser_is_paused_after_the_timeout_and_routed_no_call(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live:
        engine = live.daemon.runners["c1"].engine
        engine.paused = True  # she is ready, with no call yet
        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        await expect(alice.get_by_test_id("state")).to_have_text("ready")
        await _live(alice, 2)  # answering: she stays ready past the timeout's start
        assert state_of(live.daemon, "alice") == "ready"

        await alice.context.close()  # the collector closes her browser
        closed = time.monotonic()
        await until(lambda: state_of(live.daemon, "alice") == "paused", timeout=TIMEOUT + 10)
        assert time.monotonic() - closed >= TIMEOUT - 0.5, "not before the timeout"
        assert _reason(live, "alice") == "disconnected"

        # Her colleague works on: every call goes to him, though she was idle longest.
        bob = await new_page(live.base_url)
        await _log_in(bob, "bob", "/console")
        engine.paused = False
        await bob.get_by_test_id("go-ready").click()
        for _ in range(2):
            await expect(bob.get_by_test_id("call-status")).to_have_text("On a call")
            await bob.get_by_test_id("hangup").click()
            await expect(bob.get_by_test_id("call-status")).to_have_text("Call ended")
            await bob.get_by_test_id("ready").click()
        await expect(bob.get_by_test_id("call-status")).to_have_text("On a call")
        assert engine.stats.bridged == 3
        assert state_of(live.daemon, "alice") == "paused"
        assert await _bridged_to(live, "alice") == [], "no call was bridged to her"
        assert len(await _bridged_to(live, "bob")) == 3


async def test_closed_during_a_call_the_call_ends_and_back_she_sees_why(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live:
        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        await expect(alice.get_by_test_id("call-status")).to_have_text("On a call")
        live.daemon.runners["c1"].engine.paused = True
        await _live(alice)
        context = alice.context
        await alice.close()  # the tab closes; her cookies stay in the browser
        await until(lambda: state_of(live.daemon, "alice") == "paused", timeout=TIMEOUT + 10)
        assert _reason(live, "alice") == "disconnected"
        (attempt,) = await _bridged_to(live, "alice")
        assert attempt.ended_at is not None and attempt.outcome == "conversation"
        assert attempt.talk_seconds is not None and attempt.talk_seconds < TIMEOUT + 5

        back = await context.new_page()
        await back.goto("/console")
        await expect(back.get_by_test_id("state")).to_have_text("paused")
        note = back.get_by_test_id("state-note")
        await expect(note).to_contain_text("this console was closed or lost its connection")
        await expect(note).to_contain_text("Press Ready")
        await _live(back, 2)
        assert state_of(live.daemon, "alice") == "paused", "coming back readies nobody"
        await back.get_by_test_id("ready").click()
        await expect(back.get_by_test_id("state")).to_have_text("ready")
        await expect(back.get_by_test_id("state-note")).to_have_count(0)
        assert state_of(live.daemon, "alice") == "ready"


async def test_a_forced_logout_and_pause_are_seen_in_the_collectors_console(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        await expect(alice.get_by_test_id("state")).to_have_text("ready")
        await _live(alice)

        boss = await new_page(live.base_url)
        await _log_in(boss, "boss", "/manager")
        row = boss.get_by_test_id("roster-alice")
        await expect(row.get_by_test_id("roster-state")).to_have_text("ready")
        await expect(row.get_by_test_id("roster-console")).to_have_text("connected")
        await row.get_by_test_id("force-pause").click()
        await expect(boss.get_by_test_id("notice")).to_contain_text("Collector updated")
        await expect(alice.get_by_test_id("state")).to_have_text("paused")
        await expect(alice.get_by_test_id("state-note")).to_contain_text("A manager (boss)")
        assert _reason(live, "alice") == "manager"

        row = boss.get_by_test_id("roster-alice")
        await expect(row.get_by_test_id("force-pause")).to_have_count(0)
        await row.get_by_test_id("force-logout").click()
        await expect(alice.get_by_test_id("state")).to_have_text("logged out")
        note = alice.get_by_test_id("state-note")
        await expect(note).to_contain_text("A manager (boss) took you out of campaign c1")
        assert state_of(live.daemon, "alice") is None
        await expect(alice.get_by_test_id("go-ready")).to_be_visible()
        campaign = boss.get_by_test_id("campaign-c1")
        await expect(campaign.get_by_test_id("audit")).to_contain_text("collector.logout")
        await expect(campaign.get_by_test_id("audit")).to_contain_text("collector.pause")
        await expect(boss.get_by_test_id("roster-alice")).to_have_count(0)


async def test_a_logout_after_the_call_is_announced_and_happens_when_it_ends(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        await expect(alice.get_by_test_id("call-status")).to_have_text("On a call")
        live.daemon.runners["c1"].engine.paused = True

        boss = await new_page(live.base_url)
        await _log_in(boss, "boss", "/manager")
        row = boss.get_by_test_id("roster-alice")
        await expect(row.get_by_test_id("roster-state")).to_have_text("on call")
        await expect(row.get_by_test_id("force-logout")).to_have_text("Log out after the call")
        await row.get_by_test_id("force-logout").click()
        await expect(boss.get_by_test_id("notice")).to_contain_text("Collector updated")
        row = boss.get_by_test_id("roster-alice")
        await expect(row.get_by_test_id("roster-state")).to_contain_text("logout when the call")
        await expect(row.get_by_test_id("force-logout")).to_have_count(0)

        # Her open console says so at once, and the debtor is not cut off.
        note = alice.get_by_test_id("state-note")
        await expect(note).to_have_text(
            "A manager will take you out of the campaign when this call ends."
        )
        assert state_of(live.daemon, "alice") == "on_call"
        await alice.get_by_test_id("hangup").click()
        await expect(alice.get_by_test_id("state")).to_have_text("logged out")
        await expect(alice.get_by_test_id("state-note")).to_contain_text("A manager (boss)")
        assert state_of(live.daemon, "alice") is None
