"""One outbound SIP leg (a debtor call or a collector's nailed-up leg) and its requests.

The requests follow RFC 3261 where pyVoIP's builders do not:
- the ACK of a 2xx is a new transaction to the remote target, with the To-tag *from the
  200* (pyVoIP's `gen_ack` makes up a fresh To-tag, and real PBXs drop the call ~30 s later);
- the ACK of a non-2xx final reuses the INVITE's branch and Request-URI (17.1.1.3);
- CANCEL copies the INVITE's Request-URI, Via branch, From, To and CSeq number (9.1);
- in-dialog requests (ACK for 2xx, BYE) carry the route set from Record-Route;
- the ACK of a 2xx carries the INVITE's credentials (13.2.2.4);
- our SDP in a re-INVITE's answer keeps its o= session id, and its version goes up by one
  exactly when the body changes (RFC 3264 8).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum

from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.sip_message import (
    ALLOW,
    SipMessage,
    build_message,
    new_branch,
    new_call_id,
    new_tag,
)
from dialer.telephony.sip_sdp import RemoteMedia, build_sdp
from dialer.telephony.sip_settings import SipTrunkSettings
from dialer.telephony.sip_transaction import ClientTransaction

Address = tuple[str, int]


class LegKind(Enum):
    DEBTOR = "debtor"
    COLLECTOR = "collector"


class LegState(Enum):
    QUEUED = "queued"  # waiting for the pacer
    CALLING = "calling"  # INVITE sent, nothing heard
    PROCEEDING = "proceeding"  # a provisional response came
    CONFIRMED = "confirmed"  # 2xx received and ACKed
    TERMINATED = "terminated"


@dataclass(eq=False, slots=True)
class SipLeg:
    key: str  # the engine's call id, or the collector id
    kind: LegKind
    call_id: str
    request_uri: str
    from_header: str  # with our tag
    to_header: str  # as sent in the INVITE (no tag)
    local_tag: str
    next_hop: Address
    via_host: str  # "ip:port" for our Via
    contact: str  # our Contact header value
    user_agent: str
    local_sdp: bytes
    ring_timeout: float
    rtp: RtpEndpoint | None = None
    identity: tuple[tuple[str, str], ...] = ()  # P-Asserted-Identity, Remote-Party-ID
    label: str = ""  # what logs may show (a masked number, a collector id)
    inbound: bool = False  # the caller called us (sip_inbound): we are the UAS
    telephone_events: tuple[int, ...] = ()  # payload types the caller's SDP gave DTMF
    state: LegState = LegState.QUEUED
    invite_cseq: int = 1
    local_cseq: int = 1
    invite_branch: str = ""
    invite_txn: ClientTransaction | None = None
    auth_header: tuple[str, str] | None = None
    auth_answered: bool = False  # the INVITE answers a challenge it got itself (not cached)
    auth_retries: int = 0
    media_ip: str = "127.0.0.1"  # the address in our SDP
    sdp_session: int = 0
    sdp_version: int = 1
    offer_in_200: bool = False  # a re-INVITE came without SDP: its ACK carries the answer
    remote_tag: str | None = None
    remote_to: str | None = None  # To header of the 2xx (with its tag)
    remote_target: str | None = None
    route_set: list[str] = field(default_factory=list)
    remote_media: RemoteMedia | None = None
    ack_2xx: bytes | None = None
    ringing: bool = False
    cancel_requested: bool = False
    cancel_sent: bool = False
    invite_sent_at: float | None = None
    heard: bool = False  # any response to the INVITE came (the carrier is alive)
    answered_at: float | None = None
    # Dead-call detection (sip_liveness): media silence counts from the latest of the last
    # packet, the answer and `media_baseline` (a hold, or an in-dialog probe answered).
    media_baseline: float = 0.0
    probing: bool = False  # an in-dialog OPTIONS is out
    keepalive_at: float = 0.0  # when the last in-dialog OPTIONS went
    silent_for: float | None = None  # set when we end it as dead: the media's silence
    trunk_failure: str | None = None  # set when we end it because the trunk is down
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def pre_answer(self) -> bool:
        return self.state in (LegState.QUEUED, LegState.CALLING, LegState.PROCEEDING)

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.via_host};branch={branch};rport"

    def invite(self) -> bytes:
        """A fresh INVITE (new branch; the CSeq goes up on an authenticated retry)."""
        self.invite_branch = new_branch()
        headers = [
            ("Via", self.via(self.invite_branch)),
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", self.to_header),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.invite_cseq} INVITE"),
            ("Contact", self.contact),
            *self.identity,
            ("Allow", ALLOW),
            ("User-Agent", self.user_agent),
        ]
        if self.auth_header is not None:
            headers.append(self.auth_header)
        headers.append(("Content-Type", "application/sdp"))
        return build_message(f"INVITE {self.request_uri} SIP/2.0", headers, self.local_sdp)

    def ack_for_final(self, response: SipMessage) -> bytes:
        """ACK of a non-2xx final: same branch and Request-URI as the INVITE."""
        headers = [
            ("Via", self.via(self.invite_branch)),
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", response.header("To") or self.to_header),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.invite_cseq} ACK"),
            ("User-Agent", self.user_agent),
        ]
        return build_message(f"ACK {self.request_uri} SIP/2.0", headers)

    def _in_dialog(
        self,
        method: str,
        cseq: int,
        to: str,
        target: str,
        routes: list[str],
        extra: list[tuple[str, str]] | None = None,
    ) -> tuple[bytes, str]:
        branch = new_branch()
        headers = [("Via", self.via(branch)), ("Max-Forwards", "70")]
        headers += [("Route", route) for route in routes]
        headers += [
            ("From", self.from_header),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("User-Agent", self.user_agent),
        ]
        if method == "BYE":
            headers.append(("Reason", 'SIP;cause=200;text="Call completed"'))
        headers += extra or []
        return build_message(f"{method} {target} SIP/2.0", headers), branch

    def ack_for_2xx(self, response: SipMessage) -> bytes:
        """ACK of a 2xx: new branch, to the 2xx's Contact, with the 2xx's To-tag and routes,
        and the INVITE's credentials (RFC 3261 13.2.2.4)."""
        to = response.header("To") or self.to_header
        target = response.contact_uri or self.request_uri
        routes = list(reversed(response.values("Record-Route")))
        extra = [self.auth_header] if self.auth_header is not None else []
        data, _ = self._in_dialog("ACK", self.invite_cseq, to, target, routes, extra)
        return data

    def sdp(self, direction: str = "sendrecv", *, port: int | None = None) -> bytes:
        """Our SDP for an answer (or an offer in a 200): same session id, the version up by
        one only when the body changes (RFC 3264 8)."""
        rtp_port = port if port is not None else (self.rtp.port if self.rtp is not None else 0)

        def build() -> bytes:
            return build_sdp(
                self.media_ip,
                rtp_port,
                self.sdp_session,
                version=self.sdp_version,
                direction=direction,
            )

        body = build()
        if body != self.local_sdp:
            self.sdp_version += 1
            body = build()
            self.local_sdp = body
        return body

    def bye(self) -> tuple[bytes, str]:
        self.local_cseq = max(self.local_cseq, self.invite_cseq) + 1
        to = self.remote_to or self.to_header
        target = self.remote_target or self.request_uri
        return self._in_dialog("BYE", self.local_cseq, to, target, self.route_set)

    def options(self) -> tuple[bytes, str]:
        """An in-dialog OPTIONS (a keep-alive: 481 or silence means the dialog is gone)."""
        self.local_cseq = max(self.local_cseq, self.invite_cseq) + 1
        to = self.remote_to or self.to_header
        target = self.remote_target or self.request_uri
        return self._in_dialog("OPTIONS", self.local_cseq, to, target, self.route_set)

    def bye_for_stray(self, response: SipMessage) -> tuple[bytes, bytes, str]:
        """ACK and BYE for a 2xx we do not want (a second fork, or after we gave up)."""
        to = response.header("To") or self.to_header
        target = response.contact_uri or self.request_uri
        routes = list(reversed(response.values("Record-Route")))
        ack, _ = self._in_dialog("ACK", self.invite_cseq, to, target, routes)
        bye, branch = self._in_dialog("BYE", self.invite_cseq + 1, to, target, routes)
        return ack, bye, branch

    def cancel(self) -> bytes:
        headers = [
            ("Via", self.via(self.invite_branch)),
            ("Max-Forwards", "70"),
            ("From", self.from_header),
            ("To", self.to_header),
            ("Call-ID", self.call_id),
            ("CSeq", f"{self.invite_cseq} CANCEL"),
            ("User-Agent", self.user_agent),
        ]
        return build_message(f"CANCEL {self.request_uri} SIP/2.0", headers)

    def clear_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


