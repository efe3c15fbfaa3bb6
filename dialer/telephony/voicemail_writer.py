"""A caller's message as a WAV file: G.711 mu-law as it came off the wire (format 7).

The frames are collected in memory on the loop (at most `max_seconds`), and the file is
written by `write` in a thread (`asyncio.to_thread`), never on the event loop. Mu-law WAV
keeps the audio exactly as heard and plays in sox, ffmpeg, browsers' players and Audacity.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from dialer.telephony.rtp_packet import PCMU_PAYLOAD, RtpHeader, rtp_payload

SAMPLE_RATE = 8000
WAVE_FORMAT_MULAW = 7


class VoicemailRecorder:
    """PCMU payloads of the caller's RTP, in arrival order, up to a length."""

    def __init__(self, path: Path, max_seconds: float) -> None:
        self.path = path
        self._limit = int(max_seconds * SAMPLE_RATE)
        self._chunks: list[bytes] = []
        self._size = 0

    @property
    def seconds(self) -> float:
        return self._size / SAMPLE_RATE

    @property
    def full(self) -> bool:
        return self._size >= self._limit

    def packet(self, packet: bytes) -> None:
        try:
            header = RtpHeader.parse(packet)
        except ValueError:
            return
        if header.payload_type != PCMU_PAYLOAD or self.full:
            return
        payload = rtp_payload(packet)[: self._limit - self._size]
        self._chunks.append(payload)
        self._size += len(payload)

    def write(self) -> Path:
        """Write the file (blocking: run it in a thread). Private to its owner (0600)."""
        write_mulaw_wav(self.path, b"".join(self._chunks))
        return self.path


def write_mulaw_wav(path: Path, samples: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = struct.pack(
        "<HHIIHHH", WAVE_FORMAT_MULAW, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0
    )  # cbSize 0: non-PCM formats carry the extension size (WAVEFORMATEX)
    fact = struct.pack("<I", len(samples))
    pad = b"\x00" if len(samples) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
        + pad
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(b"RIFF" + struct.pack("<I", len(body)) + body)
