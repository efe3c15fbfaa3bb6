"""What a waiting caller hears, and what they press: the queue, the offer, the voicemail.

- `queue`: the queue message once, then the hold audio in a loop, until a collector takes
  the call (the trunk's `bridge` stops it) or the engine offers a callback.
- `offer`: "press 1 for a callback, 2 to leave a message"; the first 1 or 2 (RFC 4733
  telephone-event in the caller's RTP, or a SIP INFO) is the choice, reported once; no
  valid key within `offer_timeout` after the prompt ends is "none".
- after "voicemail": the voicemail prompt and a tone, then the caller's RTP is kept (mu-law
  WAV under the voicemail directory, written in a thread when the call ends) until they
  hang up or `voicemail_max` seconds pass (then we hang up).

Every prompt is raw 8 kHz mu-law (dialer/telephony/media/, made by
tools/make_inbound_prompts.sh); they are read once, off the loop, when the trunk starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dialer.telephony.rtp_dtmf import DtmfDetector
from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.rtp_player import RtpPlayer, pcmu_frames
from dialer.telephony.rtp_tap import ReceivedTap, RtpTap
from dialer.telephony.sip_leg import SipLeg
from dialer.telephony.sip_log import INFO, WARNING, event, log
from dialer.telephony.voicemail_writer import VoicemailRecorder

MEDIA = Path(__file__).resolve().parent / "media"
CHOICES = {"1": "callback", "2": "voicemail"}


@dataclass(frozen=True, slots=True)
class InboundPrompts:
    queue: list[bytes]
    hold: list[bytes]
    offer: list[bytes]
    voicemail: list[bytes]

    @classmethod
    def load(cls, directory: Path = MEDIA) -> InboundPrompts:
        """Read the prompts (blocking: call it in a thread)."""

        def frames(name: str) -> list[bytes]:
            return pcmu_frames((directory / f"inbound_{name}.pcmu").read_bytes())

        return cls(
            queue=frames("queue"),
            hold=frames("hold"),
            offer=frames("offer"),
            voicemail=frames("voicemail") + frames("beep"),
        )


@dataclass(eq=False, slots=True)
class _Caller:
    leg: SipLeg
    rtp: RtpEndpoint
    player: RtpPlayer | None = None
    detector: DtmfDetector | None = None
    recorder: VoicemailRecorder | None = None
    timer: asyncio.TimerHandle | None = None
    chose: bool = False
    taps: list[RtpTap] = field(default_factory=list)


class InboundMedia:
    """Prompts, hold audio, keys and voicemail of inbound calls, by engine call id."""

    def __init__(
        self,
        prompts: InboundPrompts,
        *,
        on_choice: Callable[[str, str], None],
        on_recording: Callable[[str, Path], None],
        hang_up: Callable[[SipLeg], None],
        voicemail_dir: Path,
        offer_timeout: float = 10.0,
        voicemail_max: float = 120.0,
    ) -> None:
        self._prompts = prompts
        self._on_choice = on_choice
        self._on_recording = on_recording
        self._hang_up = hang_up
        self._voicemail_dir = voicemail_dir
        self._offer_timeout = offer_timeout
        self._voicemail_max = voicemail_max
        self._callers: dict[str, _Caller] = {}
        self._writes: set[asyncio.Task[None]] = set()

    def queue(self, leg: SipLeg) -> None:
        caller = self._take(leg)
        if caller is None:
            return
        self._play(caller, self._prompts.queue, lambda: self._hold(caller))

    def offer(self, leg: SipLeg) -> None:
        caller = self._take(leg)
        if caller is None or caller.chose:
            return
        types = leg.telephone_events or (101,)
        detector = DtmfDetector(lambda key: self.key(leg.key, key), types)
        caller.detector = detector
        self._tap(caller, detector.packet)
        self._play(caller, self._prompts.offer, lambda: self._wait_for_key(caller))

    def key(self, call_id: str, key: str) -> None:
        """A key the caller pressed (RTP event or SIP INFO): a choice while offered."""
        caller = self._callers.get(call_id)
        if caller is None or caller.detector is None or caller.chose:
            return
        choice = CHOICES.get(key)
        if choice is None:
            return
        self._choose(caller, choice)
        if choice == "voicemail":
            self._play(caller, self._prompts.voicemail, lambda: self._record(caller))

    def stop(self, call_id: str) -> None:
        """A collector took the call: no more prompts, keys or hold audio."""
        caller = self._callers.get(call_id)
        if caller is not None:
            self._quiet(caller)

    def ended(self, call_id: str) -> None:
        """The call is over: stop everything; a voicemail is written (in a thread)."""
        caller = self._callers.pop(call_id, None)
        if caller is None:
            return
        self._quiet(caller)
        recorder = caller.recorder
        if recorder is not None:
            task = asyncio.get_running_loop().create_task(self._write(call_id, recorder))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        """Wait for voicemails still being written (the trunk's stop)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    # -- internals -------------------------------------------------------------------------
    def _take(self, leg: SipLeg) -> _Caller | None:
        if leg.rtp is None:
            return None
        caller = self._callers.get(leg.key)
        if caller is None:
            caller = self._callers[leg.key] = _Caller(leg, leg.rtp)
        return caller

    def _play(self, caller: _Caller, frames: list[bytes], then: Callable[[], None]) -> None:
        if caller.player is not None:
            caller.player.stop()
        caller.player = RtpPlayer(caller.rtp, frames, then)
        caller.player.start()

    def _hold(self, caller: _Caller) -> None:
        if self._callers.get(caller.leg.key) is caller and caller.detector is None:
            self._play(caller, self._prompts.hold, lambda: self._hold(caller))

    def _wait_for_key(self, caller: _Caller) -> None:
        if caller.chose or self._callers.get(caller.leg.key) is not caller:
            return
        caller.player = None
        loop = asyncio.get_running_loop()
        caller.timer = loop.call_later(self._offer_timeout, self._no_key, caller)

    def _no_key(self, caller: _Caller) -> None:
        caller.timer = None
        if not caller.chose:
            self._choose(caller, "none")

    def _choose(self, caller: _Caller, choice: str) -> None:
        caller.chose = True
        if caller.timer is not None:
            caller.timer.cancel()
            caller.timer = None
        event(log, "sip.inbound_choice", INFO, call=caller.leg.key, choice=choice)
        self._on_choice(caller.leg.key, choice)

    def _record(self, caller: _Caller) -> None:
        if self._callers.get(caller.leg.key) is not caller:
            return
        caller.player = None
        path = self._voicemail_dir / f"{caller.leg.key}.wav"
        recorder = VoicemailRecorder(path, self._voicemail_max)
        caller.recorder = recorder
        self._tap(caller, recorder.packet)
        self._on_recording(caller.leg.key, path)
        loop = asyncio.get_running_loop()
        caller.timer = loop.call_later(self._voicemail_max, self._hang_up, caller.leg)

    def _tap(self, caller: _Caller, on_packet: Callable[[bytes], None]) -> None:
        tap = ReceivedTap(on_packet)
        caller.rtp.taps.append(tap)
        caller.taps.append(tap)

    def _quiet(self, caller: _Caller) -> None:
        if caller.player is not None:
            caller.player.stop()
            caller.player = None
        if caller.timer is not None:
            caller.timer.cancel()
            caller.timer = None
        for tap in caller.taps:
            if tap in caller.rtp.taps:
                caller.rtp.taps.remove(tap)
        caller.taps.clear()
        caller.detector = None

    async def _write(self, call_id: str, recorder: VoicemailRecorder) -> None:
        try:
            await asyncio.to_thread(recorder.write)
        except OSError as exc:
            event(log, "sip.voicemail_write_failed", WARNING, call=call_id, error=str(exc))
            return
        event(log, "sip.voicemail_saved", INFO, call=call_id, seconds=round(recorder.seconds, 1))
