"""RTP forwarding between a debtor's leg and a collector's nailed-up leg (asyncio datagrams).

Each leg owns one UDP socket (an `RtpEndpoint`); it only takes packets from the IP its far
end's SDP named (or, with `rtp_symmetric`, from the first source it hears, for NAT).
Bridging points the two endpoints at
each other: a packet arriving on one is sent from the other to that leg's far end, its
PCMU payload untouched and its header carried on in that leg's own stream (one SSRC per
leg for the whole call, sequence and timestamp continuing: rtp_packet.RtpStream.relay).
An unbridged collector leg is fed PCMU silence every 20 ms from a single loop timer, so
the phone hears silence, not a dead line. Nothing here goes through
pyVoIP's audio API, which converts to 8-bit linear PCM and audibly degrades speech.

A far end that put us on hold (its SDP says sendonly or inactive, or c=0.0.0.0) gets no
media from us at all (`sending` is false): not the other side's speech, not silence, not
the safe harbor. Each endpoint has its RTCP socket on port + 1 (`rtp_rtcp.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from dialer.telephony.rtp_packet import PACKET_INTERVAL, PCMU_SILENCE, RtpStream
from dialer.telephony.rtp_rtcp import ReceptionStats, RtcpEndpoint

Address = tuple[str, int]


class RtpEndpoint(asyncio.DatagramProtocol):
    """One leg's RTP socket; forwards whatever arrives to its peer's far end when bridged."""

    def __init__(self, symmetric: bool = False) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.remote: Address | None = None  # where the far end wants our RTP
        self.peer: RtpEndpoint | None = None
        self.symmetric = symmetric
        self.stream = RtpStream()  # for what we originate (silence, safe harbor)
        self.latched = False  # symmetric: `remote` is where the far end's RTP came from
        self.sending = True  # false while the far end refuses our media (on hold)
        self.rtcp: RtcpEndpoint | None = None
        self.reception = ReceptionStats()  # the far end's stream, for our RTCP reports
        self.originated_at: float | None = None  # when we last sent a packet of our own
        self.received = 0
        self.last_received_at: float | None = None  # monotonic: for dead-call detection
        self.sent = 0
        self.first_forward_at: float | None = None
        # who else reads what the far end sends (DTMF, a voicemail), bridged or not
        self.taps: list[Callable[[bytes], None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        remote = self.remote
        if self.symmetric:
            if not self.latched:
                self.remote = (str(addr[0]), int(addr[1]))  # latch onto the far end (NAT)
                self.latched = True
        elif remote is None or addr[0] != remote[0]:
            return  # not from the far end's media address: nobody injects into a bridge
        self.received += 1
        now = time.monotonic()
        self.last_received_at = now
        self.reception.rtp(data, now)  # for our own RTCP reports, bridged or not
        for tap in self.taps:
            tap(data)
        peer = self.peer
        if peer is not None and peer.sending and peer.remote is not None and peer.transport:
            peer.transport.sendto(peer.stream.relay(data, now), peer.remote)
            peer.sent += 1
            peer.originated_at = now
            if peer.first_forward_at is None:
                peer.first_forward_at = asyncio.get_running_loop().time()

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable from a far end that went away: the SIP side notices

    def point_at(
        self, media: Address | None, rtcp: Address | None, sending: bool, *, relatch: bool = False
    ) -> None:
        """Follow the far end's SDP: where its RTP and RTCP go, and whether it wants ours.

        `None` keeps the current address (a hold with c=0.0.0.0 names none). A symmetric
        leg keeps the source it latched onto unless `relatch` (the SDP moved the media)."""
        if relatch:
            self.latched = False
            if self.rtcp is not None:
                self.rtcp.latched = False
        if media is not None and not self.latched:
            self.remote = media
        if rtcp is not None and self.rtcp is not None and not self.rtcp.latched:
            self.rtcp.remote = rtcp
        self.sending = sending

    def send(self, packet: bytes) -> None:
        """Send a packet we originate (silence, safe harbor); nothing while on hold."""
        if self.transport is not None and self.remote is not None and self.sending:
            self.transport.sendto(packet, self.remote)
            self.sent += 1
            self.originated_at = time.monotonic()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.rtcp is not None:
            self.rtcp.close()


class RtpPortPool:
    """Binds RTP sockets on even ports of the configured range, round robin, each with its
    RTCP socket on the odd port above it (RFC 3550 11)."""

    def __init__(self, bind_ip: str, low: int, high: int, symmetric: bool = False) -> None:
        self._bind_ip = bind_ip
        self._ports = list(range(low + (low & 1), high, 2))
        self._cursor = 0
        self._in_use: set[int] = set()
        self._symmetric = symmetric

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    async def open(self) -> RtpEndpoint:
        loop = asyncio.get_running_loop()
        for _ in range(len(self._ports)):
            port = self._ports[self._cursor]
            self._cursor = (self._cursor + 1) % len(self._ports)
            if port in self._in_use:
                continue
            endpoint = RtpEndpoint(self._symmetric)
            rtcp = RtcpEndpoint(endpoint)
            try:
                await loop.create_datagram_endpoint(
                    lambda ep=endpoint: ep,  # type: ignore[misc]
                    local_addr=(self._bind_ip, port),
                )
            except OSError:
                continue
            try:
                await loop.create_datagram_endpoint(
                    lambda ep=rtcp: ep,  # type: ignore[misc]
                    local_addr=(self._bind_ip, port + 1),
                )
            except OSError:
                endpoint.close()  # its RTCP port is taken: the pair is not usable
                continue
            endpoint.rtcp = rtcp
            self._in_use.add(port)
            return endpoint
        raise OSError("no free RTP port in rtp_port_range")

    def release(self, endpoint: RtpEndpoint) -> None:
        self._in_use.discard(endpoint.port)
        endpoint.close()


class RtpForwarder:
    """Which legs are bridged, and the silence that idle collector legs hear."""

    def __init__(self) -> None:
        self._idle: set[RtpEndpoint] = set()
        self._collectors: set[RtpEndpoint] = set()
        self._ticker: asyncio.Handle | None = None
        self._next_tick = 0.0

    def add_collector(self, endpoint: RtpEndpoint) -> None:
        self._collectors.add(endpoint)
        if endpoint.peer is None:
            self._idle.add(endpoint)
            self._ensure_ticker()

    def remove(self, endpoint: RtpEndpoint) -> None:
        self.unbridge(endpoint)
        self._collectors.discard(endpoint)
        self._idle.discard(endpoint)

    def bridge(self, debtor: RtpEndpoint, collector: RtpEndpoint) -> None:
        self.unbridge(debtor)
        self.unbridge(collector)
        debtor.peer = collector
        collector.peer = debtor
        debtor.stream.end_relay()
        collector.stream.end_relay()
        collector.first_forward_at = None
        self._idle.discard(collector)

    def unbridge(self, endpoint: RtpEndpoint) -> None:
        peer = endpoint.peer
        endpoint.peer = None
        if peer is not None:
            peer.peer = None
        for leg in (endpoint, peer):
            if leg is not None and leg in self._collectors and leg not in self._idle:
                leg.stream.marker = True  # silence resumes: a new talkspurt for the phone
                self._idle.add(leg)
        if self._idle:
            self._ensure_ticker()

    def _ensure_ticker(self) -> None:
        if self._ticker is None:
            loop = asyncio.get_running_loop()
            self._next_tick = loop.time()
            self._ticker = loop.call_soon(self._tick)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for endpoint in self._idle:
            endpoint.send(endpoint.stream.packet(PCMU_SILENCE, now))
        if not self._idle:
            self._ticker = None
            return
        self._next_tick = max(self._next_tick + PACKET_INTERVAL, now)
        self._ticker = loop.call_at(self._next_tick, self._tick)

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._idle.clear()
        self._collectors.clear()
