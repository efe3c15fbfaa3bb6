"""The recording writer thread: lays out, writes, seals and closes recording files.

Fed by `dialer.media.recording.Recorder` through `inbox` (open, frames, close; None stops
it, closing what is open). Everything here runs on the writer thread; the callbacks are
called there too (the recorder moves them onto the event loop). A file that cannot be
opened or written is removed and reported to `on_failed` with a bounded reason; a bug in
one recording's handling costs that recording, never the thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from dialer.media.recording_mix import RATE, StereoMixer
from dialer.media.recording_wav import CHANNELS, mulaw_header
from dialer.store.crypto import Keyring
from dialer.store.sealed_file import SealedFileWriter

PLAIN_SUFFIX = ".wav"
SEALED_SUFFIX = ".wav.sealed"

Packet = tuple[int, float, bytes]  # channel, monotonic arrival, the RTP packet


@dataclass(frozen=True, slots=True)
class RecordingPlan:
    """What the daemon decided for one answered call."""

    call_id: str
    campaign: str
    started_at: datetime  # the daemon's clock, UTC
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FinishedRecording:
    plan: RecordingPlan
    path: Path
    bytes: int
    duration_seconds: float
    ended_at: datetime
    sealed: bool
    key_id: str | None


def failure_reason(exc: OSError) -> str:
    """The bounded label of a failed recording."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk_full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(exc, PermissionError):
        return "permission"
    return "io_error"


class _File:
    """One recording on disk (writer thread only)."""

    def __init__(self, plan: RecordingPlan, directory: Path, keyring: Keyring | None) -> None:
        self.plan = plan
        day = plan.started_at.strftime("%Y/%m/%d")
        suffix = SEALED_SUFFIX if keyring is not None else PLAIN_SUFFIX
        self.path = directory / plan.campaign / day / f"{plan.call_id}{suffix}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.out: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self.sealer = SealedFileWriter(self.out, keyring) if keyring is not None else None
        if self.sealer is None:
            self.out.write(mulaw_header(0))  # sizes filled in at close
        self.frames = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.sealer is not None:
            self.sealer.write(data)
        else:
            self.out.write(data)
        self.frames += len(data) // CHANNELS

    def close(self) -> int:
        """Finish the file; its size in bytes."""
        if self.sealer is not None:
            self.sealer.close()
        else:
            self.out.seek(0)
            self.out.write(mulaw_header(self.frames))
            self.out.seek(0, os.SEEK_END)
        size = self.out.tell()
        self.out.close()
        return size

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.out.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


@dataclass(slots=True)
class _Open:
    plan: RecordingPlan
    started: float | None  # monotonic arrival of the first packet: the file's time zero
    file: _File | None
    mixer: StereoMixer


class RecordingWriter:
    """The thread that writes recordings. Fed by `Recorder` only; its callbacks run on the
    writer thread (`Recorder` moves them to the loop)."""

    def __init__(
        self,
        directory: Path,
        keyring: Keyring | None,
        *,
        on_finished: Callable[[FinishedRecording], None],
        on_failed: Callable[[RecordingPlan, str, str], None],
        on_late: Callable[[int], None],
    ) -> None:
        self.directory = directory
        self.keyring = keyring
        self._on_finished = on_finished
        self._on_failed = on_failed
        self._on_late = on_late
        self.inbox: queue.SimpleQueue[tuple[str, int, object] | None] = queue.SimpleQueue()
        self.consumed = 0  # packets taken off the inbox (written by this thread only)
        self.failed: set[int] = set()  # read by the loop to stop feeding a lost recording
        self._open: dict[int, _Open] = {}
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                for rec_id in list(self._open):
                    self._close(rec_id, None)
                return
            kind, rec_id, body = item
            try:
                self._handle(kind, rec_id, body)
            except Exception as exc:  # a bug must cost one recording, not the thread
                state = self._open.get(rec_id)
                if state is not None:
                    self._fail(rec_id, state.plan, state.file, OSError(str(exc)))
            finally:
                if kind == "frames" and isinstance(body, list):
                    self.consumed += len(body)

    def _handle(self, kind: str, rec_id: int, body: object) -> None:
        if kind == "frames":
            assert isinstance(body, list)
            self._frames(rec_id, body)
        elif kind == "open":
            assert isinstance(body, tuple)
            self._start(rec_id, *body)
        else:
            assert body is None or isinstance(body, datetime)
            self._close(rec_id, body)

    def _start(self, rec_id: int, plan: RecordingPlan) -> None:
        try:
            file = _File(plan, self.directory, self.keyring)
        except OSError as exc:
            self._fail(rec_id, plan, None, exc)
            return
        self._open[rec_id] = _Open(plan, None, file, StereoMixer())

    def _frames(self, rec_id: int, packets: list[Packet]) -> None:
        state = self._open.get(rec_id)
        if state is None or state.file is None:
            return
        mixer = state.mixer
        late = mixer.late_packets
        if state.started is None and packets:
            state.started = packets[0][1]
        started = state.started or 0.0
        for channel, arrival, packet in packets:
            mixer.add(channel, round((arrival - started) * RATE), packet)
        if mixer.late_packets > late:
            self._on_late(mixer.late_packets - late)
        try:
            state.file.write(mixer.ready())
        except OSError as exc:
            self._fail(rec_id, state.plan, state.file, exc)

    def _close(self, rec_id: int, ended_at: datetime | None) -> None:
        state = self._open.pop(rec_id, None)
        if state is None or state.file is None:
            return
        file = state.file
        try:
            file.write(state.mixer.rest())
            size = file.close()
        except OSError as exc:
            self._fail(rec_id, state.plan, file, exc)
            return
        duration = file.frames / RATE
        self._on_finished(
            FinishedRecording(
                plan=state.plan,
                path=file.path,
                bytes=size,
                duration_seconds=duration,
                ended_at=ended_at or state.plan.started_at,
                sealed=file.sealer is not None,
                key_id=file.sealer.key_id if file.sealer is not None else None,
            )
        )

    def _fail(self, rec_id: int, plan: RecordingPlan, file: _File | None, exc: OSError) -> None:
        self.failed.add(rec_id)
        self._open.pop(rec_id, None)
        if file is not None:
            file.abort()
        self._on_failed(plan, failure_reason(exc), exc.strerror or type(exc).__name__)
