"""Call recording in the daemon: which calls are recorded, for how long, and their rows.

The SIP trunk asks `CallRecordings.tap` for every debtor leg the 200 OK brings up; the
call's campaign (found by the runner whose engine holds the call) says whether it is
recorded and, with its compliance profile, how long it is kept (dialer.media.retention).
A finished file is catalogued under its attempt (`recordings` row). The retention job
(`recording_expiry`) deletes expired ones. A tap is never refused for a store problem: the
file is written and its row attempted; a refused row is counted as a recording failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.compliance import Profile
from dialer.daemon.runner import CampaignRunner
from dialer.logs import event
from dialer.media.recording import FinishedRecording, Recorder, RecordingPlan, RecordingTap
from dialer.media.retention import expire_recordings, expiry, retention_days
from dialer.metrics import Metrics
from dialer.settings import Settings
from dialer.store.crypto import installed
from dialer.store.recordings_repo import NewRecording, RecordingRepository

log = logging.getLogger(__name__)


class CallRecordings:
    def __init__(
        self,
        settings: Settings,
        profiles: Mapping[str, Profile],
        runners: Mapping[str, CampaignRunner],
        sessions: async_sessionmaker[AsyncSession],
        metrics: Metrics,
        utcnow: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.profiles = profiles
        self.runners = runners
        self.sessions = sessions
        self.metrics = metrics
        self.utcnow = utcnow
        self.recorder = Recorder(
            settings.recording,
            metrics=metrics,
            keyring=installed() if settings.recording.encrypt else None,
            catalog=self._catalog,
            utcnow=utcnow,
        )

    def start(self) -> None:
        self.recorder.start()

    async def stop(self) -> None:
        await self.recorder.stop()

    def tap(self, call_id: str) -> RecordingTap | None:
        """A tap recording the call, if its campaign records (None otherwise). Called by
        the trunk as the 200 OK is handled: whatever goes wrong here costs the recording
        (counted, logged), never the call."""
        try:
            return self._tap(call_id)
        except Exception as exc:
            self.metrics.recording_failures.labels("io_error").inc()
            event(log, "recording.failed", logging.ERROR, call=call_id, error=str(exc))
            return None

    def _tap(self, call_id: str) -> RecordingTap | None:
        name = next((n for n, r in self.runners.items() if call_id in r.engine.calls), None)
        if name is None:
            return None
        campaign = self.settings.campaign(name)
        if not campaign.recording.enabled:
            return None
        days = retention_days(self.settings.recording, campaign.recording, self.profiles[name])
        started = self.utcnow()
        return self.recorder.tap(RecordingPlan(call_id, name, started, expiry(started, days)))

    async def expire(self, now: datetime) -> int:
        return await expire_recordings(self.sessions, now)

    async def _catalog(self, done: FinishedRecording) -> None:
        plan = done.plan
        async with self.sessions() as session, session.begin():
            await RecordingRepository(session).add(
                NewRecording(
                    call_id=plan.call_id,
                    campaign=plan.campaign,
                    path=str(done.path),
                    bytes=done.bytes,
                    duration_seconds=done.duration_seconds,
                    started_at=plan.started_at,
                    ended_at=done.ended_at,
                    sealed=done.sealed,
                    key_id=done.key_id,
                    expires_at=plan.expires_at,
                )
            )
