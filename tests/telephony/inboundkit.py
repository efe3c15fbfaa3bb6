"""Helpers for the inbound-call tests: the daemon's side of the trunk's hooks, recorded,
and sipp as a calling debtor (a UAC aimed at the trunk's own SIP port)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from dialogkit import sdp
from sipkit import FarEnd

from dialer.telephony.sip_inbound import InboundOffer
from dialer.telephony.sip_message import SipMessage, build_message, new_branch

Address = tuple[str, int]


class Hooks:
    """Our numbers, and every inbound call the trunk offers (for the test to await)."""

    def __init__(self, numbers: set[str]) -> None:
        self.numbers = numbers
        self.asked: list[str] = []
        self.offers: asyncio.Queue[InboundOffer] = asyncio.Queue()
        self.recordings: dict[str, Path] = {}

    def accepts(self, dialed: str) -> bool:
        self.asked.append(dialed)
        return dialed in self.numbers

    def offered(self, offer: InboundOffer) -> None:
        self.offers.put_nowait(offer)

    def recording(self, call_id: str, path: Path) -> None:
        self.recordings[call_id] = path

    async def next_offer(self, timeout: float = 5) -> InboundOffer:
        return await asyncio.wait_for(self.offers.get(), timeout)


def caller_args(trunk_port: int, dialed: str, caller: str) -> list[str]:
    """sipp's arguments to call `dialed` on the trunk as `caller` (one call)."""
    return [f"127.0.0.1:{trunk_port}", "-s", dialed, "-set", "caller", caller]


def invite(
    far: FarEnd, trunk: Address, dialed: str, caller: str, rtp_port: int, branch: str
) -> SipMessage:
    """Send a caller's INVITE from the Python far end; returns it as the trunk reads it."""
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{far.port};branch={branch}"),
        ("Max-Forwards", "70"),
        ("From", f'"Debtor" <sip:{caller}@127.0.0.1:{far.port}>;tag=caller1'),
        ("To", f"<sip:{dialed}@{trunk[0]}:{trunk[1]}>"),
        ("Call-ID", f"{branch}@far"),
        ("CSeq", "1 INVITE"),
        ("Contact", f"<sip:{caller}@127.0.0.1:{far.port}>"),
        ("Content-Type", "application/sdp"),
    ]
    data = build_message(
        f"INVITE sip:{dialed}@{trunk[0]}:{trunk[1]} SIP/2.0", headers, sdp(rtp_port)
    )
    far.send(data, trunk)
    return SipMessage(data)


def cancel(far: FarEnd, trunk: Address, request: SipMessage) -> None:
    """CANCEL `request` (same branch, Request-URI, From, To, Call-ID, CSeq number)."""
    headers = [
        ("Via", request.values("Via")[0]),
        ("Max-Forwards", "70"),
        ("From", request.header("From") or ""),
        ("To", request.header("To") or ""),
        ("Call-ID", request.call_id),
        ("CSeq", "1 CANCEL"),
    ]
    far.send(build_message(f"CANCEL {request.request_uri} SIP/2.0", headers), trunk)


async def final_response(far: FarEnd, method: str = "INVITE") -> SipMessage:
    """The next final response to `method` (provisionals skipped)."""
    while True:
        reply, _ = await far.expect(method)
        if reply.is_response and reply.code >= 200:
            return reply


def ack_2xx(far: FarEnd, trunk: Address, request: SipMessage, ok: SipMessage) -> None:
    """ACK the trunk's 200 (a new branch, to its Contact, with its To-tag)."""
    assert ok.to_tag
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{far.port};branch={new_branch()}"),
        ("Max-Forwards", "70"),
        ("From", request.header("From") or ""),
        ("To", ok.header("To") or ""),
        ("Call-ID", request.call_id),
        ("CSeq", "1 ACK"),
    ]
    target = ok.contact_uri or request.request_uri
    far.send(build_message(f"ACK {target} SIP/2.0", headers), trunk)


def in_dialog(
    far: FarEnd,
    trunk: Address,
    request: SipMessage,
    ok: SipMessage,
    method: str,
    cseq: int,
    *,
    body: bytes = b"",
    content_type: str | None = None,
) -> None:
    """A request from the caller inside the dialog the trunk's 200 made (BYE, INFO)."""
    headers = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:{far.port};branch={new_branch()}"),
        ("Max-Forwards", "70"),
        ("From", request.header("From") or ""),
        ("To", ok.header("To") or ""),
        ("Call-ID", request.call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    if content_type:
        headers.append(("Content-Type", content_type))
    target = ok.contact_uri or request.request_uri
    far.send(build_message(f"{method} {target} SIP/2.0", headers, body), trunk)


def key_event(ssrc: int, seq: int, timestamp: int, key: int, end: bool) -> bytes:
    """An RFC 4733 telephone-event packet (payload type 101)."""
    flags = 0x80 if end else 0
    payload = struct.pack("!BBH", key, flags | 10, 400)
    return struct.pack("!BBHII", 0x80, 101, seq, timestamp, ssrc) + payload
