"""The trunk's inbound side: the callers' dialogs (sip_inbound) and their media
(sip_inbound_media) put together, so the trunk (sip.py) only forwards to it.

The trunk keeps every inbound leg in its table of calls, by the engine's call id, like an
outbound debtor leg; this side answers it, refuses it, plays to it, listens to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dialer.domain.events import CallHungUp, InboundCallerChose
from dialer.telephony.port import TrunkEvent
from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.sip_inbound import InboundCalls, InboundHooks
from dialer.telephony.sip_inbound_media import InboundMedia, InboundPrompts
from dialer.telephony.sip_leg import LegFactory, SipLeg
from dialer.telephony.sip_settings import SipTrunkSettings
from dialer.telephony.sip_ua import SipUserAgent


class InboundSide:
    def __init__(
        self,
        hooks: InboundHooks,
        settings: SipTrunkSettings,
        ua: SipUserAgent,
        factory: LegFactory,
        prompts: InboundPrompts,
        *,
        open_rtp: Callable[[], Awaitable[RtpEndpoint | None]],
        add_call: Callable[[SipLeg], None],
        release: Callable[[SipLeg], None],
        emit: Callable[[TrunkEvent], None],
    ) -> None:
        self._hooks = hooks
        self._ua = ua
        self._release = release
        self._emit = emit
        self.media = InboundMedia(
            prompts,
            on_choice=lambda call_id, choice: emit(InboundCallerChose(call_id, choice)),
            on_recording=hooks.recording,
            hang_up=ua.hangup,
            voicemail_dir=settings.voicemail_dir,
            offer_timeout=settings.inbound_offer_timeout,
            voicemail_max=settings.voicemail_max_seconds,
        )
        self.calls = InboundCalls(
            send=ua.transport.send,
            add_leg=add_call,
            end_leg=ua.end,
            factory=factory,
            open_rtp=open_rtp,
            hooks=hooks,
            on_gone=self._gone,
            on_unacked=ua.hangup,
            on_key=self.media.key,
            t1=settings.timer_t1,
            user_agent=settings.user_agent,
        )
        ua.inbound = self.calls

    @classmethod
    async def open(
        cls,
        hooks: InboundHooks,
        settings: SipTrunkSettings,
        ua: SipUserAgent,
        factory: LegFactory,
        **parts: object,
    ) -> InboundSide:
        prompts = await asyncio.to_thread(InboundPrompts.load)
        return cls(hooks, settings, ua, factory, prompts, **parts)  # type: ignore[arg-type]

    def answer(self, leg: SipLeg) -> bool:
        """Answer a ringing inbound call (before a bridge, a queue or an offer)."""
        return self.calls.answer(leg)

    def queue(self, leg: SipLeg) -> None:
        if self.answer(leg):
            self.media.queue(leg)

    def offer(self, leg: SipLeg) -> None:
        if self.answer(leg):
            self.media.offer(leg)

    def bridging(self, leg: SipLeg) -> None:
        """A collector takes it: answered if still ringing, prompts and hold audio stop."""
        self.answer(leg)
        self.media.stop(leg.key)

    def hang_up(self, leg: SipLeg) -> bool:
        """Refuse a call still ringing (480); False when it is up (the UA sends BYE)."""
        if not leg.pre_answer:
            return False
        self.calls.reject(leg, 480)
        return True

    def released(self, leg: SipLeg) -> None:
        self.media.ended(leg.key)
        self.calls.forget(leg)

    async def close(self) -> None:
        self.calls.close()
        await self.media.drain()

    def _gone(self, leg: SipLeg) -> None:
        """Ended before an answer (the caller's CANCEL, or our refusal)."""
        self._release(leg)
        self._emit(CallHungUp(leg.key))
