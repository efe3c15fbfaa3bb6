"""The manager's wallboard in Chromium against the real daemon: it updates live, without a
reload, as a collector goes ready, takes a call (her row shows the state, the case id and
a ticking talk time; the chart gains samples), records a promise (today's figures count
it); a forced logout from the wallboard takes her out of the campaign and off the board.
No debtor name or number is on the board.

Nothing sleeps for timing: every step waits, with a deadline, for what the page or the
engine must show."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_web_browser import _log_in
from webkit import CLOCK_START, NewPage, running, state_of, write_settings

pytestmark = pytest.mark.browser


async def _samples(chart: Any) -> int:
    return int(await chart.get_attribute("data-samples") or 0)


async def test_the_wallboard_follows_a_collector_live_and_logs_her_out(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        engine = live.daemon.runners["c1"].engine
        engine.paused = True
        boss = await new_page(live.base_url)
        await _log_in(boss, "boss", "/manager")
        await boss.get_by_test_id("nav-wallboard").click()
        await expect(boss).to_have_url(re.compile(r"/manager/wallboard$"))
        await expect(boss.get_by_test_id("wallboard-status")).to_have_text("Live.")
        board = boss.get_by_test_id("board-c1")
        await expect(boss.get_by_test_id("board-c2")).to_have_count(0)  # not his campaign
        await expect(board.get_by_test_id("wb-running")).to_have_text("paused")
        await expect(board.get_by_test_id("wb-abandon")).to_contain_text("(cap 3.00%)")
        loaded = await boss.evaluate("performance.getEntriesByType('navigation').length")

        alice = await new_page(live.base_url)
        await _log_in(alice, "alice", "/console")
        await alice.get_by_test_id("go-ready").click()
        row = board.get_by_test_id("wb-row-alice")
        await expect(row.get_by_test_id("wb-state")).to_have_text("ready")
        await expect(row.get_by_test_id("wb-team")).to_have_text("t1")
        await expect(row.get_by_test_id("wb-console")).to_have_text("connected")
        await expect(row.get_by_test_id("wb-case")).to_have_text("")

        await alice.get_by_test_id("pause-reason").select_option("break")
        await alice.get_by_test_id("pause").click()
        await expect(row.get_by_test_id("wb-state")).to_have_text("paused (break)")
        engine.paused = False  # ready again, and a call for her
        await alice.get_by_test_id("ready").click()
        await expect(alice.get_by_test_id("call-status")).to_have_text("On a call")
        engine.paused = True
        case_id = int(await alice.get_by_test_id("case-id").inner_text())
        await expect(row.get_by_test_id("wb-state")).to_have_text("on call")
        await expect(row.get_by_test_id("wb-case")).to_have_text(f"#{case_id}")
        await expect(row.get_by_test_id("wb-talk")).to_have_text(re.compile(r"^0:0[1-9]$"))
        await expect(row.get_by_test_id("wb-force-logout")).to_have_text("Log out after the call")
        await expect(board.get_by_test_id("wb-collectors")).to_contain_text("on call 1")
        chart = board.get_by_test_id("chart-abandon")
        before = await _samples(chart)
        await expect(chart).not_to_have_attribute("data-samples", str(before), timeout=15_000)
        assert await _samples(chart) > before, "the chart gains samples as the series grows"
        assert await board.locator("[data-chart=abandon] path[data-line=cap]").count() == 1
        # The decision that launched her call, in plain words; the pacer's record a click away.
        decision = board.get_by_test_id("wb-decisions").locator("li").first
        await expect(decision.get_by_test_id("wb-decision-reason")).to_contain_text("call")
        technical = decision.get_by_test_id("wb-decision-technical")
        await expect(technical).to_be_hidden()
        await decision.locator("summary").click()
        await expect(technical).to_be_visible()
        assert (
            await technical.inner_text()
            != await decision.get_by_test_id("wb-decision-reason").inner_text()
        )

        balance = Decimal((await alice.get_by_test_id("balance").inner_text()).split()[0])
        await alice.get_by_test_id("hangup").click()
        await expect(row.get_by_test_id("wb-state")).to_have_text("wrap up")
        await expect(row.get_by_test_id("wb-talk")).to_have_text("")
        amount = min(balance, Decimal("25.00"))
        promised = date.fromtimestamp(CLOCK_START) + timedelta(days=7)
        await alice.get_by_test_id("kind").select_option("promise_to_pay")
        await alice.get_by_test_id("amount").fill(str(amount))
        await alice.get_by_test_id("promise-date").fill(promised.isoformat())
        await alice.get_by_test_id("record").click()
        await expect(alice.get_by_test_id("notice")).to_have_text("Disposition recorded.")
        figures = board.get_by_test_id("wb-fig-alice")
        await expect(figures.get_by_test_id("wb-contacts")).to_have_text("1", timeout=15_000)
        await expect(figures.get_by_test_id("wb-right-party")).to_have_text("1")
        await expect(figures.get_by_test_id("wb-promises")).to_have_text("1")
        await expect(figures.get_by_test_id("wb-promised")).to_have_text(f"{amount:.2f}")
        team = board.get_by_test_id("wb-team-t1")
        await expect(team.get_by_test_id("wb-promised")).to_have_text(f"{amount:.2f}")
        await expect(figures.get_by_test_id("wb-aht")).to_have_text(re.compile(r"^\d+:\d\d$"))

        text = await board.inner_text()
        assert "+1" not in text and "555" not in text, "no phone number on the board"
        debtor = (await alice.get_by_test_id("debtor").inner_text()).strip()
        assert debtor and debtor not in text, "no debtor name on the board"

        await row.get_by_test_id("wb-force-logout").click()
        await expect(boss.get_by_test_id("wallboard-notice")).to_contain_text("alice: logout")
        await expect(board.get_by_test_id("wb-row-alice")).to_have_count(0)
        assert state_of(live.daemon, "alice") is None
        await expect(alice.get_by_test_id("state")).to_have_text("logged out")
        assert await boss.evaluate("performance.getEntriesByType('navigation').length") == loaded
        assert await boss.evaluate("window.location.pathname") == "/manager/wallboard"
