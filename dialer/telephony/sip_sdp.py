"""SDP offer/answer: PCMU (payload 0) only, telephone-event (101) optional.

The far end's answer is read with pyVoIP's SDP parser (via `SipMessage.body`); a small
fallback reads `c=` and `m=audio` itself when pyVoIP's parser gave up on the body. The
direction attribute (RFC 3264 6.1: media level over session level, sendrecv by default)
and `a=rtcp` (RFC 3605) are read from the body's lines here, whichever parser gave the
address.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dialer.telephony.sip_message import SipMessage

PCMU = 0
TELEPHONE_EVENT = 101
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# RFC 3264 6.1: what the answer says for each offered direction (we always want both ways)
_ANSWER = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


@dataclass(frozen=True, slots=True)
class RemoteMedia:
    address: str
    port: int
    payload_types: tuple[int, ...]
    direction: str = "sendrecv"  # the far end's, from its point of view
    rtcp: tuple[str, int] | None = None  # a=rtcp (RFC 3605), else RTP port + 1

    @property
    def accepts_pcmu(self) -> bool:
        return PCMU in self.payload_types and self.port > 0

    @property
    def on_hold_address(self) -> bool:
        """c=0.0.0.0: the RFC 2543 way of saying "send me nothing" (still seen in the wild)."""
        return self.address == "0.0.0.0"

    @property
    def receives(self) -> bool:
        """Does the far end want our media? (sendrecv/recvonly, a real address, a port)"""
        return (
            self.direction in ("sendrecv", "recvonly")
            and self.port > 0
            and not self.on_hold_address
        )

    @property
    def sends(self) -> bool:
        """Does the far end send media? (sendrecv/sendonly on a live port): only then can
        its silence mean a dead call."""
        return self.direction in ("sendrecv", "sendonly") and self.port > 0

    @property
    def target(self) -> tuple[str, int]:
        return self.address, self.port

    @property
    def rtcp_target(self) -> tuple[str, int]:
        return self.rtcp or (self.address, self.port + 1)


def answer_direction(offered: str) -> str:
    """Our answer's direction for an offered one (RFC 3264 6.1)."""
    return _ANSWER.get(offered, "sendrecv")


def build_sdp(
    ip: str,
    rtp_port: int,
    session_id: int,
    *,
    version: int = 1,
    direction: str = "sendrecv",
) -> bytes:
    """Our SDP (offer in INVITEs, answer to re-INVITEs): PCMU and telephone-event."""
    if direction not in DIRECTIONS:
        raise ValueError(f"not an SDP direction: {direction}")
    lines = [
        "v=0",
        f"o=dialer {session_id} {version} IN IP4 {ip}",
        "s=dialer",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {rtp_port} RTP/AVP {PCMU} {TELEPHONE_EVENT}",
        f"a=rtpmap:{PCMU} PCMU/8000",
        f"a=rtpmap:{TELEPHONE_EVENT} telephone-event/8000",
        f"a=fmtp:{TELEPHONE_EVENT} 0-15",
        "a=ptime:20",
        f"a={direction}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _attributes(body: bytes, address: str) -> tuple[str, tuple[str, int] | None]:
    """(direction, rtcp address) of the first audio stream: media level over session level."""
    session_direction = "sendrecv"
    direction: str | None = None
    rtcp: tuple[str, int] | None = None
    section = "session"
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("m="):
            if section == "audio":
                break  # only the first audio stream is ours
            section = "audio" if line.startswith("m=audio ") else "other"
            continue
        if not line.startswith("a=") or section == "other":
            continue
        name, _, value = line[2:].partition(":")
        if name in DIRECTIONS:
            if section == "session":
                session_direction = name
            else:
                direction = name
        elif name == "rtcp" and section == "audio":
            parts = value.split()
            if parts and parts[0].isdigit():
                host = parts[3] if len(parts) >= 4 and parts[1:3] == ["IN", "IP4"] else address
                rtcp = (host, int(parts[0]))
    return direction or session_direction, rtcp


def _from_pyvoip(body: dict[str, Any]) -> RemoteMedia | None:
    connections = body.get("c") or []
    media = [m for m in body.get("m") or [] if m.get("type") == "audio"]
    if not connections or not media:
        return None
    address = str(connections[-1]["address"])
    audio = media[0]
    formats = tuple(int(f) for f in audio.get("methods", []) if str(f).isdigit())
    return RemoteMedia(address, int(audio["port"]), formats)


def _fallback(body: bytes) -> RemoteMedia | None:
    address: str | None = None
    port: int | None = None
    formats: tuple[int, ...] = ()
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("c=") and len(line.split()) >= 3:
            address = line.split()[2].split("/", 1)[0]
        elif line.startswith("m=audio ") and port is None:
            parts = line[2:].split()
            if len(parts) >= 3 and parts[1].split("/", 1)[0].isdigit():
                port = int(parts[1].split("/", 1)[0])
                formats = tuple(int(f) for f in parts[3:] if f.isdigit())
    if address is None or port is None:
        return None
    return RemoteMedia(address, port, formats)


def remote_media(message: SipMessage) -> RemoteMedia | None:
    """Where the far end wants our RTP, or None when the message carries no usable SDP."""
    if not message.body_bytes:
        return None
    media: RemoteMedia | None = None
    if not message.sdp_error:
        try:
            media = _from_pyvoip(message.body)
        except (KeyError, ValueError, TypeError):
            media = None
    media = media or _fallback(message.body_bytes)
    if media is None:
        return None
    direction, rtcp = _attributes(message.body_bytes, media.address)
    return replace(media, direction=direction, rtcp=rtcp)
