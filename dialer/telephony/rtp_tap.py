"""What an audio tap on a leg's RTP gets (recording, answering-machine detection, QA).

A tap is attached to one `RtpEndpoint` (`endpoint.taps`): `received` gets every packet
its far end sends us, `sent` every packet we send it (the other leg's audio relayed, a
played message, silence), each whole (header and payload) with the monotonic time it
passed. `close` comes once, when the endpoint closes (the leg ended). The calls come on
the event loop, once per packet: a tap only queues work, it never blocks or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class RtpTap(Protocol):
    def received(self, packet: bytes, now: float) -> None:
        """A packet from the far end (monotonic `now`)."""

    def sent(self, packet: bytes, now: float) -> None:
        """A packet we sent to the far end, as it went out."""

    def close(self) -> None:
        """The leg ended: no more packets."""


# The trunk asks this for each debtor leg the 200 OK brings up: the engine's call id in,
# a tap for that call (or None: not tapped) out.
TapFactory = Callable[[str], RtpTap | None]


class ReceivedTap:
    """A tap that hands what the far end sends to one function (a DTMF reader, a caller's
    voicemail), and ignores what we send."""

    def __init__(self, on_packet: Callable[[bytes], None]) -> None:
        self._on_packet = on_packet

    def received(self, packet: bytes, now: float) -> None:
        self._on_packet(packet)

    def sent(self, packet: bytes, now: float) -> None:
        pass

    def close(self) -> None:
        pass
