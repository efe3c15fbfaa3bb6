"""Inbound calls on the trunk: the UAS side of INVITEs from callers to our numbers.

A debtor calls back a campaign's caller ID (or a configured inbound number). The user agent
hands every dialog-creating INVITE here: a number that is not ours is refused with 404; one
of ours gets 100 Trying, then 180 Ringing once its RTP port is open, and the daemon is told
(`InboundHooks.offered`), which identifies the caller and hands the engine an
`InboundCallArrived`. The call stays ringing until the engine decides: `answer` sends the
200 OK with our SDP (a `Bridge` or a `QueueInbound`), `reject` a final refusal.

The leg is an ordinary `SipLeg` (kind DEBTOR, `inbound` set) kept in the user agent's
dialog table, so the rest of the trunk treats it like an outbound debtor leg once it is up:
the caller's BYE ends it (`CallHungUp`), our BYE hangs it up, the RTP forwarder bridges it,
the liveness sweep watches its media. What is only inbound lives here: the server INVITE
transaction (responses re-sent on a retransmitted INVITE, the 2xx re-sent until its ACK,
RFC 3261 13.3.1.4 and 17.2.1), the caller's CANCEL (200 to the CANCEL, 487 to the INVITE,
then `CallHungUp`: the caller gave up before anyone took the call).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from dialer.telephony.rtp_dtmf import info_key, telephone_event_types
from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.sip_leg import LegFactory, LegKind, LegState, SipLeg
from dialer.telephony.sip_log import INFO, WARNING, event, log, mask_phone
from dialer.telephony.sip_message import ALLOW, SipMessage, build_response, new_tag, uri_of
from dialer.telephony.sip_sdp import RemoteMedia, build_sdp, remote_media
from dialer.telephony.sip_transport import Address

CALL_PREFIX = "in-"  # engine call ids of inbound calls: never those of an Originate


@dataclass(frozen=True, slots=True)
class InboundOffer:
    """A caller is ringing one of our numbers. `caller`: their number as sent (the
    P-Asserted-Identity user, else the From user), in the clear in memory only; `dialed`:
    the number they called (the Request-URI user)."""

    call_id: str
    caller: str
    dialed: str


class InboundHooks(Protocol):
    """What the trunk asks the daemon about inbound calls."""

    def accepts(self, dialed: str) -> bool:
        """Is `dialed` one of our numbers (a campaign's caller ID, an inbound number)?"""

    def offered(self, offer: InboundOffer) -> None:
        """A call to one of our numbers is ringing (identify the caller, route it)."""

    def recording(self, call_id: str, path: Path) -> None:
        """The caller's voicemail is being recorded to `path` (written when the call ends)."""


def user_part(header_or_uri: str) -> str:
    """The user of `"Name" <sip:+4420@host;p>` or `tel:+4420`: "+4420" ('' when none)."""
    uri = uri_of(header_or_uri)
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "tel":
        return rest.split(";", 1)[0]
    if "@" not in rest:
        return ""
    return rest.split("@", 1)[0].split(";", 1)[0]


def caller_number(request: SipMessage) -> str:
    """Who is calling: P-Asserted-Identity (RFC 3325, set by the carrier) over From."""
    for name in ("P-Asserted-Identity", "From"):
        for value in request.values(name):
            user = user_part(value)
            if user:
                return user
    return ""


def inbound_call_id(sip_call_id: str) -> str:
    """The engine's id of an inbound call: stable for the SIP Call-ID, not revealing it."""
    return CALL_PREFIX + hashlib.sha256(sip_call_id.encode()).hexdigest()[:20]


@dataclass(eq=False, slots=True)
class _Server:
    """One INVITE server transaction and the leg it is creating."""

    request: SipMessage
    source: Address
    leg: SipLeg | None = None
    last_response: bytes = b""
    final: int | None = None
    retransmit: asyncio.TimerHandle | None = None
    acked: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class InboundCalls:
    """INVITEs from callers: accept to our numbers, ring, answer or refuse, CANCEL."""

    def __init__(
        self,
        *,
        send: Callable[[bytes, Address], None],
        add_leg: Callable[[SipLeg], None],
        end_leg: Callable[[SipLeg], None],
        factory: LegFactory,
        open_rtp: Callable[[], Awaitable[RtpEndpoint | None]],
        hooks: InboundHooks,
        on_gone: Callable[[SipLeg], None],
        on_unacked: Callable[[SipLeg], None],
        on_key: Callable[[str, str], None],
        t1: float,
        user_agent: str,
    ) -> None:
        self._send = send
        self._add_leg = add_leg
        self._end_leg = end_leg
        self._factory = factory
        self._open_rtp = open_rtp
        self._hooks = hooks
        self._on_gone = on_gone
        self._on_unacked = on_unacked
        self._on_key = on_key
        self._t1 = t1
        self._user_agent = user_agent
        self._servers: dict[str, _Server] = {}  # by SIP Call-ID
        self._tasks: set[asyncio.Task[None]] = set()
        self.offered = 0
        self.refused = 0

    # -- requests from the user agent ------------------------------------------------------
    def invite(self, request: SipMessage, source: Address) -> None:
        """A dialog-creating INVITE (no To-tag), or a retransmission of one."""
        known = self._servers.get(request.call_id)
        if known is not None:
            if known.last_response:  # RFC 3261 17.2.1: the latest response again
                self._send(known.last_response, known.source)
            return
        dialed = user_part(request.request_uri)
        server = _Server(request, source)
        self._servers[request.call_id] = server
        if not dialed or not self._hooks.accepts(dialed):
            self.refused += 1
            event(log, "sip.inbound_refused", INFO, dialed=mask_phone(dialed), code=404)
            self._final(server, 404)
            return
        media = remote_media(request)
        if media is None or not media.accepts_pcmu:  # we offer no other codec: RFC 3264 6
            self._final(server, 488, extra=[("Accept", "application/sdp")])
            return
        self._respond(server, 100)
        task = asyncio.get_running_loop().create_task(self._ring(server, media, dialed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self, request: SipMessage, source: Address) -> bool:
        """The caller's CANCEL; False when it cancels nothing of ours (the UA answers 481)."""
        server = self._servers.get(request.call_id)
        if server is None or request.top_branch != server.request.top_branch:
            return False
        self._send(build_response(request, 200, user_agent=self._user_agent), source)
        if server.final is None:  # still ringing: the caller gave up (9.2)
            self._final(server, 487)
            leg = server.leg
            if leg is not None:
                self._end_leg(leg)
                self._on_gone(leg)
        return True

    def ack(self, request: SipMessage) -> bool:
        """The ACK of our final response: stop re-sending it."""
        server = self._servers.get(request.call_id)
        if server is None or server.final is None:
            return False
        server.acked = True
        if server.retransmit is not None:
            server.retransmit.cancel()
            server.retransmit = None
        if server.final >= 300 or server.leg is None or server.leg.state is LegState.TERMINATED:
            self._forget_later(request.call_id)
        return True

    def info(self, leg: SipLeg, request: SipMessage) -> None:
        """A key in a SIP INFO (the fallback for phones that do not send RFC 4733)."""
        key = info_key(request.header("Content-Type"), request.body_bytes)
        if key is not None:
            self._on_key(leg.key, key)

    def forget(self, leg: SipLeg) -> None:
        """The leg is released: its transaction goes once retransmissions are absorbed."""
        server = self._servers.get(leg.call_id)
        if server is not None and server.leg is leg:
            if server.retransmit is not None:
                server.retransmit.cancel()
                server.retransmit = None
            self._forget_later(leg.call_id)

    # -- what the trunk decides ------------------------------------------------------------
    def answer(self, leg: SipLeg) -> bool:
        """200 OK with our SDP: the call is up (RTP flows from now). False if it is gone."""
        server = self._servers.get(leg.call_id)
        if server is None or server.leg is not leg or server.final is not None:
            return leg.state is LegState.CONFIRMED
        loop = asyncio.get_running_loop()
        leg.state = LegState.CONFIRMED
        leg.answered_at = loop.time()
        extra = [("Contact", leg.contact), ("Allow", ALLOW), ("Content-Type", "application/sdp")]
        self._final(server, 200, extra=extra, body=leg.local_sdp)
        event(log, "sip.inbound_answered", INFO, call=leg.key)
        return True

    def reject(self, leg: SipLeg, code: int = 480) -> None:
        """Refuse a call still ringing (the daemon is stopping, the engine hung it up)."""
        server = self._servers.get(leg.call_id)
        if server is None or server.final is not None:
            return
        self._final(server, code)
        self._end_leg(leg)
        self._on_gone(leg)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for server in self._servers.values():
            if server.retransmit is not None:
                server.retransmit.cancel()
        self._servers.clear()

    # -- internals -------------------------------------------------------------------------
    async def _ring(self, server: _Server, media: RemoteMedia, dialed: str) -> None:
        request = server.request
        rtp = await self._open_rtp()
        if server.final is not None:  # cancelled while the port opened
            if rtp is not None:
                rtp.close()
            return
        if rtp is None:
            self._final(server, 503)
            return
        leg = self._make_leg(request, server.source, rtp, media)
        server.leg = leg
        self._add_leg(leg)
        caller = caller_number(request)
        leg.label = mask_phone(caller)
        self._respond(server, 180)
        self.offered += 1
        event(
            log,
            "sip.inbound_ringing",
            INFO,
            call=leg.key,
            caller=leg.label,
            dialed=mask_phone(dialed),
        )
        self._hooks.offered(InboundOffer(leg.key, caller, dialed))

    def _make_leg(
        self, request: SipMessage, source: Address, rtp: RtpEndpoint, media: RemoteMedia
    ) -> SipLeg:
        f = self._factory
        tag = new_tag()
        session = int(tag[:8], 16)
        leg = SipLeg(
            key=inbound_call_id(request.call_id),
            kind=LegKind.DEBTOR,
            call_id=request.call_id,
            request_uri=request.contact_uri or uri_of(request.header("From") or ""),
            from_header=f"{request.header('To') or ''};tag={tag}",  # we are the callee
            to_header=request.header("From") or "",
            local_tag=tag,
            next_hop=source,
            via_host=f.via_host,
            contact=f.contact,
            user_agent=f.user_agent,
            local_sdp=build_sdp(f.ip, rtp.port, session),
            ring_timeout=0.0,
            rtp=rtp,
            media_ip=f.ip,
            sdp_session=session,
            state=LegState.PROCEEDING,
            inbound=True,
            heard=True,
            telephone_events=telephone_event_types(request.body_bytes),
        )
        leg.remote_tag = request.from_tag
        leg.remote_to = request.header("From")
        leg.remote_target = request.contact_uri
        leg.route_set = list(request.values("Record-Route"))  # a UAS keeps their order (12.1.1)
        leg.invite_cseq = 0  # our own CSeq space for BYE / OPTIONS starts at 1
        leg.local_cseq = 0
        leg.remote_media = media
        rtp.point_at(
            media.target if media.port > 0 and not media.on_hold_address else None,
            media.rtcp_target,
            media.receives,
        )
        return leg

    def _respond(self, server: _Server, code: int, **kw: object) -> None:
        tag = server.leg.local_tag if server.leg is not None else server.tags.get("to")
        if code > 100 and tag is None:
            tag = server.tags.setdefault("to", new_tag())
        data = build_response(
            server.request,
            code,
            to_tag=tag if code > 100 else None,
            user_agent=self._user_agent,
            **kw,  # type: ignore[arg-type]
        )
        server.last_response = data
        self._send(data, server.source)

    def _final(
        self,
        server: _Server,
        code: int,
        *,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        server.final = code
        self._respond(server, code, extra=extra or [], body=body)
        self._retransmit(server, self._t1, 0.0)

    def _retransmit(self, server: _Server, interval: float, waited: float) -> None:
        """Timer G (non-2xx) / the 2xx's own re-sends (13.3.1.4) until the ACK, 64*T1 at most."""
        if waited >= 64 * self._t1:
            server.retransmit = None
            if not server.acked:
                leg = server.leg
                if server.final == 200 and leg is not None and leg.state is LegState.CONFIRMED:
                    event(log, "sip.inbound_no_ack", WARNING, call=leg.key)
                    self._on_unacked(leg)  # 13.3.1.4: no ACK, the dialog ends with a BYE
                self._servers.pop(server.request.call_id, None)
            return

        def again() -> None:
            self._send(server.last_response, server.source)
            self._retransmit(server, min(interval * 2, 4.0), waited + interval)

        server.retransmit = asyncio.get_running_loop().call_later(interval, again)

    def _forget_later(self, call_id: str) -> None:
        """Keep the transaction a while (32 s, timer J/I) to absorb retransmissions."""
        asyncio.get_running_loop().call_later(64 * self._t1, self._servers.pop, call_id, None)
