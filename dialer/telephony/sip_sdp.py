"""SDP offer/answer: PCMU (payload 0) only, telephone-event (101) optional.

The far end's answer is read with pyVoIP's SDP parser (via `SipMessage.body`); a small
fallback reads `c=` and `m=audio` itself when pyVoIP's parser gave up on the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialer.telephony.sip_message import SipMessage

PCMU = 0
TELEPHONE_EVENT = 101


@dataclass(frozen=True, slots=True)
class RemoteMedia:
    address: str
    port: int
    payload_types: tuple[int, ...]

    @property
    def accepts_pcmu(self) -> bool:
        return PCMU in self.payload_types and self.port > 0

    @property
    def target(self) -> tuple[str, int]:
        return self.address, self.port


def build_sdp(ip: str, rtp_port: int, session_id: int, *, version: int = 1) -> bytes:
    """Our SDP (offer in INVITEs, answer to re-INVITEs): PCMU and telephone-event."""
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
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


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
    return media or _fallback(message.body_bytes)
