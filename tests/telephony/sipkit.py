"""Helpers for the SIP adapter tests: sipp far ends, a scriptable Python far end, waits.

sipp runs as a subprocess on 127.0.0.1 with a free port; readiness is polled (its UDP port
shows up in /proc/net/udp) under a bounded wait; the fixtures kill every sipp at teardown.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from dialer.domain.events import CallInviteSent
from dialer.telephony.port import TrunkEvent
from dialer.telephony.sip import SipTrunk
from dialer.telephony.sip_message import SipMessage, build_response
from dialer.telephony.sip_settings import SipTrunkSettings

SCENARIOS = Path(__file__).parent / "scenarios"
Address = tuple[str, int]
TrunkFactory = Callable[..., Awaitable[tuple[SipTrunk, asyncio.Queue[TrunkEvent]]]]
SippFactory = Callable[..., Awaitable["Sipp"]]
RtpPeerFactory = Callable[[], Awaitable["RtpPeer"]]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_bound(port: int) -> bool:
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1]
            if int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


@dataclass
class Sipp:
    """One sipp UAS process."""

    binary: str
    scenario: Path
    calls: int
    workdir: Path
    rtpport: int = 0
    extra: list[str] = field(default_factory=list)
    port: int = 0
    proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Sipp:
        self.port = free_udp_port()
        args = [
            "-sf", str(self.scenario), "-i", "127.0.0.1", "-p", str(self.port),
            "-m", str(self.calls), "-nostdin", "-trace_err",
            "-mp", str(free_udp_port()), "-cp", str(free_udp_port()),
            "-timeout", "120s", *self.extra,
        ]  # fmt: skip
        if "$rtpport" in self.scenario.read_text():  # where the SDP answer points the media
            args += ["-set", "rtpport", str(self.rtpport or free_udp_port())]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            self.binary,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.workdir,
        )

        async def ready() -> None:
            while not udp_port_bound(self.port):
                if self.proc is not None and self.proc.returncode is not None:
                    raise RuntimeError(f"sipp exited early:\n{self.errors()}")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(ready(), 10)
        return self

    async def wait(self, timeout: float = 20) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def errors(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("*_errors.log"))

    async def assert_all_calls_passed(self, timeout: float = 20) -> None:
        code = await self.wait(timeout)
        assert code == 0, f"sipp exit status {code}; its error log:\n{self.errors()[-4000:]}"

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def trunk_settings(port: int, **overrides: Any) -> SipTrunkSettings:
    base: dict[str, Any] = {
        "server": "127.0.0.1",
        "port": port,
        "local_ip": "127.0.0.1",
        "calls_per_second": 500,
    }
    base.update(overrides)
    return SipTrunkSettings(**base)


async def next_event(
    events: asyncio.Queue[TrunkEvent], timeout: float = 10, *, invite_sent: bool = False
) -> TrunkEvent:
    """The next call-progress event; `CallInviteSent` (one per INVITE that left the pacer)
    is skipped unless `invite_sent` asks for it."""

    async def get() -> TrunkEvent:
        while True:
            got = await events.get()
            if invite_sent or not isinstance(got, CallInviteSent):
                return got

    return await asyncio.wait_for(get(), timeout)


class FarEnd(asyncio.DatagramProtocol):
    """A scriptable far end in Python: records what arrives, answers what the test says."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[SipMessage, Address, float]] = asyncio.Queue()
        self.log: list[tuple[SipMessage, float]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        now = asyncio.get_running_loop().time()
        message = SipMessage(data)
        self.log.append((message, now))
        self.messages.put_nowait((message, (str(addr[0]), int(addr[1])), now))

    async def expect(self, method: str, timeout: float = 5) -> tuple[SipMessage, Address]:
        """The next request with this method (others are skipped) or response to it."""

        async def find() -> tuple[SipMessage, Address]:
            while True:
                message, addr, _ = await self.messages.get()
                if message.method == method or (message.is_response and message.cseq[1] == method):
                    return message, addr

        return await asyncio.wait_for(find(), timeout)

    def respond(self, request: SipMessage, addr: Address, code: int, **kw: Any) -> bytes:
        data = build_response(request, code, **kw)
        assert self.transport is not None
        self.transport.sendto(data, addr)
        return data

    def send(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    def requests(self, method: str) -> list[SipMessage]:
        return [m for m, _ in self.log if m.method == method]


class RtpPeer(asyncio.DatagramProtocol):
    """A far end's RTP socket: keeps what arrives (with the sender) for the test to read."""

    def __init__(self) -> None:
        self.packets: asyncio.Queue[tuple[bytes, Address, float]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = int(self.transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        now = asyncio.get_running_loop().time()
        self.packets.put_nowait((data, (str(addr[0]), int(addr[1])), now))

    def send(self, data: bytes, addr: Address) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)

    async def next(self, timeout: float = 5) -> tuple[bytes, Address, float]:
        return await asyncio.wait_for(self.packets.get(), timeout)

    def drain(self) -> None:
        while not self.packets.empty():
            self.packets.get_nowait()


async def open_rtp_peer() -> tuple[RtpPeer, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    peer = RtpPeer()
    transport, _ = await loop.create_datagram_endpoint(lambda: peer, local_addr=("127.0.0.1", 0))
    return peer, transport
