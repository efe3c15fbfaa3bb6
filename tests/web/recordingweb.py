"""A real recording (written by the recorder from RTP) catalogued under an attempt of a
demo case of campaign c1 in a running test daemon."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from dialer.media.recording import Recorder, RecordingPlan
from dialer.media.recording_settings import RecordingSettings
from dialer.store.crypto import installed
from dialer.store.recordings_repo import NewRecording, RecordingRepository
from dialer.store.tables import CallAttempt, Campaign, CaseRow
from dialer.telephony.rtp_packet import RtpStream

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "media"))
from recordingkit import packets, tone

STARTED = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


async def recorded_call(
    sessions: object, directory: Path, call_id: str, *, sealed: bool = False, seconds: float = 2.0
) -> tuple[int, int, bytes]:
    """(recording id, case id, the debtor's μ-law audio) of a recorded call of c1."""
    recorder = Recorder(
        RecordingSettings(directory=directory, encrypt=sealed),
        keyring=installed() if sealed else None,
    )
    recorder.start()
    plan = RecordingPlan(call_id, "c1", STARTED, STARTED + timedelta(days=365))
    tap = recorder.tap(plan)
    assert tap is not None
    debtor, heard = tone(440, seconds), tone(1000, seconds)
    for n, (a, b) in enumerate(zip(packets(debtor), packets(heard, RtpStream()), strict=True)):
        tap.received(a, n * 0.02)
        tap.sent(b, n * 0.02)
    tap.close()
    await recorder.stop()
    [done] = recorder.finished
    async with sessions() as s, s.begin():  # type: ignore[operator]
        campaign = await s.scalar(select(Campaign.id).where(Campaign.name == "c1"))
        case_id = await s.scalar(select(CaseRow.id).where(CaseRow.campaign_id == campaign))
        await s.execute(
            insert(CallAttempt).values(
                case_id=case_id,
                campaign_id=campaign,
                number_e164="+12125550001",
                call_id=call_id,
                dialed_at=STARTED,
                abandoned=False,
                outcome="conversation",
            )
        )
        recording_id = await RecordingRepository(s).add(
            NewRecording(
                call_id=call_id,
                campaign="c1",
                path=str(done.path),
                bytes=done.bytes,
                duration_seconds=done.duration_seconds,
                started_at=STARTED,
                ended_at=done.ended_at,
                sealed=done.sealed,
                key_id=done.key_id,
                expires_at=plan.expires_at,
            )
        )
    return recording_id, int(case_id), debtor


def pcm_channels(wav: bytes) -> np.ndarray:
    """The int16 samples of a served PCM16 stereo WAV, shaped (frames, 2)."""
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and wav[36:40] == b"data"
    assert int.from_bytes(wav[20:22], "little") == 1  # PCM
    assert int.from_bytes(wav[22:24], "little") == 2 and int.from_bytes(wav[34:36], "little") == 16
    return np.frombuffer(wav[44:], "<i2").reshape(-1, 2)
