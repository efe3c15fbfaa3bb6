"""Helpers of the recording tests: μ-law test tones as RTP, and reading our WAV back."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dialer.media.recording import FinishedRecording, Recorder, RecordingPlan
from dialer.media.recording_wav import MULAW_TO_PCM16
from dialer.telephony.rtp_packet import RtpStream

RATE = 8000
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
_ORDER = np.argsort(MULAW_TO_PCM16)


def mulaw(samples: np.ndarray) -> bytes:
    """μ-law codes nearest each 16-bit sample (an encoder independent of the writer's)."""
    table = MULAW_TO_PCM16[_ORDER].astype(np.int32)
    at = np.clip(np.searchsorted(table, samples.astype(np.int32)), 1, 255)
    nearer = np.where(np.abs(table[at - 1] - samples) <= np.abs(table[at] - samples), at - 1, at)
    return bytes(_ORDER[nearer].astype(np.uint8))


def tone(hz: float, seconds: float, amplitude: float = 8000.0) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return mulaw(amplitude * np.sin(2 * np.pi * hz * t))


def packets(audio: bytes, stream: RtpStream | None = None) -> list[bytes]:
    stream = stream or RtpStream()
    return [stream.packet(audio[i : i + 160]) for i in range(0, len(audio), 160)]


def plan(call_id: str = "c1.abc.1", campaign: str = "c1", days: int = 30) -> RecordingPlan:
    return RecordingPlan(call_id, campaign, T0, T0 + timedelta(days=days))


def read_wav(path: Path) -> tuple[dict[str, int], np.ndarray]:
    """(fmt fields, int16 samples shaped (frames, channels)) of a stored recording, read
    chunk by chunk here rather than with the writer's own helpers."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    at, fmt, samples = 12, {}, b""
    while at < len(data):
        kind, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = data[at + 8 : at + 8 + size]
        if kind == b"fmt ":
            tag, channels, rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
            fmt = dict(tag=tag, channels=channels, rate=rate, byte_rate=byte_rate, bits=bits)
        elif kind == b"fact":
            fmt["fact_frames"] = struct.unpack_from("<I", body)[0]
        elif kind == b"data":
            samples = body
        at += 8 + size + (size & 1)
    pcm = MULAW_TO_PCM16[np.frombuffer(samples, np.uint8)].astype(np.int16)
    return fmt, pcm.reshape(-1, fmt["channels"])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


async def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (on the loop) until `check()` holds; fails after `timeout` real seconds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def finished(recorder: Recorder, count: int = 1) -> list[FinishedRecording]:
    await wait_for(lambda: len(recorder.finished) + len(recorder.failures) >= count)
    return recorder.finished
