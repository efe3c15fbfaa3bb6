"""The cadence state machine on hand-built speech/silence sequences: each rule fires at the
window its timing says, with its cause, and the first decision sticks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dialer.domain.calls import AmdVerdict
from dialer.media.amd import AmdCause, AmdDecision, CadenceDetector
from dialer.media.amd_settings import AmdSettings

WINDOW = 0.02  # seconds per window in these sequences


def frames(*parts: tuple[bool, float]) -> list[bool]:
    """(speech?, seconds) pieces as 20 ms windows."""
    out: list[bool] = []
    for speech, seconds in parts:
        out += [speech] * round(seconds / WINDOW)
    return out


def run(sequence: list[bool], settings: AmdSettings | None = None) -> AmdDecision | None:
    detector = CadenceDetector(settings or AmdSettings())
    decisions = [d for speech in sequence if (d := detector.step(speech, WINDOW)) is not None]
    assert len(decisions) <= 1  # a decision is made once
    return decisions[0] if decisions else None


SPEECH, SILENCE = True, False


def test_a_short_hello_then_silence_is_human_after_the_after_greeting_silence() -> None:
    decision = run(frames((SILENCE, 0.5), (SPEECH, 0.4), (SILENCE, 3.0)))
    assert decision is not None
    assert decision.verdict is AmdVerdict.HUMAN
    assert decision.cause is AmdCause.AFTER_GREETING_SILENCE
    assert decision.seconds == pytest.approx(0.5 + 0.4 + 0.8)
    assert decision.words == 1


def test_silence_from_the_answer_on_is_a_machine_at_the_initial_silence() -> None:
    decision = run(frames((SILENCE, 4.0)))
    assert decision is not None
    assert (decision.verdict, decision.cause) == (AmdVerdict.MACHINE, AmdCause.INITIAL_SILENCE)
    assert decision.seconds == pytest.approx(2.5)


def test_clicks_shorter_than_a_word_do_not_make_a_greeting() -> None:
    clicks = [(SILENCE, 0.4), (SPEECH, 0.06)] * 4
    decision = run(frames(*clicks, (SILENCE, 4.0)))
    assert decision is not None
    assert decision.cause is AmdCause.INITIAL_SILENCE
    assert decision.words == 0


def test_long_continuous_speech_is_a_machine_when_the_greeting_runs_out() -> None:
    decision = run(frames((SILENCE, 0.3), (SPEECH, 4.0)))
    assert decision is not None
    assert (decision.verdict, decision.cause) == (AmdVerdict.MACHINE, AmdCause.LONG_GREETING)
    assert decision.seconds == pytest.approx(0.3 + 1.5)
    assert decision.voiced_seconds == pytest.approx(1.5)


def test_the_third_word_is_a_machine_by_word_count() -> None:
    word, gap = (SPEECH, 0.2), (SILENCE, 0.2)
    decision = run(frames((SILENCE, 0.3), word, gap, word, gap, word, gap, word))
    assert decision is not None
    assert (decision.verdict, decision.cause) == (AmdVerdict.MACHINE, AmdCause.MAX_WORDS)
    # The third word counts once it has lasted the minimum word length.
    assert decision.seconds == pytest.approx(0.3 + 0.4 + 0.4 + 0.1)
    assert decision.words == 3


def test_a_gap_shorter_than_between_words_silence_keeps_one_word() -> None:
    settings = AmdSettings(maximum_words=2)
    decision = run(frames((SPEECH, 0.3), (SILENCE, 0.04), (SPEECH, 0.3), (SILENCE, 2)), settings)
    assert decision is not None
    assert decision.verdict is AmdVerdict.HUMAN
    assert decision.words == 1


def test_one_endless_word_is_a_machine_by_word_length() -> None:
    settings = AmdSettings(greeting=4.9, maximum_word_length=1.0)
    decision = run(frames((SPEECH, 3.0)), settings)
    assert decision is not None
    assert (decision.verdict, decision.cause) == (AmdVerdict.MACHINE, AmdCause.MAX_WORD_LENGTH)
    assert decision.seconds == pytest.approx(1.0)


def test_sparse_words_that_never_settle_are_notsure_at_the_total_analysis_time() -> None:
    settings = AmdSettings(maximum_words=50, greeting=4.9)
    decision = run(frames(*[(SPEECH, 0.15), (SILENCE, 0.6)] * 10), settings)
    assert decision is not None
    assert (decision.verdict, decision.cause) == (AmdVerdict.NOTSURE, AmdCause.TOO_LONG)
    assert decision.seconds == pytest.approx(5.0)


def test_the_timings_come_from_the_settings() -> None:
    quick = AmdSettings(after_greeting_silence=0.3)
    decision = run(frames((SPEECH, 0.4), (SILENCE, 1.0)), quick)
    assert decision is not None and decision.seconds == pytest.approx(0.4 + 0.3)


def test_window_size_does_not_change_the_decision_time_beyond_one_window() -> None:
    for window in (0.01, 0.02, 0.032):
        detector = CadenceDetector(AmdSettings())
        found = None
        steps = round(4.0 / window)
        for i in range(steps):
            t = i * window
            speech = 0.5 <= t < 0.9
            found = found or detector.step(speech, window)
        assert found is not None and found.verdict is AmdVerdict.HUMAN
        assert found.seconds == pytest.approx(1.7, abs=window + 1e-9)


@pytest.mark.parametrize("key", ["initial_silence", "greeting", "after_greeting_silence"])
def test_a_rule_that_could_never_fire_is_refused_by_name(key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        AmdSettings(**{key: 6.0})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="greting"):
        AmdSettings.model_validate({"greting": 1.0})
