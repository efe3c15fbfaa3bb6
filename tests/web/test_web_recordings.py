"""Recordings on the manager's pages: found by campaign, collector, date and case ref,
streamed as WAV to the campaign's managers (each play in the access audit), refused to
collectors and to other campaigns' managers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from recordingweb import pcm_channels, recorded_call
from sqlalchemy import select
from webkit import login, running, write_settings

from dialer.media.recording_wav import MULAW_TO_PCM16
from dialer.store.tables import AccessAudit, CaseRow


async def _audit(live: object) -> list[tuple[str, str, int]]:
    async with live.daemon.sessions() as s:  # type: ignore[attr-defined]
        rows = await s.execute(select(AccessAudit.actor, AccessAudit.reason, AccessAudit.case_id))
        return [tuple(r) for r in rows.tuples() if r[1] == "recording_play"]  # type: ignore[misc]


async def test_a_manager_plays_a_recording_and_the_play_is_audited(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        rec_id, case_id, debtor = await recorded_call(
            live.daemon.sessions, tmp_path / "rec", "c1.t.1"
        )
        async with live.client() as boss:
            await login(boss, "boss")
            page = await boss.get("/manager/recordings")
            assert page.status_code == 200
            assert f'data-testid="recording-{rec_id}"' in page.text
            assert await _audit(live) == [], "listing plays nothing"
            audio = await boss.get(f"/manager/recordings/{rec_id}/audio")
        assert audio.status_code == 200, audio.text
        assert audio.headers["content-type"] == "audio/wav"
        assert int(audio.headers["content-length"]) == len(audio.content)
        pcm = pcm_channels(audio.content)
        assert len(pcm) == len(debtor)  # two seconds, both channels
        expected = MULAW_TO_PCM16[np.frombuffer(debtor, np.uint8)]
        assert np.array_equal(pcm[:, 0], expected), "the debtor's channel, sample for sample"
        assert np.sqrt(np.mean(pcm[:, 1].astype(float) ** 2)) > 3000, "what they heard"
        assert await _audit(live) == [("boss", "recording_play", case_id)]


async def test_collectors_and_other_managers_are_refused(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        rec_id, _, _ = await recorded_call(live.daemon.sessions, tmp_path / "rec", "c1.t.2")
        async with live.client() as alice:
            await login(alice, "alice")
            audio = await alice.get(f"/manager/recordings/{rec_id}/audio")
            listing = await alice.get("/manager/recordings")
        assert audio.status_code == 403 and "managers only" in audio.text
        assert listing.status_code == 403
        async with live.client() as other:  # manages c2 only
            await login(other, "other")
            audio = await other.get(f"/manager/recordings/{rec_id}/audio")
            listing = await other.get("/manager/recordings")
        assert audio.status_code == 403 and "not one of your campaigns" in audio.text
        assert f"recording-{rec_id}" not in listing.text
        async with live.client() as anonymous:
            audio = await anonymous.get(f"/manager/recordings/{rec_id}/audio")
        assert audio.status_code in (303, 307), "no session: to the login page"
        assert await _audit(live) == []


async def test_filters_narrow_the_list_and_bad_ones_get_a_reason(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        rec_id, case_id, _ = await recorded_call(live.daemon.sessions, tmp_path / "rec", "c1.t.3")
        async with live.daemon.sessions() as s:
            ref = await s.scalar(select(CaseRow.debtor_ref).where(CaseRow.id == case_id))
        async with live.client() as boss:
            await login(boss, "boss")
            by_ref = await boss.get("/manager/recordings", params={"case_ref": ref})
            other_ref = await boss.get("/manager/recordings", params={"case_ref": "nobody"})
            by_day = await boss.get(
                "/manager/recordings", params={"since": "2026-03-03", "until": "2026-03-03"}
            )
            before = await boss.get("/manager/recordings", params={"until": "2026-03-02"})
            bad = await boss.get("/manager/recordings", params={"since": "yesterday"})
            foreign = await boss.get("/manager/recordings", params={"campaign": "c2"})
            missing = await boss.get("/manager/recordings/999999/audio")
            by_case = await boss.get("/manager/recordings", params={"case": str(case_id)})
            other_case = await boss.get("/manager/recordings", params={"case": "999999"})
            bad_case = await boss.get("/manager/recordings", params={"case": "x"})
            case_page = await boss.get(f"/cases/{case_id}")
        assert f"recording-{rec_id}" in by_ref.text and f"recording-{rec_id}" in by_day.text
        assert f"recording-{rec_id}" not in other_ref.text
        assert f"recording-{rec_id}" not in before.text
        assert bad.status_code == 422 and "since: expected a date as YYYY-MM-DD" in bad.text
        assert foreign.status_code == 403
        assert missing.status_code == 404
        assert f"recording-{rec_id}" in by_case.text
        assert f"recording-{rec_id}" not in other_case.text
        assert bad_case.status_code == 422 and "case: expected a case number" in bad_case.text
        assert f'href="/manager/recordings?case={case_id}"' in case_page.text


async def test_a_sealed_recording_plays_and_a_lost_file_is_gone(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        sealed_id, _, debtor = await recorded_call(
            live.daemon.sessions, tmp_path / "rec", "c1.t.4", sealed=True
        )
        lost_id, _, _ = await recorded_call(live.daemon.sessions, tmp_path / "rec", "c1.t.5")
        for path in (tmp_path / "rec").rglob("c1.t.5.wav"):
            path.unlink()
        async with live.client() as boss:
            await login(boss, "boss")
            sealed = await boss.get(f"/manager/recordings/{sealed_id}/audio")
            lost = await boss.get(f"/manager/recordings/{lost_id}/audio")
        assert sealed.status_code == 200
        expected = MULAW_TO_PCM16[np.frombuffer(debtor, np.uint8)]
        assert np.array_equal(pcm_channels(sealed.content)[:, 0], expected)
        assert lost.status_code == 410 and "gone" in lost.text
