"""The SIP UDP socket as an asyncio datagram endpoint (no threads, no blocking receive loop).

pyVoIP binds a blocking socket, reads it from a thread that starts 1 s after `start()`,
and leaves the kernel's default receive buffer, which overflows under a burst of 200
calls' responses. Here the socket is non-blocking, serviced by the event loop from the
moment `open_sip_transport` returns, with SO_RCVBUF raised to the configured size.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from collections.abc import Callable
from typing import cast

from dialer.telephony.sip_log import DEBUG, WARNING, event, log
from dialer.telephony.sip_message import SipMessage, SIPParseError

Address = tuple[str, int]
MessageHandler = Callable[[SipMessage, Address], None]


class SipTransport(asyncio.DatagramProtocol):
    """Receives datagrams, parses them with `SipMessage` and hands them to `handler`."""

    def __init__(self, handler: MessageHandler, on_icmp: Callable[[], None] | None = None) -> None:
        self._handler = handler
        self._on_icmp = on_icmp
        self._transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.sent = 0
        self.parse_errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.received += 1
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive (CRLF) ping
        try:
            message = SipMessage(data)
        except (SIPParseError, ValueError, IndexError, KeyError) as exc:
            self.parse_errors += 1
            event(log, "sip.parse_error", DEBUG, error=type(exc).__name__)  # scanners: no flood
            return
        self._handler(message, (str(addr[0]), int(cast(int, addr[1]))))

    def error_received(self, exc: Exception) -> None:
        """With IP_RECVERR an ICMP error reaches us, without the address it came from: it
        may be a phone that went away or the carrier; the trunk probes the carrier."""
        event(log, "sip.socket_error", DEBUG, error=str(exc))
        if isinstance(exc, ConnectionRefusedError | ConnectionResetError) and self._on_icmp:
            self._on_icmp()

    def send(self, data: bytes, addr: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)
            self.sent += 1

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def local_port(self) -> int:
        if self._transport is None:
            return 0
        return int(self._transport.get_extra_info("sockname")[1])


def raise_receive_buffer(sock: socket.socket, wanted: int) -> int:
    """Raise SO_RCVBUF to `wanted` (SO_RCVBUFFORCE past net.core.rmem_max when permitted).

    Returns the size the kernel reports (Linux reports twice the usable size it sets).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if got < wanted and force is not None:
        with contextlib.suppress(OSError):  # without CAP_NET_ADMIN: what rmem_max allows
            sock.setsockopt(socket.SOL_SOCKET, force, wanted)
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if got < wanted:
        event(
            log,
            "sip.rcvbuf_capped",
            WARNING,
            wanted=wanted,
            got=got,
            hint="raise net.core.rmem_max",
        )
    return int(got)


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (never past the hard limit).

    Every leg holds two sockets (RTP and RTCP), so 400 calls and 200 collectors need about
    1,200 descriptors, past the soft limit of 1,024 that systemd and most shells start
    services with (their hard limit is far higher). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < min(wanted, 4096):  # < ~2,000 legs
        event(log, "sip.nofile_capped", WARNING, wanted=wanted, got=soft, hint="LimitNOFILE=")
    return int(soft)


IP_RECVERR = getattr(socket, "IP_RECVERR", 11)  # Linux; Python does not name it


async def open_sip_transport(
    bind_ip: str,
    port: int,
    recv_buffer: int,
    handler: MessageHandler,
    on_icmp: Callable[[], None] | None = None,
) -> tuple[SipTransport, int]:
    """Bind the SIP socket; returns the endpoint and the effective receive buffer size."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        effective = raise_receive_buffer(sock, recv_buffer)
        sock.bind((bind_ip, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    with contextlib.suppress(OSError):  # ICMP errors reported on an unconnected socket
        sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
    protocol = SipTransport(handler, on_icmp)
    await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
    return protocol, effective


def route_source_ip(destination: str) -> str:
    """The local IP the kernel would use to reach `destination` (UDP connect sends nothing)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((destination, 9))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()
