"""A recorded message to play on a call (a voicemail drop), read once at start-up.

The file is a WAV of 16-bit PCM at 8 kHz, mono (what sox or any editor writes with
`-r 8000 -c 1 -b 16`), or raw G.711 μ-law (`.pcmu` / `.ul`, as the shipped prompts are).
It is turned into the μ-law RTP carries, so nothing is converted per call. A file that is
missing, unreadable or of another shape is refused with the reason, so the daemon does
not start with a drop it cannot play.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from dialer.media.g711 import pcm_to_ulaw

SAMPLE_RATE = 8000
RAW_SUFFIXES = (".pcmu", ".ul", ".ulaw")
MAX_SECONDS = 120.0  # a limited-content message is a few sentences


class MessageFileError(ValueError):
    """The message file cannot be played: the reason, for the start-up error."""


def load_message(path: Path) -> bytes:
    """The message as 8 kHz μ-law bytes."""
    try:
        audio = path.read_bytes() if path.suffix.lower() in RAW_SUFFIXES else _wav_to_ulaw(path)
    except OSError as exc:
        raise MessageFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not audio:
        raise MessageFileError(f"{path} holds no audio")
    if len(audio) / SAMPLE_RATE > MAX_SECONDS:
        raise MessageFileError(f"{path} lasts over {MAX_SECONDS:.0f} s")
    return audio


def _wav_to_ulaw(path: Path) -> bytes:
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise MessageFileError(
            f"{path} is not a PCM WAV ({exc}); write it as 16-bit PCM, 8 kHz, mono, "
            "or as raw μ-law (.pcmu)"
        ) from None
    if shape != (SAMPLE_RATE, 1, 2):
        rate, channels, width = shape
        raise MessageFileError(
            f"{path} is {rate} Hz, {channels} channel(s), {8 * width}-bit; "
            "a message must be 8000 Hz, mono, 16-bit"
        )
    return pcm_to_ulaw(np.frombuffer(frames, dtype="<i2"))
