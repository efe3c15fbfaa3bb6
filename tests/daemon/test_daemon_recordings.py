"""The daemon's recording wiring: which answered calls get a tap (their campaign's switch),
how long they are kept (campaign and profile), and the row each file gets under its
attempt; a tap that cannot be made costs the recording, not the call."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from dialer.compliance import load_profile
from dialer.daemon.recordings import CallRecordings
from dialer.metrics import Metrics
from dialer.settings import Settings
from dialer.store.tables import Recording

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from recordingkit import packets, tone, wait_for
from recordstore import add_attempt, make_store

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _runner(*calls: str) -> Any:
    return SimpleNamespace(engine=SimpleNamespace(calls=dict.fromkeys(calls)))


async def test_answered_calls_are_tapped_as_their_campaign_says(
    db_url: str, tmp_path: Path
) -> None:
    store = await make_store(db_url, campaign="c1")
    settings = Settings(
        recording={"directory": str(tmp_path / "rec")},
        campaigns=[
            {"name": "c1", "compliance_profile": "cn_ifac"},
            {"name": "quiet", "compliance_profile": "us_tsr_regf",
             "recording": {"enabled": False}},
        ],
    )  # fmt: skip
    profiles = {"c1": load_profile("cn_ifac"), "quiet": load_profile("us_tsr_regf")}
    runners = {"c1": _runner("c1.x.1"), "quiet": _runner("quiet.x.1")}
    metrics = Metrics()
    recordings = CallRecordings(
        settings,
        profiles,
        runners,
        store.sessions,
        metrics,
        lambda: NOW,  # type: ignore[arg-type]
    )
    recordings.start()
    try:
        await add_attempt(store, "c1.x.1", store.case_ids[0])
        assert recordings.tap("quiet.x.1") is None, "recording switched off"
        assert recordings.tap("nobody.x.1") is None, "not a call of ours"
        tap = recordings.tap("c1.x.1")
        assert tap is not None
        for n, packet in enumerate(packets(tone(440, 1.0))):
            tap.received(packet, n * 0.02)
        tap.close()
        written = "dialer_recordings_written_total"
        await wait_for(lambda: metrics.registry.get_sample_value(written, {"campaign": "c1"}) == 1)
    finally:
        await recordings.stop()
    async with store.sessions() as s:
        row = (await s.execute(select(Recording))).scalar_one()
    assert row.call_id == "c1.x.1" and row.case_id == store.case_ids[0]
    assert row.expires_at == NOW + timedelta(days=730), "cn_ifac keeps two years"
    assert Path(row.path).is_file() and row.bytes == Path(row.path).stat().st_size
    assert row.collector_id == store.collector_id and not row.sealed
    await store.engine.dispose()


async def test_a_tap_that_cannot_be_made_is_counted_and_the_call_goes_on(
    db_url: str, tmp_path: Path
) -> None:
    store = await make_store(db_url, campaign="c1")
    settings = Settings(campaigns=[{"name": "c1", "compliance_profile": "us_tsr_regf"}])
    metrics = Metrics()
    recordings = CallRecordings(
        settings,
        {},
        {"c1": _runner("c1.x.1")},
        store.sessions,
        metrics,
        lambda: NOW,  # type: ignore[arg-type]
    )  # no profile for c1: the retention lookup fails
    assert recordings.tap("c1.x.1") is None
    failures = metrics.registry.get_sample_value(
        "dialer_recording_failures_total", {"reason": "io_error"}
    )
    assert failures == 1
    await store.engine.dispose()
