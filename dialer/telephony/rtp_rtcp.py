"""RTCP (RFC 3550 6) on every leg's RTP port + 1: read what the far end sends, report back.

Each RTP socket has an RTCP socket on the next (odd) port, bound with it, so a far end's
reports never draw an ICMP port unreachable. What it does depends on the leg:

Every leg's far end hears one stream from us for the whole call (rtp_packet: the relay
carries the other side's packets on in it), so we are its RTCP peer whether bridged or
not (an RTP mixer's position, RFC 3550 7.1, without mixing: one source at a time). The far
end's reports are read, not passed on (they describe our stream, which the other phone
never sees), and every ~5 s (RFC 3550's minimum,
  randomised 0.5-1.5x, the first after half of it) we send a compound SR (when we sent RTP
  since the last report) or RR, with a report block on the far end's stream (loss, highest
  sequence, jitter, LSR/DLSR from its last SR) and an SDES CNAME.

rtcp-mux (RFC 5761) is never offered, and an offer of it is not accepted in our answer, so
the far end keeps RTCP on its own port (RFC 5761 5.1.1).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import struct
import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from dialer.telephony.rtp_forwarder import RtpEndpoint

Address = tuple[str, int]
RTCP_INTERVAL = 5.0  # seconds: RFC 3550 6.2's minimum report interval
CLOCK_RATE = 8000  # PCMU
SR, RR, SDES, BYE, APP = 200, 201, 202, 203, 204
_NTP_EPOCH = 2208988800  # 1900-01-01 to 1970-01-01 in seconds
_HEADER = struct.Struct("!BBH")
_SEQ_TS_SSRC = struct.Struct("!HII")


def is_rtcp(data: bytes) -> bool:
    """An RTCP packet (version 2, a known packet type; RFC 5761 4's test)."""
    return len(data) >= 8 and data[0] >> 6 == 2 and SR <= data[1] <= APP


def ntp_timestamp(wall: float) -> tuple[int, int]:
    """(seconds, fraction) of the 64-bit NTP timestamp for a Unix time."""
    seconds = int(wall) + _NTP_EPOCH
    fraction = int((wall % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return seconds & 0xFFFFFFFF, fraction


def packets(data: bytes) -> list[tuple[int, int, bytes]]:
    """(packet type, first word after the header (an SSRC), packet) of a compound packet."""
    out: list[tuple[int, int, bytes]] = []
    offset = 0
    while offset + 8 <= len(data):
        first, kind, length = _HEADER.unpack_from(data, offset)
        end = offset + 4 * (length + 1)
        if first >> 6 != 2 or end > len(data):
            break
        out.append((kind, struct.unpack_from("!I", data, offset + 4)[0], data[offset:end]))
        offset = end
    return out


class ReceptionStats:
    """What we heard of the far end's stream, for report blocks (RFC 3550 A.1, A.3, A.8)."""

    __slots__ = (
        "base_seq",
        "cycles",
        "expected_prior",
        "jitter",
        "last_sr",
        "last_sr_at",
        "max_seq",
        "received",
        "received_prior",
        "ssrc",
        "transit",
    )

    def __init__(self) -> None:
        self.ssrc: int | None = None
        self.base_seq = 0
        self.max_seq = 0
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.transit: int | None = None
        self.jitter = 0.0
        self.last_sr = 0  # middle 32 bits of the NTP time of the last SR heard
        self.last_sr_at: float | None = None

    def rtp(self, packet: bytes, arrival: float) -> None:
        if len(packet) < 12:
            return
        seq, timestamp, ssrc = _SEQ_TS_SSRC.unpack_from(packet, 2)
        if ssrc != self.ssrc:  # a new source (or the first): start over
            self.ssrc = ssrc
            self.base_seq = self.max_seq = seq
            self.cycles = self.received = self.received_prior = self.expected_prior = 0
            self.transit = None
            self.jitter = 0.0
        elif 0 < (seq - self.max_seq) & 0xFFFF < 0x8000:  # in order (maybe after a gap)
            if seq < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = seq
        self.received += 1
        transit = (int(arrival * CLOCK_RATE) - timestamp) & 0xFFFFFFFF
        if self.transit is not None:
            delta = (transit - self.transit) & 0xFFFFFFFF  # the timestamp may wrap: mod 2**32
            delta = min(delta, 0x100000000 - delta)
            self.jitter += (delta - self.jitter) / 16
        self.transit = transit

    def sender_report(self, ntp_middle: int, arrival: float) -> None:
        self.last_sr = ntp_middle
        self.last_sr_at = arrival

    def report_block(self, now: float) -> bytes | None:
        """A report block on the far end's stream, or None if it sent nothing since the last."""
        if self.ssrc is None or self.received == self.received_prior:
            return None
        extended_max = self.cycles + self.max_seq
        expected = extended_max - self.base_seq + 1
        lost = max(-0x800000, min(0x7FFFFF, expected - self.received))
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self.last_sr_at is not None:
            dlsr = int((now - self.last_sr_at) * 65536) & 0xFFFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (fraction << 24) | (lost & 0xFFFFFF),
            extended_max & 0xFFFFFFFF,
            int(self.jitter) & 0xFFFFFFFF,
            self.last_sr,
            dlsr,
        )


def _sdes_cname(ssrc: int, cname: bytes) -> bytes:
    item = bytes([1, len(cname)]) + cname
    chunk = struct.pack("!I", ssrc) + item + b"\x00"  # the item list ends with a null octet
    chunk += b"\x00" * (-len(chunk) % 4)
    return _HEADER.pack(0x81, SDES, len(chunk) // 4) + chunk


def compound_report(
    ssrc: int,
    cname: bytes,
    block: bytes | None,
    sender: tuple[float, int, int, int] | None,
) -> bytes:
    """SR (with `sender` = (wall time, RTP timestamp, packets, octets)) or RR, then SDES."""
    count = 1 if block is not None else 0
    body = block or b""
    if sender is not None:
        wall, rtp_ts, sent_packets, sent_octets = sender
        seconds, fraction = ntp_timestamp(wall)
        info = struct.pack(
            "!IIIII", seconds, fraction, rtp_ts & 0xFFFFFFFF, sent_packets, sent_octets
        )
        report = struct.pack("!I", ssrc) + info + body
        kind = SR
    else:
        report = struct.pack("!I", ssrc) + body
        kind = RR
    header = _HEADER.pack(0x80 | count, kind, len(report) // 4)
    return header + report + _sdes_cname(ssrc, cname)


class RtcpEndpoint(asyncio.DatagramProtocol):
    """The RTCP socket of one leg (its RTP port + 1)."""

    def __init__(self, rtp: RtpEndpoint, cname: bytes | None = None) -> None:
        self.rtp = rtp
        self.cname = cname or secrets.token_hex(8).encode("ascii")  # RFC 7022 random CNAME
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.remote: Address | None = None
        self.latched = False
        self.received = 0
        self.sent = 0
        self._sent_packets_at_report = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self.transport.get_extra_info("sockname")[1])
        self._schedule(first=True)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        rtp = self.rtp
        if not is_rtcp(data):
            return
        if rtp.symmetric:
            if not self.latched:
                self.remote = (str(addr[0]), int(addr[1]))  # latch, as RTP does (NAT)
                self.latched = True
        elif rtp.remote is None or addr[0] != rtp.remote[0]:
            return  # only from the far end's media address, like RTP
        self.received += 1
        now = time.monotonic()
        for kind, _ssrc, packet in packets(data):
            if kind == SR and len(packet) >= 16:
                seconds, fraction = struct.unpack_from("!II", packet, 8)
                rtp.reception.sender_report(((seconds & 0xFFFF) << 16) | (fraction >> 16), now)

    def error_received(self, exc: Exception) -> None:
        pass  # a far end without RTCP: nothing to do about it

    def _schedule(self, first: bool = False) -> None:
        interval = RTCP_INTERVAL * (0.5 if first else 1.0) * random.uniform(0.5, 1.5)
        self._timer = asyncio.get_running_loop().call_later(interval, self._report)

    def _report(self) -> None:
        self._schedule()
        rtp = self.rtp
        if self.transport is None or self.remote is None:
            return  # no far end yet
        # (a held stream still gets RTCP: direction does not apply to it, RFC 3264 5.1)
        now = time.monotonic()
        stream = rtp.stream
        sender = None
        if stream.packets > self._sent_packets_at_report and rtp.originated_at is not None:
            elapsed = int((now - rtp.originated_at) * CLOCK_RATE)
            last_timestamp = stream.timestamp - stream.samples
            sender = (time.time(), last_timestamp + elapsed, stream.packets, stream.octets)
        self._sent_packets_at_report = stream.packets
        data = compound_report(stream.ssrc, self.cname, rtp.reception.report_block(now), sender)
        self.transport.sendto(data, self.remote)
        self.sent += 1

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()
