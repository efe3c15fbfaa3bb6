"""Call recording: a tap on the debtor's leg feeding a writer thread.

On the event loop, a `RecordingTap` (one per answered call, dialer.telephony.rtp_tap)
only appends each packet to a short list and hands the list to the writer every
`batch_frames` packets. The `RecordingWriter` thread does everything else: parsing, laying
the two channels out in time (recording_mix), writing the WAV (recording_wav), sealing it
(dialer.store.sealed_file) and closing it. The hand-over is a queue whose length is watched
from the loop: when the writer falls `queue_frames` packets behind, a batch is dropped and
counted (`dialer_recording_frames_dropped_total{reason="queue_full"}`), so the loop never
waits and the call never notices.

A file that cannot be opened or written (disk full, no permission) ends that recording:
counted in `dialer_recording_failures_total{reason}`, logged, the partial file removed;
the call goes on. A finished file is handed back on the loop to `catalog` (the daemon
writes its `recordings` row); a store that refuses it is counted as reason `catalog`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from dialer.logs import event
from dialer.media.recording_settings import RecordingSettings
from dialer.media.recording_writer import (
    FinishedRecording,
    Packet,
    RecordingPlan,
    RecordingWriter,
)
from dialer.metrics import Metrics
from dialer.store.crypto import Keyring

log = logging.getLogger(__name__)
DEBTOR, HEARD = 0, 1  # the two channels
STOP_TIMEOUT = 10.0
__all__ = ["FinishedRecording", "Recorder", "RecordingPlan", "RecordingTap"]


class RecordingTap:
    """The debtor leg's tap: packets in, batches to the writer (event loop only)."""

    __slots__ = ("_batch", "_closed", "_recorder", "_size", "rec_id")

    def __init__(self, recorder: Recorder, rec_id: int, batch: int) -> None:
        self._recorder = recorder
        self.rec_id = rec_id
        self._size = batch
        self._batch: list[Packet] = []
        self._closed = False

    def received(self, packet: bytes, now: float) -> None:
        self._batch.append((DEBTOR, now, packet))
        if len(self._batch) >= self._size:
            self.flush()

    def sent(self, packet: bytes, now: float) -> None:
        self._batch.append((HEARD, now, packet))
        if len(self._batch) >= self._size:
            self.flush()

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch and not self._closed:
            self._recorder.submit(self.rec_id, batch)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._recorder.finish(self.rec_id)


class Recorder:
    """Owns the writer thread; makes taps; counts; hands finished files to `catalog`."""

    def __init__(
        self,
        settings: RecordingSettings,
        *,
        metrics: Metrics | None = None,
        keyring: Keyring | None = None,
        catalog: Callable[[FinishedRecording], Awaitable[None]] | None = None,
        utcnow: Callable[[], datetime] | None = None,
    ) -> None:
        if settings.encrypt and keyring is None:
            raise ValueError("recording.encrypt needs the privacy keyring")
        self.settings = settings
        self.metrics = metrics
        self._catalog = catalog
        self._utcnow = utcnow
        self._writer = RecordingWriter(
            settings.directory.absolute(),  # rows name files wherever the cwd goes
            keyring if settings.encrypt else None,
            on_finished=self._from_writer(self._finished),
            on_failed=self._from_writer(self._failed),
            on_late=self._late,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_id = 0
        self.submitted = 0
        self.dropped = 0
        self.finished: list[FinishedRecording] = []  # the last few, for tests and the CLI
        self.failures: list[tuple[RecordingPlan, str]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle (event loop) ------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._writer.start()

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Finish every recording still open, wait for the writer and the catalog."""
        if self._loop is None:
            return
        self._writer.inbox.put(None)
        done = await asyncio.to_thread(self._writer.join, timeout)
        if not done:
            event(log, "recording.writer_stuck", logging.ERROR, timeout=timeout)
        await asyncio.sleep(0)  # the writer's last call_soon_threadsafe callbacks run
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None

    @property
    def pending(self) -> int:
        """Packets handed to the writer and not written yet."""
        return self.submitted - self._writer.consumed

    # -- taps (event loop) -----------------------------------------------------------------
    def tap(self, plan: RecordingPlan) -> RecordingTap | None:
        """A tap recording the call; None when the writer is not running."""
        if self._loop is None:
            return None
        self._next_id += 1
        rec_id = self._next_id
        self._writer.inbox.put(("open", rec_id, (plan,)))
        return RecordingTap(self, rec_id, self.settings.batch_frames)

    def submit(self, rec_id: int, batch: list[Packet]) -> None:
        if rec_id in self._writer.failed:
            return
        if self.pending + len(batch) > self.settings.queue_frames:
            self.dropped += len(batch)
            if self.metrics is not None:
                self.metrics.recording_frames_dropped.labels("queue_full").inc(len(batch))
            return
        self.submitted += len(batch)
        self._writer.inbox.put(("frames", rec_id, batch))

    def finish(self, rec_id: int) -> None:
        ended = self._utcnow() if self._utcnow is not None else None
        self._writer.inbox.put(("close", rec_id, ended))

    # -- from the writer thread ------------------------------------------------------------
    def _from_writer(self, callback: Callable[..., None]) -> Callable[..., None]:
        def call(*args: object) -> None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(callback, *args)

        return call

    def _late(self, packets: int) -> None:  # prometheus counters are thread-safe
        if self.metrics is not None:
            self.metrics.recording_frames_dropped.labels("late").inc(packets)

    def _finished(self, done: FinishedRecording) -> None:
        self.finished = [*self.finished[-99:], done]
        if self.metrics is not None:
            self.metrics.recording_bytes.labels(done.plan.campaign).inc(done.bytes)
        if self._catalog is None:
            if self.metrics is not None:
                self.metrics.recordings_written.labels(done.plan.campaign).inc()
            return
        task = asyncio.get_running_loop().create_task(self._catalogue(done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catalogue(self, done: FinishedRecording) -> None:
        assert self._catalog is not None
        try:
            await self._catalog(done)
        except Exception as exc:  # the file is on disk; its row is not: say so, loudly
            self._failed(done.plan, "catalog", str(exc) or type(exc).__name__)
            return
        if self.metrics is not None:
            self.metrics.recordings_written.labels(done.plan.campaign).inc()

    def _failed(self, plan: RecordingPlan, reason: str, detail: str) -> None:
        self.failures = [*self.failures[-99:], (plan, reason)]
        if self.metrics is not None:
            self.metrics.recording_failures.labels(reason).inc()
        event(
            log,
            "recording.failed",
            logging.ERROR,
            call=plan.call_id,
            campaign=plan.campaign,
            reason=reason,
            error=detail,
        )
