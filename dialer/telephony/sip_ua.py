"""The user agent: drives outbound legs through INVITE, ringing, answer, CANCEL and BYE.

Dialog-creating INVITEs from callers, their CANCEL and ACK, and INFO on their legs go to
`inbound` (sip_inbound) when the trunk takes inbound calls; without it they get 486.

Everything runs in the event loop: responses and requests arrive from the datagram
endpoint, timers are loop timers. Each leg reports to a `LegListener` (the trunk), which
turns the reports into domain events.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from dialer.telephony.sip_auth import DigestCredentials
from dialer.telephony.sip_leg import LegKind, LegState, SipLeg
from dialer.telephony.sip_log import INFO, WARNING, event, log
from dialer.telephony.sip_message import ALLOW, SipMessage, build_response, new_tag
from dialer.telephony.sip_sdp import RemoteMedia, answer_direction, remote_media
from dialer.telephony.sip_transaction import TransactionLayer
from dialer.telephony.sip_transport import Address, SipTransport

MAX_AUTH_RETRIES = 2  # a stale nonce, then at most one more fresh challenge


class LegListener(Protocol):
    def leg_ringing(self, leg: SipLeg) -> None: ...

    def leg_answered(self, leg: SipLeg) -> None: ...

    def leg_failed(self, leg: SipLeg, code: int, local: bool) -> None:
        """Ended before an answer; `local`: the code is ours (timeout, our CANCEL), not heard."""

    def leg_ended(self, leg: SipLeg, by_remote: bool) -> None:
        """An answered leg ended (their BYE, or ours)."""


class InboundRequests(Protocol):
    """Who takes callers' requests (sip_inbound.InboundCalls)."""

    def invite(self, request: SipMessage, source: Address) -> None: ...

    def cancel(self, request: SipMessage, source: Address) -> bool:
        """False: it cancels nothing of ours (481)."""

    def ack(self, request: SipMessage) -> bool:
        """False: not the ACK of one of our final responses."""

    def info(self, leg: SipLeg, request: SipMessage) -> None:
        """An INFO in an inbound dialog (a key the caller pressed), already answered."""


