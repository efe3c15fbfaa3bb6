"""One call's answering-machine analysis from μ-law bytes: decode, VAD, cadence, and after a
machine verdict the end of its greeting (for a voicemail drop).

Time is audio time: seconds of audio fed since the answer, so the analysis gives the same
answer however the bytes arrive or however late a worker gets to them.

The greeting has ended when the beep stops (`tone.ToneDetector`), or when
`greeting_end_silence` of silence follows speech; `greeting_end_timeout` after the verdict
without either, the stream gives up (cause `timeout`) so a drop never waits forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.domain.calls import AmdVerdict
from dialer.media.amd import AmdDecision, CadenceDetector
from dialer.media.amd_settings import AmdSettings
from dialer.media.g711 import SAMPLE_RATE, ulaw_to_pcm
from dialer.media.tone import ToneDetector
from dialer.media.vad import Pcm, Vad, VadStream

PACKET_SAMPLES = 160  # 20 ms: one RTP packet of PCMU


class GreetingEndCause(StrEnum):
    BEEP = "beep"
    SILENCE = "silence"
    TIMEOUT = "timeout"
    DROPPED = "dropped"  # the pool dropped the analysis
    HANGUP = "hangup"  # the session was closed first
    NOT_MACHINE = "not_machine"  # the verdict was not machine: there is no greeting to wait


@dataclass(frozen=True, slots=True)
class GreetingEnd:
    """When (audio seconds from the answer) a machine's greeting ended, and how we know."""

    seconds: float
    cause: GreetingEndCause
    beep_hz: float | None = None


class AmdStream:
    """Feed μ-law bytes in order; read `decision` and, after a machine verdict,
    `greeting_end`. `done` once nothing more will be learned from more audio."""

    def __init__(self, settings: AmdSettings, vad: Vad) -> None:
        self._settings = settings
        self._vad = VadStream(vad, settings.speech_threshold)
        self._cadence = CadenceDetector(settings)
        self._tone = ToneDetector(
            min_seconds=settings.beep_min_seconds,
            min_hz=settings.beep_min_hz,
            max_hz=settings.beep_max_hz,
        )
        self._samples = 0  # samples fed: the stream's clock
        self._heard_speech = False
        self._silence_run = 0.0
        self._analysed = 0.0  # seconds of whole VAD windows analysed
        self._tone_origin: int | None = None  # the sample the tone detector started at
        self.decision: AmdDecision | None = None
        self.greeting_end: GreetingEnd | None = None

    @property
    def seconds(self) -> float:
        return self._samples / SAMPLE_RATE

    @property
    def done(self) -> bool:
        return self.greeting_end is not None

    def feed(self, ulaw: bytes) -> None:
        # Packet by packet, the VAD and the beep detector in step: however the audio was
        # batched (a worker that fell behind takes several packets at once), a beep is
        # heard before a silence rule that a later packet in the batch would fire.
        pcm = ulaw_to_pcm(ulaw)
        for start in range(0, pcm.size, PACKET_SAMPLES):
            if self.done:
                return
            self._feed_packet(pcm[start : start + PACKET_SAMPLES])

    def _feed_packet(self, pcm: Pcm) -> None:
        first_sample = self._samples
        self._samples += pcm.size
        for speech, _window in self._vad.feed(pcm):
            self._account(speech, self._vad.window_seconds)
            if self.done:
                return
        if self.decision is not None and self.decision.verdict is AmdVerdict.MACHINE:
            self._listen_for_beep(pcm, first_sample)

    def _account(self, speech: bool, seconds: float) -> None:
        self._analysed += seconds
        self._silence_run = 0.0 if speech else self._silence_run + seconds
        self._heard_speech = self._heard_speech or speech
        if self.decision is None:
            self.decision = self._cadence.step(speech, seconds)
            if self.decision is not None and self.decision.verdict is not AmdVerdict.MACHINE:
                self.greeting_end = GreetingEnd(self.decision.seconds, GreetingEndCause.NOT_MACHINE)
            return
        now = round(self._analysed, 6)
        if self._heard_speech and self._silence_run >= self._settings.greeting_end_silence - 1e-9:
            self.greeting_end = GreetingEnd(now, GreetingEndCause.SILENCE)
        elif now - self.decision.seconds >= self._settings.greeting_end_timeout - 1e-9:
            self.greeting_end = GreetingEnd(now, GreetingEndCause.TIMEOUT)

    def _listen_for_beep(self, pcm: Pcm, first_sample: int) -> None:
        """Feed the tone detector the audio from the verdict on (a beep ends a greeting)."""
        if self._tone_origin is None:
            assert self.decision is not None
            self._tone_origin = max(first_sample, round(self.decision.seconds * SAMPLE_RATE))
        skip = max(0, self._tone_origin - first_sample)
        for beep in self._tone.feed(pcm[skip:]):
            if self.greeting_end is None:
                end = (self._tone_origin / SAMPLE_RATE) + beep.end
                self.greeting_end = GreetingEnd(round(end, 6), GreetingEndCause.BEEP, beep.hz)
