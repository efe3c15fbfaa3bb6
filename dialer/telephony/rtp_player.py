"""Streams a PCMU file to one leg as RTP: 20 ms packets of 160 bytes, paced by loop timers.

Packets are scheduled against the start time (t0 + n * 20 ms), so timer jitter does not
accumulate into drift; sequence numbers and timestamps advance by 1 and 160 per packet.

The end is reported (and the trunk sends BYE) only once the far end has had time to play
the last packet out: its play-out time is the message's duration after the first packet
(t0 + n * 20 ms) plus the far end's jitter buffer, allowed for with `PLAYOUT_ALLOWANCE`.
A BYE 20 ms after the last packet left cut off the tail on phones with a jitter buffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.rtp_packet import PACKET_INTERVAL, SAMPLES_PER_PACKET

# the far end's jitter buffer: phones and carriers' SBCs hold 40-200 ms before play-out
PLAYOUT_ALLOWANCE = 0.200


def pcmu_frames(audio: bytes) -> list[bytes]:
    """160-byte frames of `audio`, the last one padded with PCMU silence (0xFF)."""
    frames = [audio[i : i + SAMPLES_PER_PACKET] for i in range(0, len(audio), SAMPLES_PER_PACKET)]
    if frames and len(frames[-1]) < SAMPLES_PER_PACKET:
        frames[-1] = frames[-1].ljust(SAMPLES_PER_PACKET, b"\xff")
    return frames


class RtpPlayer:
    def __init__(
        self, endpoint: RtpEndpoint, frames: list[bytes], on_done: Callable[[], None]
    ) -> None:
        self._endpoint = endpoint
        self._frames = frames
        self._on_done = on_done
        self._index = 0
        self._start = 0.0
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self.finished = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._start = loop.time()
        self._handle = loop.call_soon(self._tick)

    @property
    def ends_at(self) -> float:
        """Loop time at which the far end has played the whole message out."""
        return self._start + len(self._frames) * PACKET_INTERVAL + PLAYOUT_ALLOWANCE

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        if self._index >= len(self._frames):
            self._handle = None
            self.finished = True
            self._on_done()
            return
        self._endpoint.send(self._endpoint.stream.packet(self._frames[self._index]))
        self._index += 1
        if self._index < len(self._frames):
            self._handle = loop.call_at(self._start + self._index * PACKET_INTERVAL, self._tick)
        else:  # the last one is out: wait for its play-out before reporting the end
            self._handle = loop.call_at(self.ends_at, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def packets_sent(self) -> int:
        return self._index
