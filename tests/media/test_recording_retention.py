"""Retention: how long each campaign keeps recordings (never under its profile's minimum),
the start-up refusal, and the job that deletes exactly the expired ones (injected clock)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from recordstore import NOW, add_attempt, add_recording, make_store
from sqlalchemy import select

from dialer.compliance import load_profile
from dialer.daemon.startup import StartupError, check_campaigns
from dialer.media.recording_settings import CampaignRecording, RecordingSettings
from dialer.media.retention import expire_recordings, retention_days, retention_refusals
from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.settings import OrchestrationSettings
from dialer.settings import Settings
from dialer.store.tables import Recording

CN = load_profile("cn_ifac")
US = load_profile("us_tsr_regf")


def test_a_recording_is_kept_at_least_as_long_as_the_profile_says() -> None:
    defaults = RecordingSettings()
    assert retention_days(defaults, CampaignRecording(), US) == 365
    assert retention_days(defaults, CampaignRecording(), CN) == 730  # two years
    assert retention_days(defaults, CampaignRecording(retention_days=1000), CN) == 1000
    assert retention_days(defaults, CampaignRecording(retention_days=30), US) == 30


def test_a_campaign_that_keeps_less_or_records_nothing_under_cn_ifac_is_refused() -> None:
    assert retention_refusals(CampaignRecording(retention_days=365), CN) == [
        "recording.retention_days 365 is below the 730 days profile cn_ifac v3 requires"
    ]
    assert retention_refusals(CampaignRecording(enabled=False), CN) == [
        "profile cn_ifac v3 requires calls to be recorded"
    ]
    assert retention_refusals(CampaignRecording(enabled=False), US) == []
    settings = Settings(
        campaigns=[
            {"name": "cn", "compliance_profile": "cn_ifac", "recording": {"retention_days": 90}}
        ]
    )
    with pytest.raises(StartupError, match=r"campaign cn: recording\.retention_days 90 is below"):
        check_campaigns(settings)


async def test_expiry_deletes_only_what_has_expired(db_url: str, tmp_path: Path) -> None:
    store = await make_store(db_url)
    try:
        files = {}
        for name, expires in (
            ("old", NOW - timedelta(days=1)),
            ("due", NOW),
            ("kept", NOW + timedelta(seconds=1)),
        ):
            path = tmp_path / f"{name}.wav"
            path.write_bytes(b"RIFF")
            await add_attempt(store, f"c1.x.{name}", store.case_ids[0])
            await add_recording(store, f"c1.x.{name}", path, expires=expires)
            files[name] = path
        await add_recording(store, "c1.x.gone", tmp_path / "never-written.wav",
                            expires=NOW - timedelta(days=2))  # fmt: skip
        assert await expire_recordings(store.sessions, NOW) == 3
        async with store.sessions() as s:
            left = list(await s.scalars(select(Recording.call_id)))
        assert left == ["c1.x.kept"]
        assert not files["old"].exists() and not files["due"].exists()
        assert files["kept"].exists()
        # a day later the job (through the orchestrator, as scheduled) takes the last one
        orchestrator = Orchestrator(OrchestrationSettings(), store.sessions, owner="d1")
        later = NOW + timedelta(days=1)
        orchestrator.recording_expiry = lambda now: expire_recordings(store.sessions, now)
        await orchestrator.expire_recordings(later)
        async with store.sessions() as s:
            assert list(await s.scalars(select(Recording.call_id))) == []
        assert not files["kept"].exists()
    finally:
        await store.engine.dispose()


async def test_a_recording_outlives_its_attempt_record(db_url: str, tmp_path: Path) -> None:
    """Attempt retention (2 years) may delete the attempt; the recording keeps its case."""
    store = await make_store(db_url)
    try:
        path = tmp_path / "a.wav"
        path.write_bytes(b"RIFF")
        await add_attempt(store, "c1.x.1", store.case_ids[1])
        await add_recording(store, "c1.x.1", path)
        orchestrator = Orchestrator(OrchestrationSettings(), store.sessions, owner="d1")
        await orchestrator.retention(NOW + timedelta(days=900))
        async with store.sessions() as s:
            row = (await s.execute(select(Recording.attempt_id, Recording.case_id))).one()
        assert tuple(row) == (None, store.case_ids[1])
    finally:
        await store.engine.dispose()
