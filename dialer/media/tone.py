"""The voicemail beep: a steady single tone (typically 400-2600 Hz, 80 ms to a second).

Per 20 ms block the detector takes a Hann-windowed FFT (zero-padded to 512 points, so the
peak is located to ~16 Hz) and calls the block tonal when it is loud enough, its peak lies
in the band, and the peak's neighbourhood (+-3 bins, +-47 Hz) holds 85% of the block's
power. Speech never does that for long: its power sits in several harmonics and formants
that move from block to block. A run of tonal blocks on
one frequency (one spoiled block allowed: line noise) lasting `min_seconds` is a beep; it
is reported once, when it stops (the recording starts after the beep, not during it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dialer.media.g711 import SAMPLE_RATE

BLOCK_SAMPLES = 160  # 20 ms, one RTP packet
_FFT_POINTS = 512
_WINDOW = np.hanning(BLOCK_SAMPLES)
_BIN_HZ = SAMPLE_RATE / _FFT_POINTS
# Bins each side of the peak counted as the tone's (+-47 Hz). Chosen with the purity on the
# AMD benchmark's 330 clips (benchmarks/bench_amd.py, seed 7): at +-3 bins no speech block
# run passed for purities from 0.8 up and no beep was missed up to 0.9; at +-6 bins (the
# whole Hann main lobe, +-100 Hz) a voiced harmonic passes in most greetings.
_NEIGHBOURHOOD = 3
_OFFSETS = np.arange(-_NEIGHBOURHOOD, _NEIGHBOURHOOD + 1)[None, :]
# Tone frequencies of consecutive blocks of one beep agree within this (jitter, chirp-free).
_SAME_TONE_HZ = 3 * _BIN_HZ
# Non-tonal blocks tolerated inside one beep (line noise can spoil a single block).
_MAX_GAP_BLOCKS = 1


@dataclass(frozen=True, slots=True)
class Beep:
    """A tone heard from `start` to `end` (seconds of the stream) at about `hz`."""

    start: float
    end: float
    hz: float


class ToneDetector:
    """Streaming: `feed` audio of any length; returns the beeps that ended in it."""

    def __init__(
        self,
        min_seconds: float = 0.08,
        min_hz: float = 400.0,
        max_hz: float = 2600.0,
        purity: float = 0.85,
        min_level: float = 60.0,
    ) -> None:
        self._min_seconds = min_seconds
        self._low_bin = max(_NEIGHBOURHOOD, int(np.ceil(min_hz / _BIN_HZ)))
        self._high_bin = min(_FFT_POINTS // 2 - _NEIGHBOURHOOD, int(np.floor(max_hz / _BIN_HZ)))
        self._purity = purity
        # RMS below which a block is too quiet to be a beep (16-bit scale; line noise).
        self._min_power = (min_level**2) * BLOCK_SAMPLES
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._blocks = 0  # blocks seen so far: the stream's clock
        self._run_start: int | None = None
        self._run_hz = 0.0
        self._last_tonal = 0

    @property
    def seconds(self) -> float:
        return self._blocks * BLOCK_SAMPLES / SAMPLE_RATE

    def feed(self, samples: npt.NDArray[np.int16]) -> list[Beep]:
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        count = data.size // BLOCK_SAMPLES
        self._pending = data[count * BLOCK_SAMPLES :].copy()
        if count == 0:
            return []
        blocks = data[: count * BLOCK_SAMPLES].reshape(count, BLOCK_SAMPLES)
        tones = self._tone_per_block(blocks)
        beeps: list[Beep] = []
        for hz in tones:
            beep = self._advance(float(hz))
            if beep is not None:
                beeps.append(beep)
        return beeps

    def _tone_per_block(self, blocks: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
        """Each block's tone frequency in Hz, or 0.0 where the block is not tonal."""
        samples = blocks.astype(np.float64)
        # Block energy (time domain, before windowing) decides loudness; quiet blocks (the
        # silence a machine leaves after its greeting on a clean line) need no FFT.
        energy = np.einsum("ij,ij->i", samples, samples)
        loud = energy >= self._min_power
        tones = np.zeros(blocks.shape[0])
        if not loud.any():
            return tones
        spectrum = np.fft.rfft(samples[loud] * _WINDOW, n=_FFT_POINTS, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        peak = np.argmax(power[:, self._low_bin : self._high_bin + 1], axis=1) + self._low_bin
        # The band keeps the peak at least _NEIGHBOURHOOD bins inside the spectrum.
        near = np.take_along_axis(power, peak[:, None] + _OFFSETS, axis=1).sum(axis=1)
        tonal = near >= self._purity * np.maximum(power.sum(axis=1), 1e-9)
        tones[loud] = np.where(tonal, peak * _BIN_HZ, 0.0)
        return tones

    def _advance(self, hz: float) -> Beep | None:
        index = self._blocks
        self._blocks += 1
        if self._run_start is not None:
            if hz > 0 and abs(hz - self._run_hz) <= _SAME_TONE_HZ:
                self._last_tonal = index
                return None
            if hz == 0 and index - self._last_tonal <= _MAX_GAP_BLOCKS:
                return None  # one noisy block inside a beep does not split it
        beep = self._finish()
        self._run_start, self._run_hz = (index, hz) if hz > 0 else (None, 0.0)
        self._last_tonal = index
        return beep

    def _finish(self) -> Beep | None:
        if self._run_start is None:
            return None
        start = self._run_start * BLOCK_SAMPLES / SAMPLE_RATE
        end = (self._last_tonal + 1) * BLOCK_SAMPLES / SAMPLE_RATE
        if end - start + 1e-9 < self._min_seconds:
            return None
        return Beep(start=start, end=end, hz=self._run_hz)
