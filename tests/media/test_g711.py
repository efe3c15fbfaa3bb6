"""G.711 μ-law: the decoder table against the standard's fixed points, and the round trip
within the codec's step size everywhere."""

from __future__ import annotations

import numpy as np

from dialer.media.g711 import ULAW_TO_LINEAR, pcm_to_ulaw, ulaw_to_pcm


def test_decoder_hits_the_standards_fixed_points() -> None:
    assert ULAW_TO_LINEAR[0xFF] == 0  # μ-law silence
    assert ULAW_TO_LINEAR[0x7F] == 0
    assert ULAW_TO_LINEAR[0x00] == -32124  # the loudest negative code
    assert ULAW_TO_LINEAR[0x80] == 32124
    assert ULAW_TO_LINEAR[0xFE] == 8  # the first step of segment 0
    assert ULAW_TO_LINEAR[0xEF] == 132  # where segment 1 starts


def test_decoder_is_monotonic_within_each_sign() -> None:
    positive = ULAW_TO_LINEAR[0x80:][::-1]  # codes 0xFF..0x80: 0 up to the loudest
    negative = ULAW_TO_LINEAR[:0x80][::-1]
    assert np.all(np.diff(positive.astype(int)) > 0)
    assert np.all(np.diff(negative.astype(int)) < 0)


def test_round_trip_error_stays_within_the_segment_step() -> None:
    samples = np.arange(-32768, 32768, dtype=np.int16)
    decoded = ulaw_to_pcm(pcm_to_ulaw(samples)).astype(int)
    error = np.abs(decoded - samples.astype(int))
    magnitude = np.minimum(np.abs(samples.astype(int)), 32635)
    # Segment k (magnitudes below 2**(k+8) - 132) quantises in steps of 2**(k+3).
    step = 2 ** (np.clip(np.floor(np.log2(magnitude + 132)).astype(int) - 7, 0, 7) + 3)
    clipped = np.abs(samples.astype(int)) > 32635
    assert np.all(error[~clipped] <= step[~clipped])
    assert np.all(np.abs(decoded[clipped]) == 32124)


def test_decoding_one_rtp_payload_gives_160_samples() -> None:
    payload = pcm_to_ulaw(np.full(160, 1000, dtype=np.int16))
    assert len(payload) == 160
    samples = ulaw_to_pcm(payload)
    assert samples.dtype == np.int16 and samples.shape == (160,)
    assert abs(int(samples[0]) - 1000) <= 32


def test_encoder_clips_and_rounds_floats() -> None:
    codes = pcm_to_ulaw(np.array([1e9, -1e9, 0.4, -0.4]))
    assert ulaw_to_pcm(codes).tolist() == [32124, -32124, 0, 0]
