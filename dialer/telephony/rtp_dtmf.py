"""DTMF from a caller: RFC 4733 telephone-events in RTP, and SIP INFO as a fallback.

A key press is sent as a run of telephone-event packets that share one RTP timestamp (the
event's start), the last ones (usually three) with the end bit set. A key is reported once
per event, on its first packet, so a retransmitted end packet or a long press is one key;
two presses of the same key are two events with two timestamps.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dialer.telephony.rtp_packet import RtpHeader, rtp_payload

EVENT_KEYS = "0123456789*#ABCD"  # RFC 4733 3.2: events 0-15
_EVENT = struct.Struct("!BBH")


class DtmfDetector:
    """Feeds on a leg's incoming RTP; calls `on_key` with each new key ('0'-'9', '*', '#')."""

    def __init__(self, on_key: Callable[[str], None], payload_types: tuple[int, ...]) -> None:
        self._on_key = on_key
        self._payload_types = payload_types  # what the caller's SDP named telephone-event
        self._last: tuple[int, int] | None = None  # (ssrc, timestamp) of the last event

    def packet(self, packet: bytes) -> None:
        try:
            header = RtpHeader.parse(packet)
        except ValueError:
            return
        if header.payload_type not in self._payload_types:
            return
        payload = rtp_payload(packet)
        if len(payload) < _EVENT.size:
            return
        code, _flags, _duration = _EVENT.unpack_from(payload)
        if code >= len(EVENT_KEYS):
            return  # a tone event (flash, fax), not a key
        start = (header.ssrc, header.timestamp)
        if start == self._last:
            return  # the same press, continued or ended
        self._last = start
        self._on_key(EVENT_KEYS[code])


def info_key(content_type: str | None, body: bytes) -> str | None:
    """The key in a SIP INFO: application/dtmf-relay ("Signal=1") or application/dtmf ("1")."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    text = body.decode("ascii", "replace").strip()
    if kind == "application/dtmf-relay":
        for line in text.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal" and value.strip():
                key = value.strip()[0].upper()
                return key if key in EVENT_KEYS else None
        return None
    if kind == "application/dtmf" and text:
        if text.isdigit() and int(text) < len(EVENT_KEYS):
            return EVENT_KEYS[int(text)]
        return text[0] if text[0] in EVENT_KEYS else None
    return None


def telephone_event_types(body: bytes) -> tuple[int, ...]:
    """The payload types an SDP body maps to telephone-event/8000 (101 if it names none)."""
    found: list[int] = []
    for raw in body.decode("utf-8", "replace").splitlines():
        line = raw.strip().lower()
        if line.startswith("a=rtpmap:") and "telephone-event/8000" in line:
            number = line[len("a=rtpmap:") :].split()[0]
            if number.isdigit():
                found.append(int(number))
    return tuple(found) or (101,)
