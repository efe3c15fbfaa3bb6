"""End to end in Chromium against the real daemon (store, engine, simulated trunk, web
server in this test's event loop): a collector's call from ready to promise to pay, the
automatic return to ready after wrap-up, a manager's pacing change, and the access rules.

Nothing sleeps: every step waits for what the page or the engine must show."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from webkit import (
    CLOCK_START,
    PASSWORD,
    NewPage,
    Running,
    login,
    running,
    state_of,
    until,
    write_settings,
)

from dialer.store.tables import Disposition

pytestmark = pytest.mark.browser


async def _log_in(page: Any, username: str, then: str) -> None:
    from playwright.async_api import expect

    await page.goto(then)
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(re.escape(then) + "$"))


async def _routed_call(live: Running, page: Any) -> tuple[int, Decimal]:
    """Go ready and wait for the screen pop; returns the case id and its balance."""
    from playwright.async_api import expect

    await page.get_by_test_id("go-ready").click()
    await expect(page.get_by_test_id("call-status")).to_have_text("On a call")
    await expect(page.get_by_test_id("state")).to_have_text("on call")
    debtor = await page.get_by_test_id("debtor").inner_text()
    assert "*" in debtor, "the debtor's name is shown masked"
    case_id = int(await page.get_by_test_id("case-id").inner_text())
    balance = Decimal((await page.get_by_test_id("balance").inner_text()).split()[0])
    await expect(page.get_by_test_id("dpd")).to_have_text(re.compile(r"^\d+ \(M\d\)|WO"))
    assert state_of(live.daemon, "alice") == "on_call"
    return case_id, balance


async def test_collector_gets_a_call_records_a_promise_and_is_ready_again(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        await expect(page.get_by_test_id("state")).to_have_text("logged out")
        case_id, balance = await _routed_call(live, page)
        live.daemon.runners["c1"].engine.paused = True  # one call is enough for this test

        await page.get_by_test_id("hangup").click()
        await expect(page.get_by_test_id("call-status")).to_have_text("Call ended")
        await expect(page.get_by_test_id("state")).to_have_text("wrap up")
        amount = min(balance, Decimal("25.00"))
        promised = date.fromtimestamp(CLOCK_START) + timedelta(days=7)
        await page.get_by_test_id("kind").select_option("promise_to_pay")
        await page.get_by_test_id("amount").fill(str(amount))
        await page.get_by_test_id("promise-date").fill(promised.isoformat())
        await page.get_by_test_id("note").fill("will pay on payday")
        await page.get_by_test_id("record").click()
        await expect(page.get_by_test_id("notice")).to_have_text("Disposition recorded.")
        await expect(page.get_by_test_id("recorded")).to_contain_text("promise to pay")
        await expect(page.get_by_test_id("promises")).to_contain_text(str(amount))

        await page.get_by_test_id("ready").click()
        await expect(page.get_by_test_id("state")).to_have_text("ready")
        assert state_of(live.daemon, "alice") == "ready"
        async with live.daemon.sessions() as db:
            row = await db.scalar(select(Disposition).where(Disposition.case_id == case_id))
        assert row is not None and row.kind == "promise_to_pay"
        assert row.amount == amount and row.promise_date == promised


async def test_wrap_up_counts_down_and_ends_in_ready_by_itself(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    settings = write_settings(tmp_path, campaign_extra="    wrap_up_seconds: 3")
    async with running(settings) as live:
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        await _routed_call(live, page)
        live.daemon.runners["c1"].engine.paused = True
        await page.get_by_test_id("hangup").click()
        await expect(page.get_by_test_id("countdown")).to_be_visible()
        # No click and no reload: the state arrives over server-sent events.
        await expect(page.get_by_test_id("state")).to_have_text("ready", timeout=15_000)
        assert state_of(live.daemon, "alice") == "ready"


async def test_manager_changes_the_target_abandon_rate(tmp_path: Path, new_page: NewPage) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path, pacing="adaptive")) as live:
        engine = live.daemon.runners["c1"].engine
        page = await new_page(live.base_url)
        await _log_in(page, "boss", "/manager")
        campaign = page.get_by_test_id("campaign-c1")
        await expect(campaign).to_be_visible()
        await expect(page.get_by_test_id("campaign-c2")).to_have_count(0)
        await expect(campaign.get_by_test_id("applied-target")).to_have_text("0.025")

        await campaign.get_by_test_id("target").fill("0.05")
        await campaign.get_by_test_id("apply-pacing").click()
        await expect(page.get_by_test_id("campaign-error")).to_contain_text("cap 0.03")
        assert engine.pacer.abandon_cap == 0.025  # type: ignore[attr-defined]

        campaign = page.get_by_test_id("campaign-c1")
        await campaign.get_by_test_id("target").fill("0.02")
        await campaign.get_by_test_id("apply-pacing").click()
        await expect(page.get_by_test_id("notice")).to_have_text("Pacing applied.")
        campaign = page.get_by_test_id("campaign-c1")
        await expect(campaign.get_by_test_id("applied-target")).to_have_text("0.02")
        await expect(campaign.get_by_test_id("audit")).to_contain_text("campaign.pacing")
        await expect(campaign.get_by_test_id("audit")).to_contain_text("boss")
        assert engine.pacer.name == "adaptive"
        assert engine.pacer.abandon_cap == 0.02  # type: ignore[attr-defined]

        await campaign.get_by_test_id("pause-campaign").click()
        await expect(page.get_by_test_id("campaign-c1").get_by_test_id("running")).to_have_text(
            "paused"
        )
        assert engine.paused


async def test_access_rules(tmp_path: Path, new_page: NewPage) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        anonymous = await new_page(live.base_url)
        for path in ("/console", "/manager", "/cases/1"):
            await anonymous.goto(path)
            await expect(anonymous).to_have_url(re.compile(r"/login\?next="))
            await expect(anonymous.get_by_role("button", name="Log in")).to_be_visible()
        api = await anonymous.goto("/api/v1/campaigns")
        assert api is not None and api.status == 401

        async with live.client() as alice:
            await login(alice, "alice")
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            await until(lambda: state_of(live.daemon, "alice") == "on_call")
            case_id = (await alice.get("/api/v1/me")).json()["collector"]["call"]["case_id"]

        bob = await new_page(live.base_url)
        await _log_in(bob, "bob", "/console")
        response = await bob.goto(f"/cases/{case_id}")
        assert response is not None and response.status == 403
        await expect(bob.get_by_test_id("reason")).to_have_text("this case was not routed to you")
        response = await bob.goto("/manager")
        assert response is not None and response.status == 403
