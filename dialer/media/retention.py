"""Recording retention: how long a call's recording is kept, and the job that deletes it.

A recording is kept for the campaign's `recording.retention_days` (default:
`recording.default_retention_days`), never less than its compliance profile's
`recordings.min_retention_days` (cn_ifac: two years); the start-up check refuses a
campaign that asks for less. The expiry date is fixed when the call is recorded and
stored with it (`recordings.expires_at`), so a later change of settings never shortens
what was promised for calls already made.

`expire_recordings` (the `recording_expiry` job, dialer.orchestration.jobs) deletes files
whose date has come, then their rows; file deletion runs in a worker thread. A file that
cannot be deleted keeps its row, so the next run tries again (and says so in the log); one
already gone just loses its row.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import Profile
from dialer.logs import event
from dialer.media.recording_settings import CampaignRecording, RecordingSettings
from dialer.store.recordings_repo import RecordingRepository

log = logging.getLogger(__name__)
BATCH = 1000
MAX_BATCHES = 100


def retention_days(
    settings: RecordingSettings, campaign: CampaignRecording, profile: Profile
) -> int:
    """Days a recording of this campaign is kept."""
    wanted = campaign.retention_days or settings.default_retention_days
    minimum = profile.recordings.min_retention_days or 0
    return max(wanted, minimum)


def retention_refusals(campaign: CampaignRecording, profile: Profile) -> list[str]:
    """Why the campaign's recording settings break its profile (empty: they do not)."""
    refusals: list[str] = []
    rules = profile.recordings
    if rules.required and not campaign.enabled:
        refusals.append(f"profile {profile.label} requires calls to be recorded")
    minimum = rules.min_retention_days
    wanted = campaign.retention_days
    if minimum is not None and wanted is not None and wanted < minimum:
        refusals.append(
            f"recording.retention_days {wanted} is below the {minimum} days profile "
            f"{profile.label} requires"
        )
    return refusals


def expiry(started_at: datetime, days: int) -> datetime:
    return started_at + timedelta(days=days)


def _remove(paths: list[tuple[int, str]]) -> tuple[list[int], list[tuple[int, str]]]:
    """(ids whose file is gone now, (id, why) of those that could not be deleted)."""
    gone: list[int] = []
    kept: list[tuple[int, str]] = []
    for recording_id, path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            kept.append((recording_id, exc.strerror or type(exc).__name__))
            continue
        gone.append(recording_id)
    return gone, kept


async def expire_recordings(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """Delete every recording whose retention ended by `now`; how many were deleted."""
    deleted = 0
    failed: set[int] = set()
    for _ in range(MAX_BATCHES):
        async with sessions() as session:
            due = await RecordingRepository(session).expired(now, BATCH + len(failed))
        due = [(i, p) for i, p in due if i not in failed]
        if not due:
            break
        gone, kept = await asyncio.to_thread(_remove, due)
        async with sessions() as session, session.begin():
            deleted += await RecordingRepository(session).delete(gone)
        for recording_id, why in kept:
            failed.add(recording_id)
            event(log, "recording.expiry_failed", logging.ERROR, recording=recording_id, error=why)
        if len(due) < BATCH:
            break
    event(log, "recording.expired", recordings=deleted, before=now.isoformat())
    return deleted
