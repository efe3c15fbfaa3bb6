"""G.711 μ-law (PCMU) to 16-bit linear PCM and back, vectorised with numpy.

The decoder is a 256-entry table built once from the G.711 formula; the encoder is the
standard segment search written as array arithmetic, so both run on whole packets (or
whole clips) without a Python loop per sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
_BIAS = 0x84
_CLIP = 32635


def _decode_table() -> npt.NDArray[np.int16]:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


ULAW_TO_LINEAR = _decode_table()
ULAW_TO_LINEAR.setflags(write=False)


def ulaw_to_pcm(payload: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """16-bit linear samples of a μ-law payload (one byte a sample)."""
    codes = np.frombuffer(payload, dtype=np.uint8)
    return ULAW_TO_LINEAR[codes]


def pcm_to_ulaw(samples: npt.NDArray[np.integer] | npt.NDArray[np.floating]) -> bytes:
    """The μ-law bytes of 16-bit linear samples (floats are rounded and clipped first)."""
    linear = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), -32768, 32767)
    value = linear.astype(np.int32)
    sign = np.where(value < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(value), _CLIP) + _BIAS
    # The segment is the position of the highest set bit above bit 7 (0..7).
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    codes = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return bytes(codes.astype(np.uint8).tobytes())
