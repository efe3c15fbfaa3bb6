"""RTP packets we originate ourselves (silence on idle collector legs, the safe-harbor file).

Forwarded packets are never built here: the forwarder passes the far end's bytes through.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

PCMU_PAYLOAD = 0
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
PACKET_INTERVAL = 0.020
PCMU_SILENCE = b"\xff" * SAMPLES_PER_PACKET
_HEADER = struct.Struct("!BBHII")


@dataclass(slots=True)
class RtpHeader:
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int

    @classmethod
    def parse(cls, packet: bytes) -> RtpHeader:
        if len(packet) < _HEADER.size or packet[0] >> 6 != 2:
            raise ValueError("not an RTP v2 packet")
        _, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
        return cls(bool(second & 0x80), second & 0x7F, sequence, timestamp, ssrc)


class RtpStream:
    """Sequence number, timestamp and SSRC of one stream we send (RFC 3550 5.1)."""

    def __init__(self, payload_type: int = PCMU_PAYLOAD) -> None:
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self.marker = True
        self.last_sent: float | None = None
        self.packets = 0  # sent so far, for RTCP sender reports
        self.octets = 0  # payload octets sent so far
        self.samples = SAMPLES_PER_PACKET  # duration of the last packet, in samples

    def packet(
        self, payload: bytes, now: float | None = None, samples: int = SAMPLES_PER_PACKET
    ) -> bytes:
        """The next packet. With `now`, a pause in sending advances the timestamp by the
        time that passed (silence resuming after a bridge); without, it is strictly +160."""
        if now is not None and self.last_sent is not None and now - self.last_sent > 0.1:
            # a gap (the leg was bridged to someone else): advance the clock, mark a talkspurt
            gap = round((now - self.last_sent) / PACKET_INTERVAL) - 1
            self.timestamp = (self.timestamp + gap * samples) & 0xFFFFFFFF
            self.marker = True
        second = (0x80 if self.marker else 0) | self.payload_type
        data = _HEADER.pack(0x80, second, self.sequence, self.timestamp, self.ssrc) + payload
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self.marker = False
        self.packets += 1
        self.octets += len(payload)
        self.samples = samples
        if now is not None:
            self.last_sent = now
        return data
