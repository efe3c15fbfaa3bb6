"""The console's details in Chromium against the real daemon: a note and a callback typed
during the call survive its end, a callback inside the lockout is refused with the next
allowed time and the form keeps what was typed, the banner when the manager pauses
dialing, the time on the call counting, and the disconnected banner when the server
stops (gone again once it is back).

Nothing sleeps: every step waits for what the page or the engine must show."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_web_browser import _log_in, _routed_call
from webkit import CLOCK_START, NewPage, login, running, state_of, write_settings

from dialer.daemon import Daemon

pytestmark = pytest.mark.browser


async def _live_stream(page: Any, messages: int = 0) -> None:
    """Wait until the page's event stream is open and has delivered `messages` events."""
    await page.wait_for_function(
        "n => document.body.dataset.live === 'yes'"
        " && Number(document.body.dataset.sseMessages || 0) >= n",
        arg=messages,
    )


async def _closed(port: int) -> None:
    """Wait until nothing listens on the port any more."""
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.02)
    raise AssertionError(f"port {port} still open")


async def test_a_refused_callback_keeps_the_form_and_offers_the_next_allowed_time(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        await _routed_call(live, page)
        live.daemon.runners["c1"].engine.paused = True  # one call is enough

        # During the call: the form is there, the collector types, Record waits.
        await expect(page.get_by_test_id("record")).to_be_disabled()
        tomorrow = datetime.fromtimestamp(CLOCK_START, UTC).date() + timedelta(days=1)
        await page.get_by_test_id("kind").select_option("callback")
        await page.get_by_test_id("callback-at").fill(f"{tomorrow}T10:30")
        await page.get_by_test_id("note").fill("wants a call tomorrow morning")

        # The call ends: the panel is swapped by the server, the typed values stay.
        await page.get_by_test_id("hangup").click()
        await expect(page.get_by_test_id("call-status")).to_have_text("Call ended")
        await expect(page.get_by_test_id("record")).to_be_enabled()
        await expect(page.get_by_test_id("note")).to_have_value("wants a call tomorrow morning")
        await expect(page.get_by_test_id("callback-at")).to_have_value(f"{tomorrow}T10:30")
        await expect(page.get_by_test_id("kind")).to_have_value("callback")

        # Refused: the rule in plain words, the next allowed time, the values as typed.
        await page.get_by_test_id("record").click()
        errors = page.get_by_test_id("form-errors")
        await expect(errors).to_contain_text("too soon after a conversation")
        zone = (await page.get_by_test_id("debtor-zone").inner_text()).strip()
        offer = page.get_by_test_id("next-allowed")
        label = re.compile(rf"^\w{{3}} \d{{1,2}} \w{{3}} 08:00 \({re.escape(zone)}\)$")
        await expect(offer).to_have_text(label)
        offered = await offer.inner_text()
        await _live_stream(page, 3)  # the stream's first call panel has been swapped in
        await expect(page.get_by_test_id("note")).to_have_value("wants a call tomorrow morning")
        await expect(page.get_by_test_id("callback-at")).to_have_value(f"{tomorrow}T10:30")

        # Take the offer and record.
        await page.get_by_test_id("use-next-allowed").click()
        await expect(page.get_by_test_id("callback-at")).to_have_value(re.compile(r"T08:00$"))
        await page.get_by_test_id("record").click()
        await expect(page.get_by_test_id("notice")).to_have_text("Disposition recorded.")
        await expect(page.get_by_test_id("callback-when")).to_have_text(offered)


async def test_banner_when_the_manager_pauses_and_the_time_on_the_call(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        await _routed_call(live, page)
        timer = page.get_by_test_id("elapsed")
        await expect(timer).to_have_text(re.compile(r"^0:0[2-9]$"), timeout=15_000)
        await expect(page.get_by_test_id("campaign-banner")).to_have_count(0)
        async with live.client() as boss:
            await login(boss, "boss")
            await boss.put("/api/v1/campaigns/c1/running", json={"running": False})
            banner = page.get_by_test_id("campaign-banner")
            await expect(banner).to_contain_text("Dialing is paused in campaign c1")
            await expect(banner).to_contain_text("paused by a manager")
            await boss.put("/api/v1/campaigns/c1/running", json={"running": True})
            await expect(page.get_by_test_id("campaign-banner")).to_have_count(0)


async def test_disconnected_banner_when_the_server_stops(tmp_path: Path, new_page: NewPage) -> None:
    from playwright.async_api import expect

    settings = write_settings(tmp_path)
    async with running(settings) as live:
        live.daemon.runners["c1"].engine.paused = True
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        await _live_stream(page)
        banner = page.get_by_test_id("disconnected")
        await expect(banner).to_be_hidden()
        port = live.daemon.web_port
        assert port is not None
        live.daemon.request_stop()
        await expect(banner).to_be_visible(timeout=15_000)
        await _closed(port)
        await expect(banner).to_contain_text("Disconnected from the dialer")

        # The daemon is back on the same address: the page reconnects, the banner goes.
        web = settings.web.model_copy(update={"port": port})
        again = Daemon(settings.model_copy(update={"web": web}), clock_start=CLOCK_START, seed=1)
        await again.prepare()
        task = asyncio.create_task(again.run())
        try:
            await asyncio.wait_for(again.wait_ready(), 30)
            await expect(banner).to_be_hidden(timeout=20_000)
            await expect(page.get_by_test_id("state")).to_have_text("logged out")
            assert state_of(again, "alice") is None
        finally:
            again.request_stop()
            await asyncio.wait_for(task, 30)
