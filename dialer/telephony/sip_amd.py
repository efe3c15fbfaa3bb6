"""Answering-machine detection and voicemail drops on the SIP trunk's debtor legs.

With AMD on for the call's campaign, the 200 OK does not report the answer at once: the
debtor's audio is fed to a classifier (dialer.media, through the `AmdListener` shape, so
telephony does not import media) and `CallAnswered` goes out at its verdict, with the
verdict and its time. Nobody is bridged while it listens: the debtor hears silence, as
with every AMD; under US TSR the 2 s connect grace runs from the verdict, the end of the
greeting for a person.

`LeaveVoicemail` (a machine, on a campaign that drops messages): wait for the greeting's
end (the beep, or silence after speech; the classifier says which), play the campaign's
message, hang up. When the leg ends the trunk reports `VoicemailLeft` instead of
`CallHungUp`: `left` only if the whole message was played out before the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from dialer.domain.calls import AmdVerdict
from dialer.domain.events import CallAnswered, CallHungUp, VoicemailLeft
from dialer.telephony.port import TrunkEvent
from dialer.telephony.rtp_packet import PCMU_PAYLOAD, payload_type, rtp_payload
from dialer.telephony.rtp_player import RtpPlayer, pcmu_frames
from dialer.telephony.rtp_tap import ReceivedTap
from dialer.telephony.sip_leg import SipLeg
from dialer.telephony.sip_log import DEBUG, INFO, event, log

# Extra time for the verdict beyond the classifier's own analysis time: packets arrive in
# real time, and a far end that sends no RTP at all must still be decided (notsure).
VERDICT_SLACK = 1.5


class AmdDecisionLike(Protocol):
    @property
    def verdict(self) -> AmdVerdict: ...

    @property
    def seconds(self) -> float: ...


class GreetingEndLike(Protocol):
    @property
    def seconds(self) -> float: ...

    @property
    def cause(self) -> str: ...


class AmdListener(Protocol):
    """One call's classifier (dialer.media.amd_pool.AmdSession has this shape)."""

    def feed(self, ulaw: bytes) -> None: ...

    async def verdict(self, timeout: float | None = None) -> AmdDecisionLike: ...

    async def greeting_end(self, timeout: float | None = None) -> GreetingEndLike: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Screening:
    """What the daemon gives for a call whose campaign uses AMD: its listener, how long a
    verdict may take, how long to wait for a machine's greeting to end, and the drop's
    message (μ-law; None: the campaign hangs up on machines)."""

    listener: AmdListener
    verdict_timeout: float
    greeting_timeout: float
    message: bytes | None = None


# call id -> the call's screening, or None: AMD is off for its campaign
ScreeningFactory = Callable[[str], Screening | None]
# cause codes of greeting ends that mean the greeting is over (the rest: gave up waiting)
_GREETING_OVER = frozenset({"beep", "silence"})


@dataclass(slots=True)
class _Screened:
    leg: SipLeg
    screening: Screening
    answered_at: float
    task: asyncio.Task[None] | None = None
    player: RtpPlayer | None = None
    dropping: bool = False
    message_played: bool = False
    reason: str | None = None
    extra: list[asyncio.Task[None]] = field(default_factory=list)


