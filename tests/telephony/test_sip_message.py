"""Parsing and building SIP messages; the pyVoIP defects these replace are shown next to ours."""

from __future__ import annotations

import re

import pytest
from pyVoIP.SIP import SIPClient, SIPMessage

from dialer.domain.calls import CallOutcome
from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.sip_auth import authorization, parse_challenge
from dialer.telephony.sip_leg import LegKind, SipLeg
from dialer.telephony.sip_message import SipMessage, new_call_id, split_values
from dialer.telephony.sip_outcomes import classify
from dialer.telephony.sip_sdp import build_sdp, remote_media


def response(*lines: str, body: str = "") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


OK_200 = response(
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5060",
    "Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>",
    "Record-Route: <sip:p0.example;lr>",
    "From: <sip:dialer@carrier>;tag=ours",
    "To: <sip:15550001@carrier>;tag=theirs;x=1",
    "Call-ID: abc@10.0.0.1",
    "CSeq: 1 INVITE",
    "Contact: <sip:far@10.9.9.9:5070>",
    "Content-Type: application/sdp",
    "Content-Length: 93",
    body="v=0\r\no=- 1 1 IN IP4 10.9.9.9\r\ns=-\r\nc=IN IP4 10.9.9.9\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 101\r\n",
)


def make_leg() -> SipLeg:
    return SipLeg(
        key="call-1",
        kind=LegKind.DEBTOR,
        call_id="abc@10.0.0.1",
        request_uri="sip:15550001@carrier",
        from_header="<sip:dialer@carrier>;tag=ours",
        to_header="<sip:15550001@carrier>",
        local_tag="ours",
        next_hop=("10.0.0.2", 5060),
        via_host="10.0.0.1:5060",
        contact="<sip:dialer@10.0.0.1:5060>",
        user_agent="dialer",
        local_sdp=build_sdp("10.0.0.1", 20000, 1),
        ring_timeout=25,
        rtp=RtpEndpoint(),
    )


def test_parses_what_pyvoip_chokes_on() -> None:
    compact = response(
        "SIP/2.0 181 Call Is Being Forwarded",  # not in pyVoIP's SIPStatus enum
        "v:SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx",  # compact name, no space
        "f: <sip:a@b>;tag=1",
        "t: <tel:+15550001>;tag=2",  # tel: URI: pyVoIP's From/To parser raises
        "i: cid@host",
        "cseq: 7 INVITE",
        "l: 0",
    )
    message = SipMessage(compact)
    assert (message.code, message.call_id, message.cseq) == (181, "cid@host", (7, "INVITE"))
    assert (message.from_tag, message.to_tag, message.top_branch) == ("1", "2", "z9hG4bKx")


def test_record_route_and_tags() -> None:
    message = SipMessage(OK_200)
    assert message.values("Record-Route") == [
        "<sip:p2.example;lr>",
        "<sip:p1.example;lr>",
        "<sip:p0.example;lr>",
    ]
    assert message.to_tag == "theirs"
    assert message.contact_uri == "sip:far@10.9.9.9:5070"
    media = remote_media(message)
    assert media is not None and media.target == ("10.9.9.9", 4000) and media.accepts_pcmu


