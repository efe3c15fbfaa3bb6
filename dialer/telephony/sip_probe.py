"""Is the carrier there? One OPTIONS to the server, from a socket of its own.

The probe's socket is *connected* to the server, so the kernel reports an ICMP port
unreachable from that address (and only that address) as ECONNREFUSED: a refused probe
means the server's port is closed, not that some phone went away. The trunk's own socket
is unconnected and hears of ICMP only through IP_RECVERR without the offender's address,
which is why such an error only triggers a probe (dialer.telephony.sip).

Any response at all (200, 401, 404, 405 …) means a SIP server is listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from enum import StrEnum
from typing import cast

from dialer.telephony.sip_message import (
    ALLOW,
    SipMessage,
    build_message,
    new_branch,
    new_call_id,
    new_tag,
)

Address = tuple[str, int]
T2 = 4.0


class ProbeResult(StrEnum):
    ANSWERED = "answered"
    REFUSED = "unreachable"  # ICMP port unreachable: nothing listens there
    TIMEOUT = "probe_timeout"


class _ProbeSocket(asyncio.DatagramProtocol):
    def __init__(self, branch: str) -> None:
        self.branch = branch
        self.result: asyncio.Future[ProbeResult] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        with contextlib.suppress(Exception):  # anything unparsable is not our answer
            message = SipMessage(data)
            if message.is_response and message.top_branch == self.branch:
                self._settle(ProbeResult.ANSWERED)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            self._settle(ProbeResult.REFUSED)

    def _settle(self, result: ProbeResult) -> None:
        if not self.result.done():
            self.result.set_result(result)


def options_request(server: Address, domain: str, local: Address, branch: str, ua: str) -> bytes:
    host, port = local
    headers = [
        ("Via", f"SIP/2.0/UDP {host}:{port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:dialer@{domain}>;tag={new_tag()}"),
        ("To", f"<sip:{domain}>"),
        ("Call-ID", new_call_id(host)),
        ("CSeq", "1 OPTIONS"),
        ("Contact", f"<sip:dialer@{host}:{port}>"),
        ("Accept", "application/sdp"),
        ("Allow", ALLOW),
        ("User-Agent", ua),
    ]
    return build_message(f"OPTIONS sip:{domain} SIP/2.0", headers)


async def probe_server(
    server: Address,
    domain: str,
    *,
    local_ip: str,
    t1: float,
    timeout: float,
    user_agent: str,
) -> ProbeResult:
    """Send OPTIONS (retransmitted on T1, doubling to T2) until an answer, an ICMP refusal
    or `timeout` seconds."""
    loop = asyncio.get_running_loop()
    branch = new_branch()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((local_ip, 0))
        sock.connect(server)
        sock.setblocking(False)
    except OSError:
        sock.close()
        return ProbeResult.REFUSED
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _ProbeSocket(branch), sock=sock
    )
    try:
        local = cast(Address, sock.getsockname())
        data = options_request(server, domain, (str(local[0]), int(local[1])), branch, user_agent)
        deadline = loop.time() + timeout
        interval = t1
        while not protocol.result.done():
            with contextlib.suppress(OSError):  # ECONNREFUSED on send: error_received has it
                transport.sendto(data)
            left = deadline - loop.time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(protocol.result), min(interval, left))
            interval = min(interval * 2, T2)
        return protocol.result.result() if protocol.result.done() else ProbeResult.TIMEOUT
    finally:
        transport.close()
