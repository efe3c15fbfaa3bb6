"""Reading a stored recording back for playback: plain or sealed, as PCM16 WAV chunks.

`open_playback` opens the file and checks its header (plain WAV) or its key (sealed), so
a missing file, a foreign format or an unknown key is refused before any byte is sent;
the chunks then come from a plain iterator (the web streams it from a worker thread). A
sealed file whose chunk fails its tag stops the stream there (`SealError`), never sends
the bad chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dialer.media.recording_wav import (
    CHANNELS,
    MULAW_HEADER_BYTES,
    mulaw_data_offset,
    mulaw_to_pcm16,
    pcm16_header,
)
from dialer.store.crypto import Keyring
from dialer.store.sealed_file import open_chunks

READ_BYTES = 64 * 1024


class PlaybackError(Exception):
    """The recording cannot be played; the message says why (no path, no debtor data)."""


@dataclass
class Playback:
    frames: int
    body: Iterator[bytes]  # the PCM16 WAV: its header, then the samples

    @property
    def size(self) -> int:
        return len(pcm16_header(0)) + self.frames * CHANNELS * 2


def _plain(source: BinaryIO) -> tuple[int, Iterator[bytes]]:
    offset, size = mulaw_data_offset(source.read(MULAW_HEADER_BYTES + 64))
    source.seek(offset)

    def chunks() -> Iterator[bytes]:
        left = size
        while left > 0:
            data = source.read(min(READ_BYTES, left))
            if not data:
                return
            left -= len(data)
            yield data

    return size, chunks()


def open_playback(path: Path, sealed: bool, keyring: Keyring | None) -> Playback:
    """The recording as a PCM16 WAV stream (raises `PlaybackError`)."""
    try:
        source = path.open("rb")
    except FileNotFoundError:
        raise PlaybackError("the recording's file is gone") from None
    except OSError as exc:
        raise PlaybackError(f"the recording's file cannot be read: {exc.strerror}") from None
    try:
        if sealed:
            if keyring is None:
                raise PlaybackError("the recording is sealed and no privacy keyring is loaded")
            size, chunks = open_chunks(source, keyring, os.fstat(source.fileno()).st_size)
        else:
            size, chunks = _plain(source)
    except PlaybackError:
        source.close()
        raise
    except ValueError as exc:  # SealError is one: a bad header, an unknown key
        source.close()
        raise PlaybackError(f"the recording cannot be opened: {exc}") from None
    frames = size // CHANNELS

    def body() -> Iterator[bytes]:
        try:
            yield pcm16_header(frames)
            sent = 0
            for chunk in chunks:
                chunk = chunk[: frames * CHANNELS - sent]
                sent += len(chunk)
                yield mulaw_to_pcm16(chunk)
        finally:
            source.close()

    return Playback(frames, body())