def test_ack_to_200_keeps_the_200s_to_tag_and_routes() -> None:
    ack = SipMessage(make_leg().ack_for_2xx(SipMessage(OK_200)))
    assert ack.method == "ACK" and ack.request_uri == "sip:far@10.9.9.9:5070"
    assert ack.to_tag == "theirs"
    routes = ["<sip:p0.example;lr>", "<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert ack.values("Route") == routes
    assert ack.top_branch != "z9hG4bKabc"  # a 2xx ACK is a transaction of its own


def test_stock_pyvoip_ack_makes_up_a_fresh_to_tag() -> None:
    """The defect we replace: pyVoIP's gen_ack ignores the To-tag of the 200."""
    client = SIPClient("carrier", 5060, "dialer", "pw", phone=None)  # type: ignore[arg-type]
    client.tagLibrary["abc@10.0.0.1"] = "ours"
    stock_ack = SipMessage(client.gen_ack(SIPMessage(OK_200)).encode())
    assert stock_ack.to_tag != "theirs"


def test_ack_to_a_failure_reuses_the_invite_branch() -> None:
    leg = make_leg()
    invite = SipMessage(leg.invite())
    busy = SipMessage(
        response(
            "SIP/2.0 486 Busy Here",
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch={leg.invite_branch}",
            "From: <sip:dialer@carrier>;tag=ours",
            "To: <sip:15550001@carrier>;tag=b1",
            "Call-ID: abc@10.0.0.1",
            "CSeq: 1 INVITE",
        )
    )
    ack = SipMessage(leg.ack_for_final(busy))
    assert ack.top_branch == invite.top_branch
    assert ack.request_uri == invite.request_uri and ack.cseq == (1, "ACK")
    assert ack.to_tag == "b1"
    cancel = SipMessage(leg.cancel())
    assert cancel.top_branch == invite.top_branch and cancel.cseq == (1, "CANCEL")
    assert cancel.to_tag is None


def test_call_ids_are_globally_unique() -> None:
    ids = {new_call_id("10.0.0.1") for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}@10\.0\.0\.1", i) for i in ids)


def test_stock_pyvoip_call_ids_repeat_across_processes() -> None:
    """The defect we replace: two fresh pyVoIP clients (two processes) make the same ids."""
    first = SIPClient("carrier", 5060, "dialer", "pw", phone=None)  # type: ignore[arg-type]
    second = SIPClient("carrier", 5060, "dialer", "pw", phone=None)  # type: ignore[arg-type]
    assert first.gen_call_id() == second.gen_call_id()


def test_split_values_respects_quotes_and_brackets() -> None:
    assert split_values('"a, b" <sip:x@y>;p=1, <sip:z@w;lr>') == [
        '"a, b" <sip:x@y>;p=1',
        "<sip:z@w;lr>",
    ]


def test_digest_answers_the_challenge() -> None:
    challenge = SipMessage(
        response(
            "SIP/2.0 407 Proxy Authentication Required",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc",
            "From: <sip:dialer@carrier>;tag=ours",
            "To: <sip:1@carrier>;tag=x",
            "Call-ID: abc@10.0.0.1",
            "CSeq: 1 INVITE",
            'Proxy-Authenticate: Digest realm="carrier", nonce="n1", qop="auth,auth-int"',
        )
    )
    parsed = parse_challenge(challenge)
    assert parsed is not None and parsed.header == "Proxy-Authorization" and parsed.qop == "auth"
    name, value = authorization(parsed, "INVITE", "sip:1@carrier", "user", "pw")
    assert name == "Proxy-Authorization"
    assert 'uri="sip:1@carrier"' in value and "qop=auth" in value and "nc=00000001" in value


@pytest.mark.parametrize(
    ("code", "local", "cancelled", "outcome"),
    [
        (486, False, False, CallOutcome.BUSY),
        (600, False, False, CallOutcome.BUSY),
        (486, False, True, CallOutcome.BUSY),  # busy crossed our CANCEL: still busy
        (480, False, False, CallOutcome.NO_ANSWER),
        (408, False, False, CallOutcome.NO_ANSWER),  # the far end's 408
        (408, True, False, CallOutcome.FAILED),  # our timer B: nothing answered at all
        (408, True, True, CallOutcome.NO_ANSWER),  # ... after we had cancelled
        (487, False, True, CallOutcome.NO_ANSWER),
        (404, False, False, CallOutcome.FAILED),
        (503, False, False, CallOutcome.FAILED),
        (302, False, False, CallOutcome.FAILED),
        (603, False, False, CallOutcome.FAILED),
        (488, True, False, CallOutcome.FAILED),
    ],
)
def test_classify(code: int, local: bool, cancelled: bool, outcome: CallOutcome) -> None:
    assert classify(code, local=local, cancelled=cancelled) is outcome
