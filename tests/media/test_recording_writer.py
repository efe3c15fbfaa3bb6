"""The recording writer: real files, both channels in place, gaps as silence, late and
reordered packets, sealed files, and failures that never reach the call."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from recordingkit import RATE, finished, packets, plan, read_wav, rms, tone, wait_for

from dialer.media.recording import Recorder
from dialer.media.recording_settings import RecordingSettings
from dialer.metrics import Metrics
from dialer.store.crypto import Keyring, SealError, installed
from dialer.store.sealed_file import open_chunks
from dialer.telephony.rtp_packet import RtpStream


def _recorder(tmp_path: Path, **kw: object) -> tuple[Recorder, Metrics]:
    metrics = Metrics()
    settings = RecordingSettings(directory=tmp_path / "rec", **kw)  # type: ignore[arg-type]
    keyring = installed() if settings.encrypt else None
    return Recorder(settings, metrics=metrics, keyring=keyring), metrics


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_both_channels_are_recorded_in_time_with_silence_between(tmp_path: Path) -> None:
    recorder, metrics = _recorder(tmp_path)
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    base = 1000.0
    debtor = packets(tone(440, 1.0))  # the debtor talks for the first second
    heard = packets(tone(1000, 1.0))  # what they hear: from 2 s to 3 s
    for n, packet in enumerate(debtor):
        tap.received(packet, base + n * 0.02)
    for n, packet in enumerate(heard):
        tap.sent(packet, base + 2.0 + n * 0.02)
    tap.close()
    await recorder.stop()
    [done] = recorder.finished
    fmt, pcm = read_wav(done.path)
    assert fmt["tag"] == 7 and fmt["channels"] == 2 and fmt["rate"] == RATE and fmt["bits"] == 8
    assert fmt["fact_frames"] == len(pcm)
    assert done.duration_seconds == pytest.approx(len(pcm) / RATE)
    assert done.bytes == os.path.getsize(done.path)
    # find where each channel's audio sits relative to the other: 2 s apart, 1 s each
    loud0 = np.flatnonzero(np.abs(pcm[:, 0]) > 1000)
    loud1 = np.flatnonzero(np.abs(pcm[:, 1]) > 1000)
    assert (loud0[-1] - loud0[0]) / RATE == pytest.approx(1.0, abs=0.01)
    assert (loud1[0] - loud0[0]) / RATE == pytest.approx(2.0, abs=0.01)
    start = loud0[0]
    assert rms(pcm[start + 8200 : start + 15800, 0]) < 50  # the debtor quiet from 1 s to 2 s
    assert rms(pcm[start : start + 8000, 1]) < 50  # nothing heard in the first second
    assert rms(pcm[start : start + 8000, 0]) > 3000
    assert rms(pcm[start + 16000 : start + 24000, 1]) > 3000
    assert _sample(metrics, "dialer_recording_bytes_total", campaign="c1") == done.bytes
    assert _sample(metrics, "dialer_recordings_written_total", campaign="c1") == 1


async def test_missing_packets_leave_silence_of_their_length(tmp_path: Path) -> None:
    recorder, _ = _recorder(tmp_path)
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    stream = RtpStream()
    audio = packets(tone(440, 2.0), stream)
    lost = range(25, 50)  # 0.5 s lost in the network: the timestamps say how long
    for n, packet in enumerate(audio):
        if n not in lost:
            tap.received(packet, 500.0 + n * 0.02 + (0.03 if n % 7 == 0 else 0.0))  # jitter
    tap.close()
    await recorder.stop()
    [done] = recorder.finished
    _, pcm = read_wav(done.path)
    loud = np.flatnonzero(np.abs(pcm[:, 0]) > 1000)
    first = loud[0]
    assert (loud[-1] - first) / RATE == pytest.approx(2.0, abs=0.01)  # jitter moved nothing
    assert rms(pcm[first + 25 * 160 + 10 : first + 50 * 160 - 10, 0]) < 50  # the lost 0.5 s
    assert rms(pcm[first + 50 * 160 : first + 75 * 160, 0]) > 3000


async def test_a_reordered_packet_lands_in_its_place_and_a_very_late_one_is_counted(
    tmp_path: Path,
) -> None:
    recorder, metrics = _recorder(tmp_path)
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    audio = packets(tone(440, 3.0))
    order = list(range(len(audio)))
    order[10], order[11] = order[11], order[10]  # swapped in the network
    held = order.pop(5)  # far too late: after 2.5 s
    for n in order:
        tap.received(audio[n], 100.0 + n * 0.02)
    tap.received(audio[held], 100.0 + 2.9)
    tap.close()
    await recorder.stop()
    [done] = recorder.finished
    _, pcm = read_wav(done.path)
    loud = np.flatnonzero(np.abs(pcm[:, 0]) > 1000)
    assert (loud[-1] - loud[0]) / RATE == pytest.approx(3.0, abs=0.01)
    first = loud[0]
    assert rms(pcm[first + 10 * 160 : first + 12 * 160, 0]) > 3000  # both swapped in place
    assert rms(pcm[first + 5 * 160 + 5 : first + 6 * 160 - 5, 0]) < 50  # the late one: silence
    assert _sample(metrics, "dialer_recording_frames_dropped_total", reason="late") == 1


async def test_a_sealed_recording_opens_with_the_keyring_even_after_rotation(
    tmp_path: Path,
) -> None:
    recorder, _ = _recorder(tmp_path, encrypt=True)
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    for n, packet in enumerate(packets(tone(440, 10.0))):  # > 64 KiB: several chunks
        tap.received(packet, 10.0 + n * 0.02)
    tap.close()
    await recorder.stop()
    [done] = recorder.finished
    assert done.sealed and done.path.name.endswith(".wav.sealed")
    raw = done.path.read_bytes()
    assert tone(440, 1.0)[:160] not in raw  # not in the clear
    keyring = installed()
    assert keyring is not None and done.key_id == keyring.current
    rotated = Keyring(
        {**keyring.keys, "knew": b"n" * 32}, current="knew", index_key_id=keyring.index_key_id
    )
    with done.path.open("rb") as source:
        size, chunks = open_chunks(source, rotated, len(raw))
        clear = b"".join(chunks)
    assert size == len(clear) == 2 * round(done.duration_seconds * RATE)
    samples = np.frombuffer(clear, np.uint8)[0::2]
    assert bytes(samples[samples != 0xFF][:160]) in tone(440, 10.0)
    tampered = bytearray(raw)
    tampered[len(raw) // 2] ^= 1
    (tmp_path / "bad").write_bytes(tampered)
    with (tmp_path / "bad").open("rb") as source, pytest.raises(SealError):
        _, chunks = open_chunks(source, rotated, len(tampered))
        b"".join(chunks)
    without = Keyring({"knew": b"n" * 32}, current="knew", index_key_id="knew")
    with done.path.open("rb") as source, pytest.raises(SealError):
        open_chunks(source, without, len(raw))


async def test_an_unwritable_directory_loses_the_recording_not_the_call(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec").chmod(0o500)
    recorder, metrics = _recorder(tmp_path)
    recorder.start()
    try:
        tap = recorder.tap(plan())
        assert tap is not None
        for n, packet in enumerate(packets(tone(440, 1.0))):
            tap.received(packet, n * 0.02)  # never raises, never blocks
        tap.close()
        await wait_for(lambda: bool(recorder.failures))
        await recorder.stop()
    finally:
        (tmp_path / "rec").chmod(0o700)
    assert recorder.finished == []
    assert [reason for _, reason in recorder.failures] == ["permission"]
    assert _sample(metrics, "dialer_recording_failures_total", reason="permission") == 1
    assert not list((tmp_path / "rec").rglob("*.wav"))


async def test_a_writer_that_falls_behind_drops_frames_and_counts_them(tmp_path: Path) -> None:
    recorder, metrics = _recorder(tmp_path, queue_frames=1000, batch_frames=50)
    stuck = threading.Event()
    handle = recorder._writer._handle

    def slow(kind: str, rec_id: int, body: object) -> None:
        stuck.wait(10)
        handle(kind, rec_id, body)

    recorder._writer._handle = slow  # type: ignore[method-assign]
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    audio = packets(tone(440, 60.0))  # 3000 packets against room for 1000
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n, packet in enumerate(audio):
        tap.received(packet, n * 0.02)
    assert loop.time() - began < 1.0  # the loop never waited for the writer
    assert recorder.dropped == 2000
    assert _sample(metrics, "dialer_recording_frames_dropped_total", reason="queue_full") == 2000
    stuck.set()
    tap.close()
    await recorder.stop()
    [done] = await finished(recorder)
    assert done.duration_seconds == pytest.approx(20.0, abs=0.05)  # what was kept: 1000 packets


async def test_a_full_disk_loses_the_recording_not_the_call(tmp_path: Path) -> None:
    """The file's path leads to /dev/full: every write fails with ENOSPC, as on a full disk."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    recorder, metrics = _recorder(tmp_path)
    day = tmp_path / "rec" / "c1" / "2026" / "03" / "02"
    day.mkdir(parents=True)
    (day / "c1.abc.1.wav").symlink_to("/dev/full")
    recorder.start()
    tap = recorder.tap(plan())
    assert tap is not None
    for n, packet in enumerate(packets(tone(440, 30.0))):
        tap.received(packet, n * 0.02)
        tap.sent(packet, n * 0.02)
    tap.close()
    await wait_for(lambda: bool(recorder.failures))
    other = recorder.tap(plan("c1.abc.2"))  # the next call records as usual
    assert other is not None
    for n, packet in enumerate(packets(tone(440, 1.0))):
        other.received(packet, n * 0.02)
    other.close()
    await recorder.stop()
    assert [reason for _, reason in recorder.failures] == ["disk_full"]
    assert _sample(metrics, "dialer_recording_failures_total", reason="disk_full") == 1
    assert [done.plan.call_id for done in recorder.finished] == ["c1.abc.2"]
