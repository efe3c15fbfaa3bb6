"""The SIP trunk adapter: implements the `Trunk` port on an asyncio SIP user agent.

pyVoIP 1.6.8 is threaded and, as shipped, unfit for outbound dialing (see docs/sip.md).
This adapter keeps pyVoIP for what it does well (SIP message and SDP parsing, status
phrases) and runs the signalling itself on one asyncio datagram endpoint, so no thread
ever touches the event loop and nothing blocks it. Audio never goes through pyVoIP: the
RTP forwarder relays PCMU between a debtor and a collector's nailed-up leg unchanged.

The module is the one `Trunk` class, over 400 lines: its dialog bookkeeping (legs by
Call-ID, the forwarders, the collector legs) is shared by every method, while message
building, transactions, registration, pacing, outcomes, dead-call detection (sip_liveness)
and the carrier's health (sip_health, trunk_health, sip_probe) are modules of their own.

Trunk health: a carrier failure (sip_outcomes.carrier_failure) ends the call as
`trunk_failed`, never as the debtor's no-answer; enough of them, or a probe the server
does not answer, open the breaker: queued calls end as trunk failures, `on_health` tells
the daemon (which holds every campaign), and a probe and one trial call close it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections import deque
from collections.abc import Callable

from dialer.domain.calls import CallOutcome
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallInviteSent,
    CallRinging,
)
from dialer.telephony.port import TrunkEvent
from dialer.telephony.rtp_forwarder import RtpEndpoint, RtpForwarder, RtpPortPool
from dialer.telephony.rtp_player import RtpPlayer, pcmu_frames
from dialer.telephony.rtp_tap import TapFactory
from dialer.telephony.sip_amd import AnswerScreen, ScreeningFactory
from dialer.telephony.sip_auth import DigestCredentials
from dialer.telephony.sip_health import SipHealth, watch_trunk
from dialer.telephony.sip_inbound import InboundHooks
from dialer.telephony.sip_inbound_side import InboundSide
from dialer.telephony.sip_leg import LegFactory, LegKind, LegState, SipLeg
from dialer.telephony.sip_log import DEBUG, ERROR, INFO, WARNING, event, log, mask_phone
from dialer.telephony.sip_message import SipMessage, uri_host_port
from dialer.telephony.sip_outcomes import SipTrunkError, SipTrunkStats, carrier_failure, classify
from dialer.telephony.sip_pacing import TokenBucket
from dialer.telephony.sip_register import Registration
from dialer.telephony.sip_settings import SipTrunkSettings
from dialer.telephony.sip_transport import (
    Address,
    SipTransport,
    open_sip_transport,
    raise_open_file_limit,
    route_source_ip,
)
from dialer.telephony.sip_ua import SipUserAgent

STOP_GRACE = 2.0
_DIALABLE = re.compile(r"\+?[0-9*#]{1,32}")
__all__ = ["SipTrunk", "SipTrunkError", "SipTrunkStats", "classify"]


class SipTrunk:
    """A `Trunk` over SIP/UDP. See docs/sip.md for the settings and the design."""

    def __init__(
        self,
        settings: SipTrunkSettings,
        *,
        on_collector_leg_lost: Callable[[str], None] | None = None,
        on_health: Callable[[bool, str | None], None] | None = None,
        tap_factory: TapFactory | None = None,
        inbound: InboundHooks | None = None,
        screening: ScreeningFactory | None = None,
    ) -> None:
        self.settings = settings
        # asked for a tap on each answered debtor leg (call recording: dialer.media)
        self._tap_factory = tap_factory
        # asked for AMD on each answered debtor leg (sip_amd; None: answers reported at once)
        self._screening = screening
        self._screen: AnswerScreen | None = None
        self._inbound_hooks = inbound  # None: callers' INVITEs get 486 (sip_inbound)
        self._inbound: InboundSide | None = None
        self._stats = SipTrunkStats()
        self._on_collector_leg_lost = on_collector_leg_lost
        self._on_health = on_health
        self._health: SipHealth | None = None
        self._events: asyncio.Queue[TrunkEvent] | None = None
        self._transport: SipTransport | None = None
        self._ua: SipUserAgent | None = None
        self._registration: Registration | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._rtp: RtpPortPool | None = None
        self._legs: LegFactory | None = None
        self._forwarder = RtpForwarder()
        self._calls: dict[str, SipLeg] = {}
        self._collectors: dict[str, SipLeg] = {}
        self._collector_answer: dict[str, asyncio.Future[int]] = {}
        self._bridged: dict[str, str] = {}  # collector id -> call id
        self._players: dict[str, RtpPlayer] = {}
        self._queue: deque[SipLeg] = deque()
        self._wake = asyncio.Event()
        # a burst of at most 50 ms' worth keeps the long-run rate exact despite timer slack
        self._bucket = TokenBucket(
            settings.calls_per_second, max(1.0, settings.calls_per_second / 20)
        )
        self._safe_harbor: list[bytes] = []
        self._server: Address = (settings.server, settings.port)
        self._ip = "127.0.0.1"
        self._port = 0
        self._domain = (
            settings.server if settings.port == 5060 else f"{settings.server}:{settings.port}"
        )

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, events: asyncio.Queue[TrunkEvent]) -> None:
        if self._ua is not None:
            raise SipTrunkError("trunk already started")
        s = self.settings
        loop = asyncio.get_running_loop()
        self._events = events
        password = await asyncio.to_thread(s.resolve_password)
        audio = await asyncio.to_thread(s.safe_harbor_file.read_bytes)
        self._safe_harbor = pcmu_frames(audio)
        self._server = await self._resolve(s.server, s.port)
        bind_ip = s.local_ip or "0.0.0.0"
        self._ip = s.local_ip or route_source_ip(self._server[0])
        low, high = s.rtp_port_range
        raise_open_file_limit(2 * ((high - low) // 2) + 256)  # an RTP + RTCP pair per leg
        transport, rcvbuf = await open_sip_transport(
            bind_ip, s.local_port, s.recv_buffer_bytes, self._on_message, self._on_icmp
        )
        self._transport = transport
        self._port = transport.local_port
        self._stats.recv_buffer_bytes = rcvbuf
        digest = (
            DigestCredentials(s.username, password) if s.username and password is not None else None
        )
        self._ua = SipUserAgent(transport, self, s.timer_t1, digest, s.user_agent)
        self._legs = LegFactory.for_trunk(s, ip=self._ip, port=self._port, domain=self._domain)
        self._rtp = RtpPortPool(bind_ip, *s.rtp_port_range, symmetric=s.rtp_symmetric)
        self._tasks.append(loop.create_task(self._pace(), name="sip-pacer"))
        if s.register:
            self._registration = Registration(
                self._ua.transactions,
                domain=s.server,
                uri_host=self._domain,
                next_hop=self._server,
                user=s.username or "dialer",
                contact=self._legs.contact,
                via_host=self._legs.via_host,
                expires=s.register_expires,
                digest=digest,
                user_agent=s.user_agent,
            )
            self._tasks.append(loop.create_task(self._registration.run(), name="sip-register"))
        self._health = self._watch(self._ua)
        self._tasks.append(loop.create_task(self._health.run(), name="sip-watch"))
        if self._screening is not None:
            ua = self._ua
            self._screen = AnswerScreen(
                self._screening, self._emit, lambda leg: self._hang_up(ua, leg)
            )
        if self._inbound_hooks is not None:
            self._inbound = await InboundSide.open(
                self._inbound_hooks,
                s,
                self._ua,
                self._legs,
                open_rtp=self._open_rtp,
                add_call=self._add_inbound,
                release=self._release,
                emit=self._emit,
            )
        event(log, "sip.started", INFO, local=f"{self._ip}:{self._port}", server=str(self._server))

    async def stop(self) -> None:
        ua = self._ua
        if ua is None:
            return
        # Cancelled again until done: on Python 3.11 a cancel that lands as an inner
        # wait_for completes is swallowed, and the task's loop would run on.
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)
        self._tasks.clear()
        for leg in [*self._calls.values(), *self._collectors.values()]:
            self._hang_up(ua, leg)  # CANCEL if ringing, BYE if up, dropped if still queued
        if self._registration is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._registration.unregister(), STOP_GRACE)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE
        while self._still_closing(ua) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for leg in list(ua.legs.values()):
            ua.abandon(leg)
        if self._inbound is not None:
            await self._inbound.close()  # voicemails still being written land first
            self._inbound = None
        if self._screen is not None:
            await self._screen.close()
            self._screen = None
        ua.close()
        self._forwarder.close()
        if self._transport is not None:
            self._transport.close()
        self._ua = None
        event(log, "sip.stopped", INFO)

    @staticmethod
    def _still_closing(ua: SipUserAgent) -> bool:
        """BYEs or CANCELs still unanswered (INVITEs that never got a provisional can't be
        cancelled: they are abandoned at once)."""
        cancelling = any(leg.cancel_sent and leg.pre_answer for leg in ua.legs.values())
        return cancelling or ua.transactions.pending("BYE") + ua.transactions.pending("CANCEL") > 0

    @property
    def registered(self) -> bool:
        """Started, and registered if it registers (the breaker is `down_reason`'s)."""
        if self._ua is None:
            return False
        return self._registration.registered if self._registration is not None else True

    @property
    def down_reason(self) -> str | None:
        """Why the trunk cannot dial, in words; None while it can."""
        if self._health is not None and not self._health.breaker.up:
            return self._health.breaker.why
        if self._registration is not None and not self._registration.registered:
            return "not registered with the carrier"
        return None if self._ua is not None else "not started"

    # -- calls -----------------------------------------------------------------------------
    async def originate(self, call_id: str, number: str, ring_timeout: float) -> None:
        ua = self._require()
        if call_id in self._calls:
            raise SipTrunkError(f"call {call_id} already exists")
        if not _DIALABLE.fullmatch(number):  # nothing else may reach a Request-URI
            event(log, "sip.undialable", WARNING, call=call_id, dialed=mask_phone(number))
            self._emit(CallFailed(call_id, CallOutcome.FAILED, 484))
            return
        if self._health is not None and not self._health.breaker.up:
            self._emit(CallFailed(call_id, CallOutcome.TRUNK_FAILED, 503))  # never leaves
            return
        uri = f"sip:{number}@{self._domain}"
        guard = max(ring_timeout, self.settings.ring_timeout)
        leg = await self._new_leg(call_id, LegKind.DEBTOR, uri, self._server, guard)
        if leg is None:
            self._emit(CallFailed(call_id, CallOutcome.FAILED, 503))
            return
        leg.label = mask_phone(number)
        self._calls[call_id] = leg
        ua.add(leg)
        self._queue.append(leg)
        self._wake.set()

    async def cancel(self, call_id: str) -> None:
        leg = self._calls.get(call_id)
        if leg is not None and self._ua is not None:
            self._ua.cancel(leg)

    async def hangup(self, call_id: str) -> None:
        leg = self._calls.get(call_id)
        if leg is not None and self._ua is not None:
            self._hang_up(self._ua, leg)

    def _hang_up(self, ua: SipUserAgent, leg: SipLeg) -> None:
        if not (leg.inbound and self._inbound is not None and self._inbound.hang_up(leg)):
            ua.hangup(leg)

    async def leave_voicemail(self, call_id: str) -> None:
        """A machine: the campaign's message after its greeting (sip_amd), then BYE."""
        leg = self._calls.get(call_id)
        if leg is None or self._ua is None:
            return
        if self._screen is None or not self._screen.leave_voicemail(call_id):
            event(log, "sip.voicemail_unscreened", WARNING, call=call_id)
            self._hang_up(self._ua, leg)  # its end is reported as VoicemailLeft(left=False)

    async def queue_inbound(self, call_id: str) -> None:
        """Answer an inbound call and play the queue message, then hold audio."""
        leg = self._calls.get(call_id)
        if leg is not None and leg.inbound and self._inbound is not None:
            self._inbound.queue(leg)

    async def offer_callback(self, call_id: str) -> None:
        """Play the callback offer; the caller's key comes back as `InboundCallerChose`."""
        leg = self._calls.get(call_id)
        if leg is not None and leg.inbound and self._inbound is not None:
            self._inbound.offer(leg)

    async def bridge(self, call_id: str, collector_id: str) -> None:
        leg = self._calls.get(call_id)
        if leg is not None and leg.inbound and self._inbound is not None:
            self._inbound.bridging(leg)  # answers a caller still ringing
        if leg is None or leg.state is not LegState.CONFIRMED or leg.rtp is None:
            event(
                log, "sip.bridge_gone", INFO, call=call_id
            )  # hung up meanwhile: CallHungUp is out
            return
        agent = self._collectors.get(collector_id)
        if agent is None or agent.state is not LegState.CONFIRMED or agent.rtp is None:
            raise SipTrunkError(f"collector {collector_id} has no leg up")
        self._stop_player(call_id)
        previous = self._bridged.get(collector_id)
        if previous is not None and previous != call_id:
            event(log, "sip.rebridge", WARNING, collector=collector_id, previous=previous)
        for cid, bridged_call in list(self._bridged.items()):
            if bridged_call == call_id:
                del self._bridged[cid]
        self._forwarder.bridge(leg.rtp, agent.rtp)
        self._bridged[collector_id] = call_id
        self._stats.bridged += 1
        if leg.answered_at is not None:
            self._stats.answer_to_bridge.append(asyncio.get_running_loop().time() - leg.answered_at)

    async def play_safe_harbor(self, call_id: str) -> None:
        leg = self._calls.get(call_id)
        if leg is None or leg.state is not LegState.CONFIRMED or leg.rtp is None:
            return
        ua = self._require()
        self._forwarder.unbridge(leg.rtp)
        self._forget_bridge(call_id)
        self._stop_player(call_id)
        player = RtpPlayer(leg.rtp, self._safe_harbor, lambda: ua.hangup(leg))
        self._players[call_id] = player
        player.start()

    # -- collectors ------------------------------------------------------------------------
    async def collector_login(self, collector_id: str, address: str | None) -> None:
        """Call the collector's phone and keep the leg up; returns once it is answered."""
        ua = self._require()
        existing = self._collectors.get(collector_id)
        if existing is not None:
            pending = self._collector_answer.get(collector_id)
            if pending is not None:  # a login already under way: wait for the same answer
                await self._check_collector(collector_id, await asyncio.shield(pending))
            return
        address = address or self.settings.collectors.get(collector_id)
        if not address:
            raise SipTrunkError(f"no SIP address for collector {collector_id}")
        uri = self._collector_uri(address)
        host, port = uri_host_port(uri)
        hop = await self._resolve(host, port)  # the phone's URI says where its leg goes
        leg = await self._new_leg(
            collector_id, LegKind.COLLECTOR, uri, hop, self.settings.ring_timeout
        )
        if leg is None:
            raise SipTrunkError("no free RTP port for the collector's leg")
        leg.label = collector_id
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._collector_answer[collector_id] = answer
        self._collectors[collector_id] = leg
        ua.add(leg)
        ua.send_invite(leg)
        await self._check_collector(collector_id, await answer)

    @staticmethod
    async def _check_collector(collector_id: str, code: int) -> None:
        if code != 200:
            raise SipTrunkError(f"collector {collector_id}'s phone answered {code}")

    async def collector_logout(self, collector_id: str) -> None:
        leg = self._collectors.get(collector_id)
        if leg is not None and self._ua is not None:
            self._ua.hangup(leg)

    # -- diagnostics -----------------------------------------------------------------------
    def call_rtp_port(self, call_id: str) -> int | None:
        leg = self._calls.get(call_id)
        return leg.rtp.port if leg is not None and leg.rtp is not None else None

    def collector_rtp_port(self, collector_id: str) -> int | None:
        leg = self._collectors.get(collector_id)
        return leg.rtp.port if leg is not None and leg.rtp is not None else None

    @property
    def stats(self) -> SipTrunkStats:
        self._stats.active_calls = len(self._calls)
        self._stats.collector_legs = len(self._collectors)
        if self._ua is not None:
            self._stats.invites_sent = self._ua.invites_sent
            self._stats.invite_span_seconds = self._ua.last_invite_at - self._ua.first_invite_at
        endpoints = [leg.rtp for leg in (*self._calls.values(), *self._collectors.values())]
        self._stats.rtp_received = sum(rtp.received for rtp in endpoints if rtp is not None)
        self._stats.rtp_sent = sum(rtp.sent for rtp in endpoints if rtp is not None)
        return self._stats

    @property
    def local_address(self) -> Address:
        return self._ip, self._port

    # -- LegListener -----------------------------------------------------------------------
    def leg_ringing(self, leg: SipLeg) -> None:
        if leg.kind is LegKind.DEBTOR:
            self._reached()
            event(log, "sip.ringing", DEBUG, call=leg.key, sip_call_id=leg.call_id)
            self._emit(CallRinging(leg.key))

    def leg_answered(self, leg: SipLeg) -> None:
        if leg.kind is LegKind.DEBTOR:
            self._reached()
            self._stats.answered += 1
            event(
                log, "sip.answered", DEBUG, call=leg.key, sip_call_id=leg.call_id, dialed=leg.label
            )
            if self._tap_factory is not None and leg.rtp is not None:
                tap = self._tap_factory(leg.key)
                if tap is not None:  # all the debtor hears and says from the 200 OK on
                    leg.rtp.taps.append(tap)
            if self._screen is None or not self._screen.answered(leg):
                self._emit(CallAnswered(leg.key))
            return
        if leg.rtp is not None:
            self._forwarder.add_collector(leg.rtp)
        event(log, "sip.collector_leg_up", INFO, collector=leg.key)
        self._resolve_collector(leg.key, 200)

    def leg_failed(self, leg: SipLeg, code: int, local: bool) -> None:
        self._release(leg)
        if leg.kind is LegKind.DEBTOR:
            why = leg.trunk_failure or carrier_failure(
                code, local=local, heard=leg.heard, ringing=leg.ringing
            )
            if why is not None:
                outcome = CallOutcome.TRUNK_FAILED
                if self._health is not None and leg.trunk_failure is None:
                    self._health.carrier_failure(why)
            else:
                outcome = classify(code, local=local, cancelled=leg.cancel_requested)
                if leg.heard:
                    self._reached()
                elif self._health is not None:
                    self._health.settled()  # cancelled before a word: a trial proves nothing
            event(
                log,
                "sip.failed",
                DEBUG,
                call=leg.key,
                sip_call_id=leg.call_id,
                dialed=leg.label,
                code=code,
                outcome=outcome,
            )
            self._emit(CallFailed(leg.key, outcome, code))
        else:
            event(log, "sip.collector_leg_failed", WARNING, collector=leg.key, code=code)
            self._resolve_collector(leg.key, code)

    def leg_ended(self, leg: SipLeg, by_remote: bool) -> None:
        self._release(leg)
        if leg.kind is LegKind.DEBTOR:
            event(
                log,
                "sip.hung_up",
                DEBUG,
                call=leg.key,
                sip_call_id=leg.call_id,
                by_remote=by_remote,
            )
            hung_up = CallHungUp(leg.key, silent_for=leg.silent_for)
            for reported in [hung_up] if self._screen is None else self._screen.ended(leg, hung_up):
                self._emit(reported)
        elif by_remote or leg.silent_for is not None:
            event(log, "sip.collector_leg_lost", WARNING, collector=leg.key)
            if self._on_collector_leg_lost is not None:
                self._on_collector_leg_lost(leg.key)

    # -- health ----------------------------------------------------------------------------
    def _watch(self, ua: SipUserAgent) -> SipHealth:
        return watch_trunk(
            self.settings,
            ua.transactions,
            self._registration,
            self._server,
            self._domain,
            legs=lambda: [*self._calls.values(), *self._collectors.values()],
            on_dead=self._dead,
            on_open=self._fail_unsent,
            on_change=self._health_changed,
        )

    def _health_changed(self, up: bool, why: str | None) -> None:
        self._wake.set()
        if self._on_health is not None:
            self._on_health(up, why)

    def _reached(self) -> None:
        if self._health is not None:
            self._health.reached()

    def _on_icmp(self) -> None:
        if self._health is not None:
            self._health.hint("icmp")

    def _check_heard(self, leg: SipLeg) -> None:
        """An INVITE that drew nothing in 4 x T1 (a carrier answers 100 Trying at once)."""
        if leg.state is LegState.CALLING and not leg.heard and self._health is not None:
            self._health.hint("no_response")

    def _fail_unsent(self) -> None:
        """The breaker opened: what is queued, and INVITEs nobody answered, never reached
        the network. They end now as trunk failures, counted toward no cap."""
        ua = self._ua
        if ua is None or self._health is None:
            return
        reason = self._health.breaker.reason or "no_response"
        for leg in list(self._calls.values()):
            if leg.state is LegState.QUEUED or (leg.state is LegState.CALLING and not leg.heard):
                leg.trunk_failure = reason
                ua.abandon(leg)

    def _dead(self, leg: SipLeg, silent_for: float) -> None:
        """Liveness found a dead leg: hang it up; its end says how long it was silent."""
        if self._ua is not None:
            leg.silent_for = silent_for
            self._ua.hangup(leg)

    # -- internals -------------------------------------------------------------------------
    def _require(self) -> SipUserAgent:
        if self._ua is None:
            raise SipTrunkError("trunk not started")
        return self._ua

    def _emit(self, event: TrunkEvent) -> None:
        if self._events is not None:
            self._events.put_nowait(event)

    def _on_message(self, message: SipMessage, source: Address) -> None:
        if self._ua is not None:
            self._ua.handle(message, source)

    async def _pace(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            leg = self._queue.popleft()
            if leg.state is not LegState.QUEUED:
                continue
            await self._bucket.take()
            if leg.kind is LegKind.DEBTOR and self._health is not None:
                await self._health.wait_sendable()  # the breaker: none while down, one on trial
            if leg.state is LegState.QUEUED and self._ua is not None:
                self._ua.send_invite(leg)
                if leg.kind is LegKind.DEBTOR:
                    if self._health is not None:
                        self._health.sent()
                    self._emit(CallInviteSent(leg.key))  # the ring timeout starts now
                    self._ua.loop.call_later(4 * self.settings.timer_t1, self._check_heard, leg)

    async def _open_rtp(self) -> RtpEndpoint | None:
        assert self._rtp is not None
        try:
            return await self._rtp.open()
        except OSError:
            event(log, "sip.rtp_ports_exhausted", ERROR, range=str(self.settings.rtp_port_range))
            return None

    def _add_inbound(self, leg: SipLeg) -> None:
        self._calls[leg.key] = leg
        self._require().add(leg)

    async def _new_leg(
        self, key: str, kind: LegKind, uri: str, hop: Address, ring_timeout: float
    ) -> SipLeg | None:
        assert self._rtp is not None and self._legs is not None
        try:
            rtp = await self._rtp.open()
        except OSError:
            event(log, "sip.rtp_ports_exhausted", ERROR, range=str(self.settings.rtp_port_range))
            return None
        return self._legs.make(key, kind, uri, hop, ring_timeout, rtp)

    def _release(self, leg: SipLeg) -> None:
        if leg.inbound and self._inbound is not None:
            self._inbound.released(leg)
        if leg.kind is LegKind.DEBTOR:
            if self._calls.get(leg.key) is leg:
                del self._calls[leg.key]
            self._stop_player(leg.key)
            self._forget_bridge(leg.key)
        elif self._collectors.get(leg.key) is leg:
            del self._collectors[leg.key]
            self._bridged.pop(leg.key, None)
        if leg.rtp is not None:
            self._forwarder.remove(leg.rtp)
            if self._rtp is not None:
                self._rtp.release(leg.rtp)

    def _forget_bridge(self, call_id: str) -> None:
        for collector_id, bridged in list(self._bridged.items()):
            if bridged == call_id:
                del self._bridged[collector_id]

    def _stop_player(self, call_id: str) -> None:
        player = self._players.pop(call_id, None)
        if player is not None:
            player.stop()

    def _resolve_collector(self, collector_id: str, code: int) -> None:
        answer = self._collector_answer.pop(collector_id, None)
        if answer is not None and not answer.done():
            answer.set_result(code)

    def _collector_uri(self, address: str) -> str:
        if address.lower().startswith(("sip:", "sips:")):
            return address
        if "@" in address:
            return f"sip:{address}"
        return f"sip:{address}@{self._domain}"

    async def _resolve(self, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        if not infos:
            raise SipTrunkError(f"cannot resolve {host}")
        return str(infos[0][4][0]), int(infos[0][4][1])