class AnswerScreen:
    """The trunk's AMD and voicemail drops: one entry per screened debtor leg."""

    def __init__(
        self,
        factory: ScreeningFactory,
        emit: Callable[[TrunkEvent], None],
        hang_up: Callable[[SipLeg], None],
    ) -> None:
        self._factory = factory
        self._emit = emit
        self._hang_up = hang_up
        self._calls: dict[str, _Screened] = {}

    def answered(self, leg: SipLeg) -> bool:
        """A debtor leg's 200 OK: True when its answer is screened (reported later)."""
        if leg.rtp is None:
            return False
        screening = self._factory(leg.key)
        if screening is None:
            return False
        loop = asyncio.get_running_loop()
        entry = _Screened(leg, screening, loop.time())
        self._calls[leg.key] = entry

        def feed(packet: bytes) -> None:
            if payload_type(packet) == PCMU_PAYLOAD:  # not DTMF events or comfort noise
                screening.listener.feed(rtp_payload(packet))

        leg.rtp.taps.append(ReceivedTap(feed))
        entry.task = loop.create_task(self._decide(entry))
        return True

    async def _decide(self, entry: _Screened) -> None:
        decision = await entry.screening.listener.verdict(entry.screening.verdict_timeout)
        key = entry.leg.key
        if self._calls.get(key) is not entry:
            return  # ended meanwhile: its end was reported
        machine = decision.verdict is AmdVerdict.MACHINE
        if not machine or entry.screening.message is None:
            entry.screening.listener.close()  # nothing more to learn from its audio
        event(
            log,
            "sip.amd_verdict",
            INFO,
            call=key,
            verdict=decision.verdict.value,
            seconds=round(decision.seconds, 2),
        )
        self._emit(CallAnswered(key, machine, decision.verdict, decision.seconds))

    def screening(self, call_id: str) -> bool:
        """Still deciding: the engine has not been told of the answer."""
        entry = self._calls.get(call_id)
        return entry is not None and entry.task is not None and not entry.task.done()

    def leave_voicemail(self, call_id: str) -> bool:
        """Drop the campaign's message after the greeting; False if the call is unknown
        (ended, or never screened), so the caller can report it."""
        entry = self._calls.get(call_id)
        if entry is None or entry.dropping:
            return False
        entry.dropping = True
        if entry.screening.message is None:
            entry.reason = "no_message"
            self._hang_up(entry.leg)
            return True
        entry.extra.append(asyncio.get_running_loop().create_task(self._drop(entry)))
        return True

    async def _drop(self, entry: _Screened) -> None:
        screening = entry.screening
        end = await screening.listener.greeting_end(screening.greeting_timeout)
        screening.listener.close()
        if self._calls.get(entry.leg.key) is not entry:
            return
        if str(end.cause) not in _GREETING_OVER:
            entry.reason = f"greeting_{end.cause}"  # never heard it end: no message over it
            self._hang_up(entry.leg)
            return
        rtp = entry.leg.rtp
        if rtp is None:
            return
        assert screening.message is not None
        event(log, "sip.voicemail_drop", DEBUG, call=entry.leg.key, after=str(end.cause))
        entry.player = RtpPlayer(rtp, pcmu_frames(screening.message), lambda: self._played(entry))
        entry.player.start()

    def _played(self, entry: _Screened) -> None:
        entry.message_played = True
        self._hang_up(entry.leg)

    def ended(self, leg: SipLeg, hung_up: CallHungUp) -> list[TrunkEvent]:
        """The leg is gone: what to report for it. A drop's outcome replaces the hang-up;
        a leg that ends before its verdict was answered all the same (the far end spoke
        or listened, then left): its answer is reported, undecided, before the hang-up."""
        entry = self._calls.pop(leg.key, None)
        if entry is None:
            return [hung_up]
        entry.screening.listener.close()
        if entry.player is not None:
            entry.player.stop()
        deciding = entry.task is not None and not entry.task.done()
        for task in (entry.task, *entry.extra):
            if task is not None and not task.done():
                task.cancel()
        if deciding:
            seconds = asyncio.get_running_loop().time() - entry.answered_at
            return [CallAnswered(leg.key, False, AmdVerdict.NOTSURE, seconds), hung_up]
        if not entry.dropping:
            return [hung_up]
        if entry.message_played:
            return [VoicemailLeft(leg.key, left=True)]
        return [VoicemailLeft(leg.key, left=False, reason=entry.reason or "hung_up")]

    async def close(self) -> None:
        tasks = [t for e in self._calls.values() for t in (e.task, *e.extra) if t is not None]
        for entry in self._calls.values():
            entry.screening.listener.close()
            if entry.player is not None:
                entry.player.stop()
        self._calls.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
