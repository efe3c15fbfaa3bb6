"""The AMD cadence state machine: speech/silence windows in, human / machine / notsure out.

The idea is app_amd's (our own code, from its documented parameters): a person answers
with a short greeting ("Hello?") and then waits, silent, for the caller; a machine talks on
("Hi, you've reached ... leave a message after the tone"). So, with time counted in audio
seconds from the answer:
- no word within `initial_silence`: machine (some machines stay silent; people speak);
- the greeting's voiced time reaching `greeting`: machine (long greeting);
- a word reaching `maximum_word_length`: machine;
- the `maximum_words`-th word starting: machine;
- `after_greeting_silence` of silence after at least one word: human;
- none of these within `total_analysis_time`: notsure (routed as a person).
A word is voice lasting at least `min_word_length`; it ends after `between_words_silence`
of silence; shorter voice (a click, a breath) is not a word and does not end a silence.

Pure and clock-free: the caller says how long each window is; `CadenceDetector.step`
returns the decision once, at the window that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.domain.calls import AmdVerdict
from dialer.media.amd_settings import AmdSettings


class AmdCause(StrEnum):
    INITIAL_SILENCE = "initial_silence"
    LONG_GREETING = "long_greeting"
    MAX_WORD_LENGTH = "max_word_length"
    MAX_WORDS = "max_words"
    AFTER_GREETING_SILENCE = "after_greeting_silence"
    TOO_LONG = "too_long"
    # Not the cadence's: the pool dropped the analysis (behind), or no audio came in time.
    DROPPED = "dropped"
    TIMEOUT = "timeout"
    HANGUP = "hangup"  # the call ended (the session was closed) before a decision


@dataclass(frozen=True, slots=True)
class AmdDecision:
    """The verdict, when it was reached (audio seconds from the answer), why, and the
    cadence figures at that moment (words heard, voiced seconds of the greeting)."""

    verdict: AmdVerdict
    seconds: float
    cause: AmdCause
    words: int = 0
    voiced_seconds: float = 0.0


class CadenceDetector:
    """One call's cadence machine. Feed every window in order; the first decision sticks
    (later steps return None)."""

    def __init__(self, settings: AmdSettings) -> None:
        self._settings = settings
        self.elapsed = 0.0
        self.words = 0
        self.voiced = 0.0  # voiced seconds of words so far (the greeting's length)
        self._in_word = False
        self._voice_run = 0.0  # consecutive voice, counted before it becomes a word
        self._silence_run = 0.0
        self.decision: AmdDecision | None = None

    def step(self, speech: bool, seconds: float) -> AmdDecision | None:
        """Account one window of `seconds`; the decision if this window made it."""
        if self.decision is not None:
            return None
        self.elapsed += seconds
        cause = self._speech(seconds) if speech else self._silence(seconds)
        if cause is None and _reached(self.elapsed, self._settings.total_analysis_time):
            cause = AmdCause.TOO_LONG
        if cause is None:
            return None
        self.decision = AmdDecision(
            verdict=_VERDICTS[cause],
            seconds=round(self.elapsed, 6),
            cause=cause,
            words=self.words,
            voiced_seconds=round(self.voiced, 6),
        )
        return self.decision

    def _speech(self, seconds: float) -> AmdCause | None:
        s = self._settings
        self._voice_run += seconds
        if not self._in_word and _reached(self._voice_run, s.min_word_length):
            # A new word: its voice so far counts toward the greeting.
            self._in_word = True
            self.words += 1
            self.voiced += self._voice_run
            self._silence_run = 0.0
            if _reached(self.words, s.maximum_words):
                return AmdCause.MAX_WORDS
        elif self._in_word:
            self.voiced += seconds
            self._silence_run = 0.0
        if self._in_word and _reached(self._voice_run, s.maximum_word_length):
            return AmdCause.MAX_WORD_LENGTH
        if _reached(self.voiced, s.greeting):
            return AmdCause.LONG_GREETING
        return None

    def _silence(self, seconds: float) -> AmdCause | None:
        s = self._settings
        self._silence_run += seconds
        if self._in_word:
            if _reached(self._silence_run, s.between_words_silence):
                self._in_word = False
                self._voice_run = 0.0
        else:
            self._voice_run = 0.0  # voice too short for a word: a click, not a word
        if self.words == 0 and _reached(self._silence_run, s.initial_silence):
            return AmdCause.INITIAL_SILENCE
        if self.words > 0 and _reached(self._silence_run, s.after_greeting_silence):
            return AmdCause.AFTER_GREETING_SILENCE
        return None


def _reached(value: float, limit: float) -> bool:
    # Window lengths add up in floating point (250 x 0.02 is just under 5.0).
    return value >= limit - 1e-9


_VERDICTS: dict[AmdCause, AmdVerdict] = {
    AmdCause.INITIAL_SILENCE: AmdVerdict.MACHINE,
    AmdCause.LONG_GREETING: AmdVerdict.MACHINE,
    AmdCause.MAX_WORD_LENGTH: AmdVerdict.MACHINE,
    AmdCause.MAX_WORDS: AmdVerdict.MACHINE,
    AmdCause.AFTER_GREETING_SILENCE: AmdVerdict.HUMAN,
    AmdCause.TOO_LONG: AmdVerdict.NOTSURE,
    AmdCause.DROPPED: AmdVerdict.NOTSURE,
    AmdCause.TIMEOUT: AmdVerdict.NOTSURE,
    AmdCause.HANGUP: AmdVerdict.NOTSURE,
}


def undecided(cause: AmdCause, seconds: float) -> AmdDecision:
    """A notsure decision not reached by the cadence (dropped, timed out, hung up)."""
    return AmdDecision(verdict=AmdVerdict.NOTSURE, seconds=seconds, cause=cause)
