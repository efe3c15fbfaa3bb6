"""Two RTP streams laid out on one timeline: the two channels of a call recording.

Channel 0 is the debtor (what their leg sends us), channel 1 what the debtor hears (the
collector relayed to them, the safe-harbor message, a voicemail drop). Each packet goes at
the sample its RTP timestamp says, counted from the stream's first packet, which sits at
its arrival time since the recording started; so network jitter does not move audio,
while a stream that pauses (no packets: hold, a bridge not up yet) leaves silence of the
right length. When a packet newer than any before (by sequence number) disagrees with its
arrival by more than `REANCHOR` (a new SSRC, a jump in the sender's clock, a message
played after a pause whose timestamps just carry on) the stream is re-anchored at its
arrival time; an older one (reordered, late) always goes where its timestamp says.

Nothing is written until both channels are past it or `jitter` samples behind the newest
audio, so a late or reordered packet still lands in place; one later than that is dropped
and counted. Gaps are filled with μ-law silence (0xFF). Pure: no I/O, no clock.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

RATE = 8000
PCMU = 0
MULAW_SILENCE = 0xFF
REANCHOR = int(0.3 * RATE)  # samples
DEFAULT_JITTER = int(0.5 * RATE)
_HEADER = struct.Struct("!BBHII")


@dataclass(slots=True)
class _Anchor:
    ssrc: int
    timestamp: int
    position: int
    sequence: int  # the newest seen


def pcmu_payload(packet: bytes) -> tuple[int, int, int, bytes] | None:
    """(ssrc, sequence, timestamp, payload) of a PCMU packet; None for anything else (DTMF
    events, comfort noise, garbage)."""
    if len(packet) < _HEADER.size:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
    if first >> 6 != 2 or second & 0x7F != PCMU:
        return None
    start = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # a header extension: 4 bytes of profile and length, then the words
        if len(packet) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet)
    if first & 0x20 and end > start:  # padding: its count is the last byte
        end -= packet[-1]
    if end <= start:
        return None
    return ssrc, sequence, timestamp, packet[start:end]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


class StereoMixer:
    """Places packets of two channels by timestamp; hands out interleaved μ-law frames."""

    def __init__(self, jitter: int = DEFAULT_JITTER) -> None:
        self.jitter = jitter
        self.base = 0  # sample position of the first sample not handed out yet
        self.head = 0  # one past the newest sample placed, either channel
        self.late_packets = 0  # packets (or their start) after their place was written
        self._buffers = (bytearray(), bytearray())
        self._anchors: list[_Anchor | None] = [None, None]

    def add(self, channel: int, arrival_position: int, packet: bytes) -> None:
        """Place one packet that arrived `arrival_position` samples after the start."""
        parsed = pcmu_payload(packet)
        if parsed is None:
            return
        ssrc, sequence, timestamp, payload = parsed
        position = self._position(channel, arrival_position, ssrc, sequence, timestamp)
        end = position + len(payload)
        if position < self.base:
            cut = min(len(payload), self.base - position)
            self.late_packets += 1
            payload = payload[cut:]
            position = self.base
            if not payload:
                return
        buffer = self._buffers[channel]
        offset = position - self.base
        if len(buffer) < offset:
            buffer.extend(b"\xff" * (offset - len(buffer)))
        buffer[offset : offset + len(payload)] = payload
        self.head = max(self.head, end)

    def _position(
        self, channel: int, arrival: int, ssrc: int, sequence: int, timestamp: int
    ) -> int:
        anchor = self._anchors[channel]
        if anchor is not None and anchor.ssrc == ssrc:
            delta = _signed((timestamp - anchor.timestamp) & 0xFFFFFFFF, 32)
            position = anchor.position + delta
            newer = _signed((sequence - anchor.sequence) & 0xFFFF, 16) > 0
            if not newer:
                return position  # reordered or late: its timestamp says where
            anchor.sequence = sequence
            if abs(position - arrival) <= REANCHOR:
                return position
        self._anchors[channel] = _Anchor(ssrc, timestamp, max(arrival, 0), sequence)
        return max(arrival, 0)

    def ready(self) -> bytes:
        """Interleaved frames nothing late can land in any more (may be empty)."""
        return self._take(self.head - self.jitter)

    def rest(self) -> bytes:
        """Everything still held (the recording ends)."""
        return self._take(self.head)

    def _take(self, until: int) -> bytes:
        count = until - self.base
        if count <= 0:
            return b""
        frames = np.full(2 * count, MULAW_SILENCE, dtype=np.uint8)
        for channel, buffer in enumerate(self._buffers):
            have = min(len(buffer), count)
            if have:
                frames[channel : 2 * have : 2] = np.frombuffer(buffer[:have], np.uint8)
            del buffer[:have]
        self.base = until
        return frames.tobytes()
