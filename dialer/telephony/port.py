"""The trunk port: what the daemon needs from a carrier connection.

Adapters (simulated.py, sip.py) implement it. Call progress comes back as domain events
(`CallRinging`, `CallAnswered`, `CallFailed`, `CallHungUp`) put on the queue handed to
`start`; SIP-like cause codes ride on them. Nothing here may block the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallInviteSent,
    CallRinging,
    InboundCallerChose,
    VoicemailLeft,
)

TrunkEvent = (
    CallInviteSent
    | CallRinging
    | CallAnswered
    | CallFailed
    | CallHungUp
    | InboundCallerChose
    | VoicemailLeft
)


class Trunk(Protocol):
    async def start(self, events: asyncio.Queue[TrunkEvent]) -> None:
        """Connect (register if configured) and begin delivering call events to `events`."""

    async def stop(self) -> None:
        """Hang up everything still up and release sockets and threads."""

    async def originate(self, call_id: str, number: str, ring_timeout: float) -> None:
        """Place a call. Returns once the attempt is launched, not when it is answered."""

    async def cancel(self, call_id: str) -> None:
        """Cancel a call not yet answered; a `CallFailed(no_answer, 487)` follows."""

    async def hangup(self, call_id: str) -> None:
        """Hang up an answered call; a `CallHungUp` follows."""

    async def bridge(self, call_id: str, collector_id: str) -> None:
        """Connect an answered call's audio to the collector's leg."""

    async def play_safe_harbor(self, call_id: str) -> None:
        """Play the safe-harbor message to the debtor, then hang up."""

    async def leave_voicemail(self, call_id: str) -> None:
        """An answering machine: after its greeting, play the campaign's message and hang
        up; `VoicemailLeft` follows (instead of `CallHungUp`)."""

    async def queue_inbound(self, call_id: str) -> None:
        """Answer an inbound call and play the queue message, then hold audio."""

    async def offer_callback(self, call_id: str) -> None:
        """Play the callback offer to an inbound caller; `InboundCallerChose` follows."""

    async def collector_login(self, collector_id: str, address: str | None) -> None:
        """Bring up the collector's nailed-up leg (no-op for simulated collectors)."""

    async def collector_logout(self, collector_id: str) -> None:
        """Tear down the collector's leg."""

    @property
    def registered(self) -> bool:
        """Whether the trunk is registered / usable (for metrics and health)."""

    @property
    def down_reason(self) -> str | None:
        """Why the trunk cannot place calls, in words for a manager; None while it can."""
