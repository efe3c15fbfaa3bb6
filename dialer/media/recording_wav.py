"""The recording's file format, and the PCM form browsers play.

Stored: WAV, format 7 (G.711 μ-law), 2 channels (0: the debtor, 1: what the debtor
heard), 8 kHz, 8 bits a sample. μ-law is what crossed the wire (the relay never transcodes),
so storing it loses nothing, costs no CPU on the writer, and takes half the bytes of PCM16
(57.6 MB per recorded hour instead of 115); years of retention make that matter. Format 7
needs the `cbSize` field and a `fact` chunk (the sample count), so the header is 58 bytes.

Played: every browser plays PCM16 WAV; not every one plays μ-law WAV. The playback
endpoint expands μ-law to PCM16 on the fly (a 256-entry table, G.711's own expansion) and
sends a 44-byte PCM header, so the stored file is never rewritten.
"""

from __future__ import annotations

import struct

import numpy as np

RATE = 8000
CHANNELS = 2
MULAW_FORMAT = 7
PCM_FORMAT = 1
MULAW_HEADER_BYTES = 58
PCM_HEADER_BYTES = 44


def mulaw_header(frames: int) -> bytes:
    """The 58-byte header of a stereo μ-law WAV holding `frames` sample frames."""
    data = frames * CHANNELS
    fmt = struct.pack("<HHIIHHH", MULAW_FORMAT, CHANNELS, RATE, RATE * CHANNELS, CHANNELS, 8, 0)
    body = (
        b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"fact" + struct.pack("<II", 4, frames)
        + b"data" + struct.pack("<I", data)
    )  # fmt: skip
    return b"RIFF" + struct.pack("<I", len(body) + data) + body


def pcm16_header(frames: int) -> bytes:
    """The 44-byte header of a stereo PCM16 WAV holding `frames` sample frames."""
    data = frames * CHANNELS * 2
    fmt = struct.pack("<HHIIHH", PCM_FORMAT, CHANNELS, RATE, RATE * CHANNELS * 2, CHANNELS * 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    return (
        b"RIFF" + struct.pack("<I", len(body) + 8 + data) + body + b"data" + struct.pack("<I", data)
    )


def _expansion_table() -> np.ndarray:
    """G.711 μ-law to 16-bit linear (ITU-T G.711, as in every reference decoder)."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype("<i2")


MULAW_TO_PCM16 = _expansion_table()


def mulaw_to_pcm16(data: bytes) -> bytes:
    return MULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].tobytes()


def mulaw_data_offset(header: bytes) -> tuple[int, int]:
    """(offset of the samples, their byte count) in a stored file's first bytes; raises
    ValueError for a file that is not one of ours."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    at = 12
    while at + 8 <= len(header):
        kind, size = header[at : at + 4], struct.unpack_from("<I", header, at + 4)[0]
        if kind == b"data":
            return at + 8, size
        if kind == b"fmt " and struct.unpack_from("<H", header, at + 8)[0] != MULAW_FORMAT:
            raise ValueError("not a μ-law recording")
        at += 8 + size + (size & 1)
    raise ValueError("no data chunk in the header")
