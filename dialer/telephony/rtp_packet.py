"""The RTP stream each leg's far end hears from us: silence on idle collector legs, the
safe-harbor file, and the other side's packets while bridged (`RtpStream.relay`).

One leg, one stream for its whole life: one SSRC, sequence numbers and timestamps that
never jump back. A bridge does not hand the far end the other phone's stream as it is:
baresip 1.0's jitter buffer (and others) keep the first SSRC's sequence space and drop
every packet "older" than it, so a collector switched from our silence to a debtor's RTP
heard nothing about half the time (tests/telephony/test_interop_baresip.py). The relay
rewrites only the header (SSRC, sequence and timestamp offset into this stream, marker on
the switch); the payload passes through untouched.
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
        self._relayed_ssrc: int | None = None  # the source `relay` carries on, and its shifts
        self._sequence_shift = 0
        self._timestamp_shift = 0

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

    def relay(self, packet: bytes, now: float) -> bytes:
        """Another stream's packet, carried on in this one: same payload, our SSRC, its
        sequence and timestamp shifted to continue ours (its own gaps and reordering kept)."""
        if len(packet) < _HEADER.size:
            return packet
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
        if ssrc != self._relayed_ssrc:  # a new source: start it where our stream is now
            if self.last_sent is not None and now - self.last_sent > 0.1:
                gap = round((now - self.last_sent) / PACKET_INTERVAL) - 1
                self.timestamp = (self.timestamp + gap * self.samples) & 0xFFFFFFFF
            self._relayed_ssrc = ssrc
            self._sequence_shift = (self.sequence - sequence) & 0xFFFF
            self._timestamp_shift = (self.timestamp - timestamp) & 0xFFFFFFFF
            second |= 0x80  # a new talkspurt for the far end's playout
        out_sequence = (sequence + self._sequence_shift) & 0xFFFF
        out_timestamp = (timestamp + self._timestamp_shift) & 0xFFFFFFFF
        if ((out_sequence - self.sequence) & 0xFFFF) < 0x8000:  # not a late, reordered one
            self.sequence = (out_sequence + 1) & 0xFFFF
            self.timestamp = (out_timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF
        self.packets += 1
        self.octets += len(packet) - _HEADER.size
        self.last_sent = now
        self.marker = False
        # CSRC count, extension and padding flags are kept from the first byte
        return (
            _HEADER.pack(first, second, out_sequence, out_timestamp, self.ssrc)
            + packet[_HEADER.size :]
        )

    def end_relay(self) -> None:
        """The bridge ended: the next relayed source, if any, starts afresh."""
        self._relayed_ssrc = None
        self.marker = True


def rtp_payload(packet: bytes) -> bytes:
    """The payload of an RTP packet (CSRCs, header extension and padding skipped)."""
    if len(packet) < 12:
        return b""
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= offset + 4:  # a header extension
        offset += 4 + 4 * struct.unpack_from("!H", packet, offset + 2)[0]
    end = len(packet)
    if packet[0] & 0x20 and end > offset:  # padding: its length is the last octet
        end -= packet[-1]
    return packet[offset:end] if end > offset else b""


def payload_type(packet: bytes) -> int | None:
    """The packet's RTP payload type (None for a packet too short to be RTP)."""
    return packet[1] & 0x7F if len(packet) >= 12 else None
