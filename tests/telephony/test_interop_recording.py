"""Call recording against real phones: baresip debtor and collector through Kamailio (the
lab of test_interop_baresip.py). A bridged call's recording holds both sides' audio, each
on its own channel (found by cross-correlation against what each phone played); the
safe-harbor message played to an abandoned call is recorded on the channel of what the
debtor heard; and a recording that cannot be written loses the recording, not the call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_interop_baresip as interop
from baresipkit import RATE, band_noise, locate, mulaw_decode, mulaw_encode
from sipkit import TrunkFactory, next_event
from test_interop_baresip import (
    COLLECTOR,
    COLLECTOR_SEED,
    DEBTOR,
    DEBTOR_SEED,
    HARBOR_SEED,
    Lab,
    events_until,
    fits,
)

from dialer.domain.events import CallAnswered, CallHungUp
from dialer.media.recording import FinishedRecording, Recorder, RecordingPlan, RecordingTap
from dialer.media.recording_settings import RecordingSettings
from dialer.media.recording_wav import MULAW_TO_PCM16, mulaw_data_offset
from dialer.metrics import Metrics

pytestmark = pytest.mark.sip
# the lab's fixtures (Kamailio, the phones; each skips or fails like there without them)
lab, baresip_binary, kamailio_binary = interop.lab, interop.baresip_binary, interop.kamailio_binary
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _channels(done: FinishedRecording) -> tuple[np.ndarray, np.ndarray]:
    """The recording's two channels as floats in [-1, 1]."""
    data = done.path.read_bytes()
    offset, size = mulaw_data_offset(data[:128])
    pcm = MULAW_TO_PCM16[np.frombuffer(data[offset : offset + size], np.uint8)] / 32768.0
    return pcm[0::2], pcm[1::2]


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0


async def _recorder(directory: Path) -> tuple[Recorder, Metrics, Any]:
    metrics = Metrics()
    recorder = Recorder(RecordingSettings(directory=directory), metrics=metrics)
    recorder.start()

    def tap(call_id: str) -> RecordingTap | None:
        return recorder.tap(RecordingPlan(call_id, "c1", T0, T0 + timedelta(days=365)))

    return recorder, metrics, tap


async def _bridged(lab: Lab, trunks: TrunkFactory, tap: Any) -> tuple[Any, Any, Any, Any]:
    collector_says = band_noise(40, COLLECTOR_SEED)
    debtor_says = band_noise(30, DEBTOR_SEED)
    collector = await lab.phone(COLLECTOR, collector_says)
    debtor = await lab.phone(DEBTOR, debtor_says)
    trunk, events = await trunks(lab.settings(collectors={"alice": COLLECTOR}), tap_factory=tap)
    await asyncio.wait_for(trunk.collector_login("alice", None), 10)
    await collector.wait_event("CALL_ESTABLISHED", 5)
    await trunk.originate("c1", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c1")
    await trunk.bridge("c1", "alice")
    await collector.wait_heard(3.0, 10)
    await debtor.wait_heard(3.0, 10)
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    return collector_says, debtor_says, collector, debtor


async def test_a_bridged_calls_recording_holds_both_sides(
    lab: Lab, trunks: TrunkFactory, tmp_path: Path
) -> None:
    recorder, metrics, tap = await _recorder(tmp_path / "rec")
    collector_says, debtor_says, _, _ = await _bridged(lab, trunks, tap)
    await recorder.stop()
    [done] = recorder.finished
    debtor_channel, heard_channel = _channels(done)
    assert done.duration_seconds >= 3.0
    assert _rms(debtor_channel) > 0.05 and _rms(heard_channel) > 0.05  # both sides audible
    for channel, says, other, who in (
        (debtor_channel, debtor_says, collector_says, "debtor"),
        (heard_channel, collector_says, debtor_says, "collector"),
    ):
        matches = locate(says, channel)
        good = fits(matches)
        assert len(good) >= 10 and len(good) >= 0.8 * len(matches), (who, matches)
        drift = [m.offset - m.at for m in good]  # in order, no time stretched or lost
        assert max(drift) - min(drift) < 0.1, (who, drift)
        assert not fits(locate(other, channel)), f"the {who}'s channel holds the other side"
    # one timeline from the answer: the bridge was made on CallAnswered, so both sides'
    # audio starts within the recording's first second, not one after the other
    starts = [min(m.at for m in fits(locate(says, channel))) for channel, says in (
        (debtor_channel, debtor_says), (heard_channel, collector_says))]  # fmt: skip
    assert max(starts) < 1.0, starts
    assert _sample(metrics, "dialer_recording_bytes_total", campaign="c1") == done.bytes


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_the_safe_harbor_message_is_recorded(
    lab: Lab, trunks: TrunkFactory, tmp_path: Path
) -> None:
    message = band_noise(2, HARBOR_SEED, rms=0.15)
    codes = mulaw_encode(message)
    harbor = tmp_path / "safe_harbor.pcmu"
    harbor.write_bytes(codes)
    recorder, _, tap = await _recorder(tmp_path / "rec")
    debtor = await lab.phone(DEBTOR, band_noise(30, DEBTOR_SEED), jitter_buffer=(0, 10))
    trunk, events = await trunks(lab.settings(safe_harbor_file=harbor), tap_factory=tap)
    await trunk.originate("c1", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c1")
    await trunk.play_safe_harbor("c1")
    await debtor.wait_event("CALL_CLOSED", 10)
    assert await next_event(events) == CallHungUp("c1")
    await recorder.stop()
    [done] = recorder.finished
    debtor_channel, heard_channel = _channels(done)
    good = fits(locate(mulaw_decode(codes), heard_channel))
    assert len(good) >= int(len(codes) / RATE / 0.25) - 1, "the whole message, as played"
    assert _rms(debtor_channel) > 0.05, "and the debtor's side meanwhile"


async def test_a_recording_that_cannot_be_written_does_not_touch_the_call(
    lab: Lab, trunks: TrunkFactory, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the recordings' directory should be")
    recorder, metrics, tap = await _recorder(blocked / "rec")
    collector_says, debtor_says, collector, debtor = await _bridged(lab, trunks, tap)
    await recorder.stop()
    # the call went on as if nothing happened: each side heard the other
    assert len(fits(locate(debtor_says, collector.heard()))) >= 10
    assert len(fits(locate(collector_says, debtor.heard()))) >= 10
    assert recorder.finished == []
    assert [reason for _, reason in recorder.failures] == ["io_error"]
    assert _sample(metrics, "dialer_recording_failures_total", reason="io_error") == 1