class SipUserAgent:
    def __init__(
        self,
        transport: SipTransport,
        listener: LegListener,
        t1: float,
        digest: DigestCredentials | None = None,
        user_agent: str = "dialer",
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = transport
        self.listener = listener
        self.t1 = t1
        self.digest = digest
        self.user_agent = user_agent
        self.transactions = TransactionLayer(self.loop, transport.send, t1)
        self.legs: dict[str, SipLeg] = {}  # by SIP Call-ID
        self._ended: dict[str, SipLeg] = {}  # recently ended, for retransmissions
        self._reinvite_ok: dict[str, asyncio.TimerHandle] = {}
        self.inbound: InboundRequests | None = None
        self.invites_sent = 0
        self.first_invite_at = 0.0  # loop time of the first and latest INVITE to a debtor
        self.last_invite_at = 0.0

    # -- outbound actions ------------------------------------------------------------------
    def add(self, leg: SipLeg) -> None:
        self.legs[leg.call_id] = leg

    def send_invite(self, leg: SipLeg) -> None:
        """Launch the INVITE transaction (timer A/B) and the leg's own ring guard."""
        if leg.state is not LegState.QUEUED:
            return
        leg.state = LegState.CALLING
        leg.invite_sent_at = self.loop.time()
        if leg.kind is LegKind.DEBTOR:
            self.first_invite_at = self.first_invite_at or leg.invite_sent_at
            self.last_invite_at = leg.invite_sent_at
        self._start_invite(leg)
        leg.timers.append(self.loop.call_later(leg.ring_timeout, self._ring_guard, leg))

    def _start_invite(self, leg: SipLeg) -> None:
        if leg.auth_header is None and self.digest is not None:  # the last nonce, once more
            leg.auth_header = self.digest.proactive(leg.next_hop, "INVITE", leg.request_uri)
        data = leg.invite()
        self.invites_sent += 1
        leg.invite_txn = self.transactions.start(
            "INVITE",
            leg.invite_branch,
            data,
            leg.next_hop,
            on_response=lambda response: self._invite_response(leg, response),
            on_timeout=lambda: self._invite_timeout(leg),
        )

    def cancel(self, leg: SipLeg) -> None:
        if not leg.pre_answer or leg.cancel_requested:
            return
        leg.cancel_requested = True
        if leg.state is LegState.QUEUED:
            self._fail(leg, 487, local=True)
        elif leg.state is LegState.PROCEEDING:
            self._send_cancel(leg)
        # CALLING: RFC 3261 9.1 forbids CANCEL before a provisional; sent when one comes,
        # and timer B ends the attempt if nothing ever does.

    def hangup(self, leg: SipLeg) -> None:
        if leg.pre_answer:
            self.cancel(leg)
            return
        if leg.state is not LegState.CONFIRMED:
            return
        data, branch = leg.bye()
        self.transactions.start("BYE", branch, data, leg.next_hop)
        self._terminate(leg)
        self.listener.leg_ended(leg, by_remote=False)

    def abandon(self, leg: SipLeg) -> None:
        """Give up on a leg without waiting for the far end any longer (shutdown)."""
        if leg.pre_answer:
            self._fail(leg, 487, local=True)
        elif leg.state is LegState.CONFIRMED:
            self._terminate(leg)
            self.listener.leg_ended(leg, by_remote=False)

    # -- timers ----------------------------------------------------------------------------
    def _ring_guard(self, leg: SipLeg) -> None:
        if leg.pre_answer:
            event(log, "sip.ring_timeout", INFO, leg=leg.key)
            self.cancel(leg)

    def _send_cancel(self, leg: SipLeg) -> None:
        leg.cancel_sent = True
        self.transactions.start("CANCEL", leg.invite_branch, leg.cancel(), leg.next_hop)
        # if the 487 never comes, give up on the INVITE after another 64*T1
        leg.timers.append(self.loop.call_later(64 * self.t1, self._cancel_guard, leg))

    def _cancel_guard(self, leg: SipLeg) -> None:
        if leg.pre_answer:
            if leg.invite_txn is not None:
                leg.invite_txn.terminate()
            self._fail(leg, 487, local=True)

    def _invite_timeout(self, leg: SipLeg) -> None:
        if leg.pre_answer:
            event(log, "sip.invite_timeout", INFO, leg=leg.key)
            self._fail(leg, 408, local=True)

    # -- responses -------------------------------------------------------------------------
    def _invite_response(self, leg: SipLeg, response: SipMessage) -> None:
        code = response.code
        if response.cseq[0] != leg.invite_cseq:
            return
        leg.heard = True
        if code < 200:
            if not leg.pre_answer:
                return
            leg.state = LegState.PROCEEDING
            if leg.cancel_requested and not leg.cancel_sent:
                self._send_cancel(leg)
            elif code in (180, 183) and not leg.ringing and not leg.cancel_requested:
                leg.ringing = True
                self.listener.leg_ringing(leg)
            return
        if code < 300:
            self._answered(leg, response)
            return
        if leg.invite_txn is not None:
            leg.invite_txn.ack(leg.ack_for_final(response))
        if not leg.pre_answer:
            return
        if code in (401, 407) and self._retry_with_auth(leg, response):
            return
        self._fail(leg, code, local=False)

    def _retry_with_auth(self, leg: SipLeg, response: SipMessage) -> bool:
        """Answer a 401/407 (RFC 3261 22.2); False when it must not be answered again."""
        digest = self.digest
        if digest is None or leg.auth_retries >= MAX_AUTH_RETRIES:
            return False
        challenge = digest.challenged(leg.next_hop, "INVITE", response)
        if challenge is None or (leg.auth_answered and not challenge.stale):
            return False  # our answer to its own challenge was refused: wrong credentials
        if leg.cancel_requested:
            self._fail(leg, 487, local=True)
            return True
        leg.auth_retries += 1
        leg.auth_answered = True
        leg.auth_header = digest.answer(leg.next_hop, "INVITE", leg.request_uri)
        leg.invite_cseq += 1
        leg.state = LegState.CALLING
        self._start_invite(leg)
        return True

    def _answered(self, leg: SipLeg, response: SipMessage) -> None:
        if leg.state is not LegState.CALLING and leg.state is not LegState.PROCEEDING:
            self._reject_stray_2xx(leg, response)
            return
        leg.ack_2xx = leg.ack_for_2xx(response)
        self.transport.send(leg.ack_2xx, leg.next_hop)
        if self.digest is not None and leg.auth_header is not None:
            self.digest.accepted(leg.next_hop, "INVITE", response)
        leg.remote_tag = response.to_tag
        leg.remote_to = response.header("To")
        leg.remote_target = response.contact_uri or leg.request_uri
        leg.route_set = list(reversed(response.values("Record-Route")))
        leg.state = LegState.CONFIRMED
        leg.answered_at = self.loop.time()
        leg.clear_timers()
        media = remote_media(response)
        if media is None or not media.accepts_pcmu:
            event(log, "sip.no_pcmu_in_answer", WARNING, leg=leg.key)
            data, branch = leg.bye()
            self.transactions.start("BYE", branch, data, leg.next_hop)
            self._terminate(leg)
            self.listener.leg_failed(leg, 488, local=True)
            return
        self._follow(leg, media)
        self.listener.leg_answered(leg)

    @staticmethod
    def _follow(leg: SipLeg, media: RemoteMedia) -> None:
        """Point the leg's RTP/RTCP where the far end's SDP says, sending only if it wants
        our media (not while it holds us: sendonly, inactive, c=0.0.0.0, port 0)."""
        previous = leg.remote_media
        leg.remote_media = media
        rtp = leg.rtp
        if rtp is None:
            return
        named = media.port > 0 and not media.on_hold_address
        moved = previous is not None and named and previous.target != media.target
        rtp.point_at(
            media.target if named else None,
            media.rtcp_target if named else None,
            media.receives,
            relatch=moved,
        )

    def _reject_stray_2xx(self, leg: SipLeg, response: SipMessage) -> None:
        if response.to_tag is not None and response.to_tag == leg.remote_tag:
            if leg.ack_2xx is not None:  # a retransmitted 200: our ACK got lost
                self.transport.send(leg.ack_2xx, leg.next_hop)
            return
        ack, bye, branch = leg.bye_for_stray(response)
        self.transport.send(ack, leg.next_hop)
        self.transactions.start("BYE", branch, bye, leg.next_hop)

    # -- incoming --------------------------------------------------------------------------
    def handle(self, message: SipMessage, source: Address) -> None:
        if message.is_response:
            txn = self.transactions.match(message)
            if txn is not None:
                txn.receive(message)
            elif message.cseq[1] == "INVITE" and 200 <= message.code < 300:
                leg = self.legs.get(message.call_id) or self._ended.get(message.call_id)
                if leg is not None:
                    self._reject_stray_2xx(leg, message)
            return
        self._handle_request(message, source)

    def _reply(
        self,
        request: SipMessage,
        source: Address,
        code: int,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        data = build_response(
            request, code, to_tag=to_tag, extra=extra or [], user_agent=self.user_agent
        )
        self.transport.send(data, source)

    def _handle_request(self, request: SipMessage, source: Address) -> None:
        method = request.method
        leg = self.legs.get(request.call_id)
        in_dialog = leg is not None and request.to_tag == leg.local_tag
        if method == "ACK":
            handle = self._reinvite_ok.pop(request.call_id, None)
            if handle is not None:
                handle.cancel()
            if self.inbound is not None and self.inbound.ack(request):
                return
            if leg is not None and in_dialog and leg.offer_in_200:
                leg.offer_in_200 = False  # the ACK carries the answer to our offer
                media = remote_media(request)
                if media is not None and media.accepts_pcmu:
                    self._follow(leg, media)
        elif method == "BYE":
            if leg is not None and in_dialog and leg.state is LegState.CONFIRMED:
                self._reply(request, source, 200)
                self._terminate(leg)
                self.listener.leg_ended(leg, by_remote=True)
            elif request.call_id in self._ended:
                self._reply(request, source, 200)
            else:
                self._reply(request, source, 481)
        elif method == "INVITE":
            if leg is not None and in_dialog and leg.state is LegState.CONFIRMED:
                self._reinvite(leg, request, source)
            elif request.to_tag:
                self._reply(request, source, 481)
            elif self.inbound is not None:
                self.inbound.invite(request, source)
            else:  # no inbound calls on this trunk
                self._reply(request, source, 486, to_tag=new_tag())
        elif method == "OPTIONS":
            extra = [("Allow", ALLOW), ("Accept", "application/sdp")]
            self._reply(request, source, 200, to_tag=new_tag(), extra=extra)
        elif method == "INFO":
            self._reply(request, source, 200 if in_dialog else 481)
            if leg is not None and in_dialog and leg.inbound and self.inbound is not None:
                self.inbound.info(leg, request)
        elif method == "CANCEL":
            if self.inbound is None or not self.inbound.cancel(request, source):
                self._reply(request, source, 481)
        else:
            self._reply(request, source, 405, extra=[("Allow", ALLOW)])

    def _reinvite(self, leg: SipLeg, request: SipMessage, source: Address) -> None:
        """Session refresh, hold/resume, media change (RFC 3264 8).

        The answer's direction follows the offer's (6.1: sendonly -> recvonly, recvonly ->
        sendonly, inactive -> inactive), and media the far end refused is not sent. An
        offer without PCMU is refused with 488 and the session stays as it was; a re-INVITE
        without SDP gets our offer in the 200 and its ACK carries the answer."""
        media = remote_media(request)
        if request.body_bytes and (media is None or (media.port > 0 and not media.accepts_pcmu)):
            self._reply(request, source, 488, extra=[("Allow", ALLOW)])
            return
        if media is None:
            leg.offer_in_200 = True
            body = leg.sdp("sendrecv")
        else:
            self._follow(leg, media)
            # a rejected stream (port 0) stays rejected in the answer (RFC 3264 6)
            body = leg.sdp(answer_direction(media.direction), port=0 if media.port == 0 else None)
        extra = [("Contact", leg.contact), ("Allow", ALLOW), ("Content-Type", "application/sdp")]
        data = build_response(request, 200, extra=extra, body=body, user_agent=self.user_agent)
        self.transport.send(data, source)
        old = self._reinvite_ok.pop(leg.call_id, None)
        if old is not None:
            old.cancel()
        self._retransmit_ok(leg.call_id, data, source, self.t1, 0.0)

    def _retransmit_ok(
        self, call_id: str, data: bytes, dest: Address, interval: float, waited: float
    ) -> None:
        if waited >= 64 * self.t1:
            self._reinvite_ok.pop(call_id, None)
            return

        def again() -> None:
            self.transport.send(data, dest)
            self._retransmit_ok(call_id, data, dest, min(interval * 2, 4.0), waited + interval)

        self._reinvite_ok[call_id] = self.loop.call_later(interval, again)

    # -- bookkeeping -----------------------------------------------------------------------
    def end(self, leg: SipLeg) -> None:
        """Forget a leg that ended without a BYE (an inbound call refused or cancelled)."""
        self._terminate(leg)

    def _fail(self, leg: SipLeg, code: int, local: bool) -> None:
        if leg.state is LegState.TERMINATED:
            return
        self._terminate(leg)
        self.listener.leg_failed(leg, code, local)

    def _terminate(self, leg: SipLeg) -> None:
        leg.state = LegState.TERMINATED
        leg.clear_timers()
        if leg.invite_txn is not None and leg.invite_txn.final is None:
            leg.invite_txn.terminate()
        self.legs.pop(leg.call_id, None)
        self._ended[leg.call_id] = leg
        self.loop.call_later(64 * self.t1, self._ended.pop, leg.call_id, None)
        handle = self._reinvite_ok.pop(leg.call_id, None)
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        self.transactions.close()
        for handle in self._reinvite_ok.values():
            handle.cancel()
        self._reinvite_ok.clear()
