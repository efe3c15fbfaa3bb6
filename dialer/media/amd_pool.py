"""Runs every call's AMD analysis in worker threads, with an asyncio-facing API.

    pool = AmdPool(AmdPoolSettings(workers=2))
    session = pool.open(call_id, campaign_amd_settings)    # on the event loop
    session.feed(rtp_payload)                               # per packet; never blocks
    decision = await session.verdict(timeout=6.0)           # human / machine / notsure
    end = await session.greeting_end(timeout=31.0)          # after a machine verdict
    session.close()

Threads, not processes: the VAD's inference (silero's native call through ctypes,
webrtcvad's C extension) runs without the GIL, and a thread shares the loaded model with
no copy and no pickling of 160-byte packets (`benchmarks/bench_amd.py` measures one thread
against two). A session's audio is handed to at most one worker at a time, in order.

Falling behind: `feed` only appends to the session's queue. When a session's queued,
unanalysed audio exceeds `max_backlog_seconds` (the workers cannot keep up), the session
is dropped: its verdict resolves at once as notsure (cause `dropped`, counted), so the call
goes to a collector as a notsure answer would, and no more of its audio is analysed. The
call and its audio are never held up.

Detectors are expensive to build (silero loads its model: ~80 ms), so each is built in a
worker, never on the loop, and kept for the next session after `reset()`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from dialer.media.amd import AmdCause, AmdDecision, undecided
from dialer.media.amd_settings import AmdPoolSettings, AmdSettings
from dialer.media.amd_stream import AmdStream, GreetingEnd, GreetingEndCause
from dialer.media.g711 import SAMPLE_RATE
from dialer.media.vad import Vad, VadOptions, make_vad

log = logging.getLogger(__name__)
_T = TypeVar("_T")
VadFactory = Callable[[VadOptions], Vad]


@dataclass(slots=True)
class AmdPoolStats:
    """What the pool has done so far (the daemon exports these as metrics)."""

    opened: int = 0
    dropped: int = 0  # analyses given up because the workers were behind
    verdicts: Counter[str] = field(default_factory=Counter)  # verdict value -> count
    causes: Counter[str] = field(default_factory=Counter)  # AmdCause value -> count


class _Detectors:
    """Built detectors waiting for their next session, per options (thread-safe)."""

    def __init__(self, factory: VadFactory, keep: int) -> None:
        self._factory = factory
        self._keep = keep  # most idle detectors kept, all options together
        self._idle: dict[VadOptions, list[Vad]] = {}
        self._lock = threading.Lock()

    def take(self, options: VadOptions) -> Vad:
        with self._lock:
            idle = self._idle.get(options)
            if idle:
                return idle.pop()
        return self._factory(options)

    def build(self, options: VadOptions) -> None:
        self._keep_idle(options, self._factory(options))

    def idle(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def give_back(self, options: VadOptions, vad: Vad) -> None:
        vad.reset()
        self._keep_idle(options, vad)

    def _keep_idle(self, options: VadOptions, vad: Vad) -> None:
        with self._lock:
            if sum(len(v) for v in self._idle.values()) < self._keep:
                self._idle.setdefault(options, []).append(vad)
        # else: dropped here; its memory goes with the last reference


class AmdSession:
    """One call's analysis. `feed` and `close` from the event loop's thread only."""

    def __init__(
        self,
        pool: AmdPool,
        call_id: str,
        settings: AmdSettings,
        loop: asyncio.AbstractEventLoop,
        campaign: str = "",
    ) -> None:
        self.call_id = call_id
        self.campaign = campaign
        self._pool = pool
        self._settings = settings
        self._loop = loop
        self._lock = threading.Lock()  # guards the queue and the scheduling flag
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._fed_bytes = 0
        self._scheduled = False
        self._finished = False  # no more analysis: decided to the end, dropped or closed
        self._stream: AmdStream | None = None  # built in a worker (the VAD is costly)
        self._vad: Vad | None = None
        self._verdict: asyncio.Future[AmdDecision] = loop.create_future()
        self._greeting_end: asyncio.Future[GreetingEnd] = loop.create_future()

    @property
    def done(self) -> bool:
        """Both answers are in (the greeting end comes with or after the verdict)."""
        return self._verdict.done() and self._greeting_end.done()

    @property
    def fed_seconds(self) -> float:
        """Audio fed so far (seconds from the answer)."""
        return self._fed_bytes / SAMPLE_RATE

    def feed(self, ulaw: bytes) -> None:
        """Queue one packet's μ-law payload for analysis. Never blocks; never raises for
        a session that has finished (late packets are ignored)."""
        if self._finished or not ulaw:
            return
        self._fed_bytes += len(ulaw)
        with self._lock:
            self._queue.append(ulaw)
            self._queued_bytes += len(ulaw)
            behind = self._queued_bytes / SAMPLE_RATE > self._pool.settings.max_backlog_seconds
            start = not self._scheduled and not behind
            self._scheduled = self._scheduled or start
        if behind:
            self._drop()
        elif start:
            self._pool.submit(self._work)

    async def verdict(self, timeout: float | None = None) -> AmdDecision:
        """The decision; after `timeout` seconds without one, notsure (cause `timeout`)."""
        return await self._wait(
            self._verdict, timeout, lambda: undecided(AmdCause.TIMEOUT, self.fed_seconds)
        )

    async def greeting_end(self, timeout: float | None = None) -> GreetingEnd:
        """When a machine's greeting ended (beep or silence); at once `not_machine` for a
        human or notsure verdict; cause `timeout` after `timeout` seconds without one."""
        return await self._wait(
            self._greeting_end,
            timeout,
            lambda: GreetingEnd(self.fed_seconds, GreetingEndCause.TIMEOUT),
        )

    def close(self) -> None:
        """The call is over (or routed): stop analysing; pending waits resolve (hangup)."""
        if self._finished and self._verdict.done() and self._greeting_end.done():
            return
        self._stop()
        self._resolve(
            undecided(AmdCause.HANGUP, self.fed_seconds),
            GreetingEnd(self.fed_seconds, GreetingEndCause.HANGUP),
        )

    async def _wait(
        self, future: asyncio.Future[_T], timeout: float | None, fallback: Callable[[], _T]
    ) -> _T:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if not future.done():
                value = fallback()
                if isinstance(value, AmdDecision):
                    self._stop()
                    self._resolve(value, GreetingEnd(value.seconds, GreetingEndCause.TIMEOUT))
                else:
                    future.set_result(value)
            return future.result()

    def _drop(self) -> None:
        self._stop()
        self._pool.stats.dropped += 1
        self._resolve(
            undecided(AmdCause.DROPPED, self.fed_seconds),
            GreetingEnd(self.fed_seconds, GreetingEndCause.DROPPED),
        )

    def _stop(self) -> None:
        self._finished = True
        with self._lock:
            self._queue.clear()
            self._queued_bytes = 0
            idle = not self._scheduled
        if idle:  # no worker will come back to this session: return its detector now
            self._pool.submit(self._release_if_finished)

    def _resolve(self, decision: AmdDecision | None, end: GreetingEnd | None) -> None:
        """On the loop: settle what is still open, and count a verdict once."""
        if decision is not None and not self._verdict.done():
            self._verdict.set_result(decision)
            self._pool.count(self, decision)
        if end is not None and not self._greeting_end.done():
            self._greeting_end.set_result(end)

    # --- in a worker thread ---------------------------------------------------------------

    def _work(self) -> None:
        try:
            self._drain()
        except Exception as exc:  # a broken detector: the call goes on as notsure
            # `_scheduled` stays set, so the failed detector is never handed to a new call.
            self._finished = True
            self._loop.call_soon_threadsafe(self._failed, exc)
        finally:
            self._release_if_finished()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._finished or not self._queue:
                    self._scheduled = False
                    return
                chunk = b"".join(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
            stream = self._stream or self._build_stream()
            known = (stream.decision, stream.greeting_end)
            stream.feed(chunk)
            if (stream.decision, stream.greeting_end) != known:
                self._loop.call_soon_threadsafe(self._resolve, stream.decision, stream.greeting_end)
            if stream.done:
                self._finished = True

    def _build_stream(self) -> AmdStream:
        self._vad = self._pool.detectors.take(self._settings.vad_options())
        self._stream = AmdStream(self._settings, self._vad)
        return self._stream

    def _release_if_finished(self) -> None:
        with self._lock:
            vad, idle = self._vad, self._finished and not self._scheduled
            if idle:
                self._vad = None
                self._stream = None  # it holds the detector, which the next call gets
        if idle and vad is not None:
            self._pool.detectors.give_back(self._settings.vad_options(), vad)

    def _failed(self, exc: Exception) -> None:
        self._pool.failures += 1
        self._pool.log_failure(self.call_id, exc)
        self._resolve(
            undecided(AmdCause.DROPPED, self.fed_seconds),
            GreetingEnd(self.fed_seconds, GreetingEndCause.DROPPED),
        )


class AmdPool:
    """The worker threads and the detectors they share. One per daemon."""

    def __init__(
        self,
        settings: AmdPoolSettings | None = None,
        vad_factory: VadFactory = make_vad,
        on_decision: Callable[[AmdSession, AmdDecision], None] | None = None,
    ) -> None:
        self.settings = settings or AmdPoolSettings()
        self.stats = AmdPoolStats()
        self.failures = 0
        self.detectors = _Detectors(vad_factory, self.settings.idle_detectors)
        self._on_decision = on_decision
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.workers, thread_name_prefix="amd"
        )
        self._in_flight = 0  # submitted jobs not yet finished
        self._idle = threading.Condition()

    def open(self, call_id: str, settings: AmdSettings, campaign: str = "") -> AmdSession:
        """A session for one answered call; call from the event loop. `campaign` is
        handed back with the decision to `on_decision` (for metrics labels)."""
        self.stats.opened += 1
        return AmdSession(self, call_id, settings, asyncio.get_running_loop(), campaign)

    def submit(self, work: Callable[[], None]) -> None:
        with self._idle:
            self._in_flight += 1

        def job() -> None:
            try:
                work()
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        self._executor.submit(job)

    def drain(self, timeout: float) -> bool:
        """Wait (blocking: from a thread, not the loop) until no job is queued or running;
        False if `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def count(self, session: AmdSession, decision: AmdDecision) -> None:
        """Every session's one decision (on the loop): counted, then `on_decision`."""
        self.stats.verdicts[decision.verdict.value] += 1
        self.stats.causes[decision.cause.value] += 1
        if self._on_decision is not None:
            self._on_decision(session, decision)

    def log_failure(self, call_id: str, exc: Exception) -> None:
        # The call id is ours (no debtor data); the exception names the detector's fault.
        log.error("amd analysis failed for call %s: %r", call_id, exc)

    def prewarm(self, settings: AmdSettings, count: int) -> None:
        """Build `count` detectors ahead (in the workers), so the first calls wait for none."""
        options = settings.vad_options()
        for _ in range(count):
            self.submit(lambda: self.detectors.build(options))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
