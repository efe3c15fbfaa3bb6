"""The far end's side of SIP dialogs for the adapter tests: answer an INVITE with SDP,
send in-dialog requests, make RTP packets, wait for a condition (bounded)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from sipkit import FarEnd

from dialer.telephony.sip_message import SipMessage, build_message, new_branch

Address = tuple[str, int]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


def sdp(
    port: int, direction: str = "sendrecv", version: int = 1, address: str = "127.0.0.1"
) -> bytes:
    """A phone's SDP (offer or answer): PCMU and telephone-event, the given direction."""
    lines = [
        "v=0",
        f"o=far 77 {version} IN IP4 127.0.0.1",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        f"a={direction}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class Dialog:
    """The far end's side of one answered leg: sends in-dialog requests, ACKs, replies."""

    def __init__(self, far: FarEnd, invite: SipMessage, addr: Address, tag: str) -> None:
        self.far, self.invite, self.addr, self.tag = far, invite, addr, tag
        self.cseq = 1

    def request(self, method: str, body: bytes = b"", cseq: int | None = None) -> None:
        if cseq is None:
            self.cseq += 1
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.far.port};branch={new_branch()}"),
            ("From", f"<sip:far@127.0.0.1:{self.far.port}>;tag={self.tag}"),
            ("To", self.invite.header("From") or ""),
            ("Call-ID", self.invite.call_id),
            ("CSeq", f"{cseq or self.cseq} {method}"),
            ("Contact", f"<sip:far@127.0.0.1:{self.far.port}>"),
        ]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        target = self.invite.contact_uri or ""
        self.far.send(build_message(f"{method} {target} SIP/2.0", headers, body), self.addr)

    async def reinvite(self, body: bytes) -> SipMessage:
        """Send a re-INVITE, return its 200 (after ACKing it)."""
        self.request("INVITE", body)
        while True:
            reply, _ = await self.far.expect("INVITE")
            if reply.is_response and reply.cseq[0] == self.cseq and reply.code >= 200:
                break
        if reply.code == 200:
            self.request("ACK", cseq=self.cseq)
        return reply


async def answer_next(
    far: FarEnd, rtp_port: int, tag: str, *, extra: list[tuple[str, str]] | None = None
) -> Dialog:
    """Answer the next INVITE with our SDP pointing the media at `rtp_port`."""
    invite, addr = await far.expect("INVITE")
    assert not invite.is_response
    headers = [
        ("Contact", f"<sip:far@127.0.0.1:{far.port}>"),
        ("Content-Type", "application/sdp"),
        *(extra or []),
    ]
    far.respond(invite, addr, 200, to_tag=tag, extra=headers, body=sdp(rtp_port))
    await far.expect("ACK")
    return Dialog(far, invite, addr, tag)


def rtp(ssrc: int, seq: int, payload: bytes = b"\xd5" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc) + payload
