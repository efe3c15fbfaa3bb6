"""The AMD worker pool: the same verdicts as the stream analysed inline, a greeting end
after a machine, and when the workers are behind, the analysis dropped (notsure, counted)
while `feed` never waits for a worker."""

from __future__ import annotations

import asyncio
import threading

import corpus
import numpy as np

from dialer.domain.calls import AmdVerdict
from dialer.media.amd import AmdCause, AmdDecision
from dialer.media.amd_pool import AmdPool
from dialer.media.amd_settings import AmdPoolSettings, AmdSettings
from dialer.media.amd_stream import AmdStream, GreetingEndCause
from dialer.media.vad import Pcm, Vad, VadKind, VadOptions, make_vad

SETTINGS = AmdSettings(enabled=True)
PACKET = 160
WAIT = 10.0  # generous bound on any real-time wait: a failure shows as a timeout, not a hang


def packets(clip: corpus.Clip) -> list[bytes]:
    return [clip.ulaw[i : i + PACKET] for i in range(0, len(clip.ulaw), PACKET)]


class GatedVad:
    """Silence-only detector whose every window waits for `gate` (a worker kept busy)."""

    name: VadKind = "energy"
    window_samples = 160

    def __init__(self, gate: threading.Event, entered: threading.Event) -> None:
        self._gate = gate
        self._entered = entered

    def speech_probability(self, window: Pcm) -> float:
        self._entered.set()
        if not self._gate.wait(WAIT):
            raise TimeoutError("the test never opened the gate")
        return 0.0

    def reset(self) -> None:
        return None


class BrokenVad(GatedVad):
    def speech_probability(self, window: Pcm) -> float:
        raise RuntimeError("model failed")


async def test_the_pool_gives_the_verdict_and_greeting_end_of_the_inline_stream(
    main_set: list[corpus.Clip],
) -> None:
    machine = next(c for c in main_set if c.label == "machine" and c.beep_end is not None)
    human = next(c for c in main_set if c.label == "human")
    # Packets come faster than real time here: room for all of them in the backlog.
    pool = AmdPool(AmdPoolSettings(workers=2, max_backlog_seconds=30))
    try:
        sessions = {clip.ident: pool.open(clip.ident, SETTINGS) for clip in (machine, human)}
        assert not any(s.done for s in sessions.values())
        for clip in (machine, human):
            for packet in packets(clip):
                sessions[clip.ident].feed(packet)
                await asyncio.sleep(0)  # packets arrive one at a time, as from RTP
        results = {
            ident: (await s.verdict(timeout=WAIT), await s.greeting_end(timeout=WAIT))
            for ident, s in sessions.items()
        }
        assert all(s.done for s in sessions.values())
    finally:
        pool.close()
    for clip in (machine, human):
        inline = AmdStream(SETTINGS, make_vad(SETTINGS.vad_options()))
        inline.feed(clip.ulaw)
        assert results[clip.ident] == (inline.decision, inline.greeting_end)
    assert results[machine.ident][0].verdict is AmdVerdict.MACHINE
    assert results[machine.ident][1].cause is GreetingEndCause.BEEP
    assert results[human.ident][0].verdict is AmdVerdict.HUMAN
    assert results[human.ident][1].cause is GreetingEndCause.NOT_MACHINE
    assert pool.stats.verdicts == {"machine": 1, "human": 1}


async def test_a_pool_behind_drops_the_analysis_instead_of_blocking_the_loop() -> None:
    gate, entered = threading.Event(), threading.Event()
    decisions: list[tuple[str, AmdDecision]] = []
    pool = AmdPool(
        AmdPoolSettings(workers=1, max_backlog_seconds=0.5),
        vad_factory=lambda options: GatedVad(gate, entered),
        on_decision=lambda session, decision: decisions.append((session.campaign, decision)),
    )
    try:
        busy = pool.open("busy", SETTINGS, campaign="c1")
        busy.feed(b"\xff" * PACKET)  # its only worker is now stuck in this call's VAD
        assert await asyncio.to_thread(entered.wait, WAIT)
        late = pool.open("late", SETTINGS, campaign="c2")
        for _ in range(50):  # 1 s of audio that no worker can take
            late.feed(b"\xff" * PACKET)
        # Everything above ran on the loop while the worker was still blocked: feed never
        # waited for it. The late call was given up after 0.5 s of backlog.
        assert not gate.is_set()
        verdict = await late.verdict(timeout=WAIT)
        assert (verdict.verdict, verdict.cause) == (AmdVerdict.NOTSURE, AmdCause.DROPPED)
        assert verdict.seconds == 0.52  # the audio fed when the backlog passed 0.5 s
        assert (await late.greeting_end(timeout=WAIT)).cause is GreetingEndCause.DROPPED
        assert pool.stats.dropped == 1
        late.feed(b"\xff" * PACKET)  # a late packet after the drop is ignored
        assert pool.stats.dropped == 1
        # The worker, released, finishes the busy call on its own audio.
        gate.set()
        for _ in range(15):  # 3 s in 0.2 s steps, each analysed before the next
            for _ in range(10):
                busy.feed(b"\xff" * PACKET)
            assert await asyncio.to_thread(pool.drain, WAIT)
        busy_verdict = await busy.verdict(timeout=WAIT)
        assert busy_verdict.cause is AmdCause.INITIAL_SILENCE
    finally:
        gate.set()
        pool.close()
    assert [(c, d.cause) for c, d in decisions] == [
        ("c2", AmdCause.DROPPED),
        ("c1", AmdCause.INITIAL_SILENCE),
    ]
    assert pool.stats.causes == {"dropped": 1, "initial_silence": 1}


