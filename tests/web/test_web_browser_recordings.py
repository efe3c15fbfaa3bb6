"""A manager finds a call's recording in Chromium and plays it: the audio element loads
the WAV the endpoint streams (its duration is the call's), and the play is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from recordingweb import recorded_call
from sqlalchemy import select
from test_web_browser import _log_in
from webkit import NewPage, running, write_settings

from dialer.store.tables import AccessAudit

pytestmark = pytest.mark.browser


async def test_a_manager_plays_a_recording_in_the_browser(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        rec_id, case_id, _ = await recorded_call(
            live.daemon.sessions, tmp_path / "rec", "c1.b.1", seconds=3.0
        )
        page = await new_page(live.base_url)
        await _log_in(page, "boss", "/manager")
        await page.get_by_test_id("nav-recordings").click()
        row = page.get_by_test_id(f"recording-{rec_id}")
        await expect(row).to_be_visible()
        player = page.get_by_test_id(f"player-{rec_id}")
        await player.evaluate("audio => { audio.muted = true; return audio.play(); }")
        duration = await player.evaluate(
            """audio => new Promise((resolve, reject) => {
                 if (audio.readyState >= 1) return resolve(audio.duration);
                 audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
                 audio.addEventListener("error", () => reject(new Error(
                     "media error " + (audio.error && audio.error.code))));
               })"""
        )
        assert duration == pytest.approx(3.0, abs=0.05)
        error = await player.evaluate("audio => audio.error && audio.error.code")
        assert error is None

        # the endpoint writes the audit before its first byte, so it is there by now
        async with live.daemon.sessions() as s:
            rows = await s.execute(
                select(AccessAudit.actor, AccessAudit.case_id).where(
                    AccessAudit.reason == "recording_play"
                )
            )
            assert ("boss", case_id) in set(rows.tuples())