@dataclass(frozen=True, slots=True)
class LegFactory:
    """What every leg of one trunk shares: our address, identity and SIP domain.

    `from_user` is who we are to the server (the digest username when the trunk has
    credentials, so a registrar that checks the From identity against the credentials
    accepts it); `asserted_id`, when given, is the number the callee should see, sent as
    P-Asserted-Identity (RFC 3325) and Remote-Party-ID (for carriers that only read that),
    with `asserted_name` (the caller name) as their display name.
    """

    ip: str
    port: int
    domain: str  # the server, as it goes into URIs ("host" or "host:port")
    from_user: str
    from_name: str | None
    contact_user: str
    user_agent: str
    asserted_id: str | None = None
    asserted_name: str | None = None

    @classmethod
    def for_trunk(cls, s: SipTrunkSettings, *, ip: str, port: int, domain: str) -> LegFactory:
        """Who the trunk says it is: with `from_user: auth` the From user is the digest
        username and the caller ID goes in P-Asserted-Identity / Remote-Party-ID and in the
        From display name (unless a caller name is set); with `caller_id` the From user is
        the caller ID itself, as before."""
        if s.from_user_mode == "auth":
            from_user, asserted = s.username or "dialer", s.caller_id
            display = s.caller_name or s.caller_id
        else:
            from_user, asserted = s.caller_id or s.username or "dialer", None
            display = s.caller_name
        return cls(
            ip=ip,
            port=port,
            domain=domain,
            from_user=from_user,
            from_name=display,
            contact_user=s.username or "dialer",
            user_agent=s.user_agent,
            asserted_id=asserted,
            asserted_name=s.caller_name,
        )

    @property
    def identity(self) -> tuple[tuple[str, str], ...]:
        if not self.asserted_id:
            return ()
        name = f'"{self.asserted_name}" ' if self.asserted_name else ""
        uri = f"<sip:{self.asserted_id}@{self.domain}>"
        return (
            ("P-Asserted-Identity", f"{name}{uri}"),
            ("Remote-Party-ID", f"{name}{uri};party=calling;screen=no;privacy=off"),
        )

    @property
    def via_host(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.contact_user}@{self.ip}:{self.port}>"

    def make(
        self,
        key: str,
        kind: LegKind,
        uri: str,
        hop: Address,
        ring_timeout: float,
        rtp: RtpEndpoint,
    ) -> SipLeg:
        tag = new_tag()
        name = f'"{self.from_name}" ' if self.from_name else ""
        session = int(tag[:8], 16)
        return SipLeg(
            key=key,
            kind=kind,
            call_id=new_call_id(self.ip),
            request_uri=uri,
            from_header=f"{name}<sip:{self.from_user}@{self.domain}>;tag={tag}",
            to_header=f"<{uri}>",
            local_tag=tag,
            next_hop=hop,
            via_host=self.via_host,
            contact=self.contact,
            user_agent=self.user_agent,
            local_sdp=build_sdp(self.ip, rtp.port, session),
            ring_timeout=ring_timeout,
            rtp=rtp,
            identity=self.identity,
            media_ip=self.ip,
            sdp_session=session,
        )