async def test_no_audio_in_time_is_notsure_by_timeout() -> None:
    pool = AmdPool()
    try:
        session = pool.open("mute", SETTINGS)
        verdict = await session.verdict(timeout=0.05)
        assert (verdict.verdict, verdict.cause) == (AmdVerdict.NOTSURE, AmdCause.TIMEOUT)
        assert await session.verdict() == verdict  # settled: the same answer again
        assert (await session.greeting_end(timeout=WAIT)).cause is GreetingEndCause.TIMEOUT
    finally:
        pool.close()


async def test_closing_a_session_settles_its_waits_as_hangup() -> None:
    pool = AmdPool()
    try:
        session = pool.open("gone", SETTINGS)
        session.feed(b"\xff" * PACKET * 10)
        waiting = asyncio.ensure_future(session.verdict())
        session.close()
        verdict = await asyncio.wait_for(waiting, WAIT)
        assert verdict.cause is AmdCause.HANGUP
        assert (await session.greeting_end()).cause is GreetingEndCause.HANGUP
    finally:
        pool.close()


async def test_a_failing_detector_gives_notsure_and_is_counted() -> None:
    gate, entered = threading.Event(), threading.Event()
    pool = AmdPool(vad_factory=lambda options: BrokenVad(gate, entered))
    try:
        session = pool.open("broken", SETTINGS)
        session.feed(b"\xff" * PACKET)
        verdict = await session.verdict(timeout=WAIT)
        assert (verdict.verdict, verdict.cause) == (AmdVerdict.NOTSURE, AmdCause.DROPPED)
        assert pool.failures == 1
        session.close()
        assert await asyncio.to_thread(pool.drain, WAIT)
        assert pool.detectors.idle() == 0  # the failed detector is not handed to a new call
    finally:
        pool.close()


async def test_detectors_are_built_in_the_workers_and_reused() -> None:
    built: list[str] = []

    def factory(options: VadOptions) -> Vad:
        built.append(threading.current_thread().name)
        return make_vad(options)

    pool = AmdPool(AmdPoolSettings(workers=1, max_backlog_seconds=5), vad_factory=factory)
    silence = np.full(PACKET * 150, 0xFF, dtype=np.uint8).tobytes()  # 3 s: initial silence
    try:
        for call in ("a", "b", "c"):
            session = pool.open(call, SETTINGS)
            session.feed(silence)
            verdict = await session.verdict(timeout=WAIT)
            assert verdict.cause is AmdCause.INITIAL_SILENCE
            session.close()
            await asyncio.to_thread(pool.drain, WAIT)
    finally:
        pool.close()
    assert len(built) == 1 and built[0].startswith("amd")


async def test_idle_detectors_beyond_the_setting_are_let_go() -> None:
    built: list[Vad] = []

    def factory(options: VadOptions) -> Vad:
        vad = make_vad(VadOptions(kind="energy"))
        built.append(vad)
        return vad

    pool = AmdPool(AmdPoolSettings(workers=2, idle_detectors=2), vad_factory=factory)
    silence = b"\xff" * PACKET * 150
    try:
        sessions = [pool.open(f"call-{n}", SETTINGS) for n in range(5)]
        for session in sessions:  # five calls under analysis at once: five detectors
            session.feed(b"\xff" * PACKET)
        assert await asyncio.to_thread(pool.drain, WAIT)
        for session in sessions:
            session.feed(silence[: PACKET * 20])
        for session in sessions:
            session.close()
        assert await asyncio.to_thread(pool.drain, WAIT)
    finally:
        pool.close()
    assert len(built) == 5
    assert pool.detectors.idle() == 2
