"""The beep detector: a generated voicemail beep is found with its frequency and end; a
tone too short is not a beep; speech, even loud, is never a beep."""

from __future__ import annotations

import corpus
import numpy as np
import pytest

from dialer.media.g711 import SAMPLE_RATE, pcm_to_ulaw, ulaw_to_pcm
from dialer.media.tone import ToneDetector


def _line(*parts: np.ndarray, noise: float = 30.0, seed: int = 1) -> np.ndarray:
    """Parts at telephone level through noise and a μ-law round trip."""
    audio = np.concatenate(parts) * 6000
    audio = audio + np.random.default_rng(seed).normal(0, noise, audio.size)
    return ulaw_to_pcm(pcm_to_ulaw(audio))


def _tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.sin(2 * np.pi * hz * t)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE))


@pytest.mark.parametrize("hz", [440.0, 1000.0, 1400.0, 2100.0])
def test_a_beep_is_found_with_its_frequency_and_end(hz: float) -> None:
    beeps = ToneDetector().feed(_line(_silence(1.0), _tone(hz, 0.25), _silence(1.0)))
    assert len(beeps) == 1
    assert beeps[0].hz == pytest.approx(hz, abs=20)
    assert beeps[0].start == pytest.approx(1.0, abs=0.03)
    assert beeps[0].end == pytest.approx(1.25, abs=0.03)


def test_a_tone_shorter_than_the_minimum_is_not_a_beep() -> None:
    assert ToneDetector(min_seconds=0.08).feed(_line(_silence(0.5), _tone(1000, 0.04))) == []
    assert len(ToneDetector(min_seconds=0.08).feed(_line(_tone(1000, 0.12), _silence(0.1)))) == 1


def test_a_tone_outside_the_band_is_not_a_beep() -> None:
    detector = ToneDetector(min_hz=400, max_hz=2600)
    assert detector.feed(_line(_tone(3000, 0.3), _silence(0.2))) == []


def test_the_beep_is_found_however_the_audio_is_cut() -> None:
    pcm = _line(_silence(0.7), _tone(1000, 0.3), _silence(0.5))
    detector = ToneDetector()
    beeps = []
    for start in range(0, pcm.size, 97):  # odd pieces, not block-aligned
        beeps += detector.feed(pcm[start : start + 97])
    assert [round(b.end, 2) for b in beeps] == [1.0]


def test_speech_of_every_voice_is_never_a_beep(main_set: list[corpus.Clip]) -> None:
    for clip in main_set:
        speech = corpus.pcm(clip)[: round(clip.speech_end * SAMPLE_RATE)]
        assert ToneDetector().feed(speech) == [], clip.ident


def test_loud_speech_is_never_a_beep(main_set: list[corpus.Clip]) -> None:
    clip = next(c for c in main_set if c.label == "machine" and c.engine == "piper")
    speech = corpus.pcm(clip)[: round(clip.speech_end * SAMPLE_RATE)].astype(np.float64)
    loud = ulaw_to_pcm(pcm_to_ulaw(speech * (20000 / np.abs(speech).max())))
    assert ToneDetector().feed(loud) == []
