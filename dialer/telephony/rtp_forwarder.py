"""RTP forwarding between a debtor's leg and a collector's nailed-up leg (asyncio datagrams).

Each leg owns one UDP socket (an `RtpEndpoint`); it only takes packets from the IP its far
end's SDP named (or, with `rtp_symmetric`, from the first source it hears, for NAT).
Bridging points the two endpoints at
each other: a packet arriving on one is sent, byte for byte, from the other to that leg's
far end (only the addressing changes: PCMU payload, SSRC, sequence and timestamp pass
through untouched). An unbridged collector leg is fed PCMU silence every 20 ms from a
single loop timer, so the phone hears silence, not a dead line. Nothing here goes through
pyVoIP's audio API, which converts to 8-bit linear PCM and audibly degrades speech.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from dialer.telephony.rtp_packet import PACKET_INTERVAL, PCMU_SILENCE, RtpStream

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
        self.received = 0
        self.sent = 0
        self.first_forward_at: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        remote = self.remote
        if self.symmetric:
            if self.received == 0:
                self.remote = (str(addr[0]), int(addr[1]))  # latch onto the far end (NAT)
        elif remote is None or addr[0] != remote[0]:
            return  # not from the far end's media address: nobody injects into a bridge
        self.received += 1
        peer = self.peer
        if peer is not None and peer.remote is not None and peer.transport is not None:
            peer.transport.sendto(data, peer.remote)
            peer.sent += 1
            if peer.first_forward_at is None:
                peer.first_forward_at = asyncio.get_running_loop().time()

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP unreachable from a far end that went away: the SIP side notices

    def send(self, packet: bytes) -> None:
        if self.transport is not None and self.remote is not None:
            self.transport.sendto(packet, self.remote)
            self.sent += 1

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class RtpPortPool:
    """Binds RTP sockets on even ports of the configured range, round robin."""

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
            try:
                await loop.create_datagram_endpoint(
                    lambda ep=endpoint: ep,  # type: ignore[misc]
                    local_addr=(self._bind_ip, port),
                )
            except OSError:
                continue
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
