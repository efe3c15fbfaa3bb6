"""The inbound media pieces without a network: RFC 4733 and SIP INFO keys, the callback
offer's timeout and choices, the voicemail file (tiny prompts, short timeouts)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from dialer.telephony.rtp_dtmf import DtmfDetector, info_key, rtp_payload, telephone_event_types
from dialer.telephony.rtp_forwarder import RtpEndpoint
from dialer.telephony.sip_inbound import caller_number, inbound_call_id, user_part
from dialer.telephony.sip_inbound_media import InboundMedia, InboundPrompts
from dialer.telephony.sip_leg import LegFactory, LegKind, SipLeg
from dialer.telephony.sip_message import SipMessage

SILENT = [b"\xff" * 160] * 2


def event(ssrc: int, seq: int, ts: int, key: int, end: bool, pt: int = 101) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc) + struct.pack(
        "!BBH", key, (0x80 if end else 0) | 10, 320
    )


def test_one_key_per_event_whatever_its_repeated_end_packets() -> None:
    keys: list[str] = []
    detector = DtmfDetector(keys.append, (101,))
    for seq, end in enumerate((False, False, True, True, True)):
        detector.packet(event(1, seq, 1000, 5, end))
    detector.packet(event(1, 9, 2000, 5, True))  # pressed again: a new event
    detector.packet(event(1, 10, 3000, 11, False))  # '#'
    detector.packet(event(1, 11, 4000, 16, False))  # flash: no key
    detector.packet(event(1, 12, 5000, 1, False, pt=0))  # audio, not an event
    detector.packet(b"\x80")  # not RTP
    assert keys == ["5", "5", "#"]


def test_sip_info_keys_and_sdp_event_types() -> None:
    assert info_key("application/dtmf-relay", b"Signal=1\r\nDuration=160\r\n") == "1"
    assert info_key("application/dtmf-relay; charset=x", b"Signal= *\r\n") == "*"
    assert info_key("application/dtmf", b"11") == "#"
    assert info_key("text/plain", b"1") is None
    assert info_key("application/dtmf-relay", b"Duration=160") is None
    body = b"m=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
    assert telephone_event_types(body) == (96,)
    assert telephone_event_types(b"m=audio 4000 RTP/AVP 0\r\n") == (101,)
    padded = struct.pack("!BBHII", 0xA0, 0, 1, 1, 1) + b"abc" + b"\x00\x02"
    assert rtp_payload(padded) == b"abc"


def test_the_caller_is_the_asserted_identity_over_from() -> None:
    raw = (
        b"INVITE sip:+442071234567@dialer SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa\r\n"
        b"From: <sip:anonymous@anonymous.invalid>;tag=1\r\nTo: <sip:+442071234567@dialer>\r\n"
        b"Call-ID: abc\r\nCSeq: 1 INVITE\r\n"
        b'P-Asserted-Identity: "Carrier" <sip:+447700900123@carrier;user=phone>\r\n'
        b"Content-Length: 0\r\n\r\n"
    )
    request = SipMessage(raw)
    assert caller_number(request) == "+447700900123"
    assert user_part("<tel:+15550100;phone-context=x>") == "+15550100"
    assert user_part("sip:host.only") == ""
    assert inbound_call_id("abc") == inbound_call_id("abc") != inbound_call_id("abd")


def leg() -> SipLeg:
    factory = LegFactory("127.0.0.1", 5060, "dialer", "dialer", None, "dialer", "dialer")
    return factory.make("in-1", LegKind.DEBTOR, "sip:x@y", ("127.0.0.1", 9), 0.0, RtpEndpoint())


def media(
    tmp_path: Path, choices: list[tuple[str, str]], recordings: dict[str, Path]
) -> InboundMedia:
    prompts = InboundPrompts(queue=SILENT, hold=SILENT, offer=SILENT, voicemail=SILENT)
    return InboundMedia(
        prompts,
        on_choice=lambda call_id, choice: choices.append((call_id, choice)),
        on_recording=lambda call_id, path: recordings.__setitem__(call_id, path),
        hang_up=lambda _leg: None,
        voicemail_dir=tmp_path,
        offer_timeout=0.1,
        voicemail_max=5.0,
    )


async def until(condition: Callable[[], object], timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_no_key_after_the_offer_is_the_choice_none(tmp_path: Path) -> None:
    choices: list[tuple[str, str]] = []
    m = media(tmp_path, choices, {})
    m.offer(leg())
    m.key("in-1", "3")  # not an option: still waiting
    await until(lambda: choices)
    assert choices == [("in-1", "none")]
    m.key("in-1", "1")  # too late: one choice per offer
    assert choices == [("in-1", "none")]


async def test_a_voicemail_is_recorded_after_its_prompt_and_written_at_the_end(
    tmp_path: Path,
) -> None:
    choices: list[tuple[str, str]] = []
    recordings: dict[str, Path] = {}
    m = media(tmp_path, choices, recordings)
    caller = leg()
    m.offer(caller)
    m.key("in-1", "2")
    assert choices == [("in-1", "voicemail")]
    await until(lambda: "in-1" in recordings)
    assert caller.rtp is not None
    voice = bytes(range(160))
    for seq in range(3):
        for tap in list(caller.rtp.taps):
            tap.received(struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 5) + voice, 0.0)
    m.ended("in-1")
    await m.drain()
    data = recordings["in-1"].read_bytes()
    assert data.endswith(voice * 3) and struct.unpack_from("<H", data, 20)[0] == 7
    assert caller.rtp.taps == []  # nothing listens to a finished call


@pytest.mark.parametrize("key", ["1", "2"])
async def test_a_collector_taking_the_call_stops_the_offer(tmp_path: Path, key: str) -> None:
    choices: list[tuple[str, str]] = []
    m = media(tmp_path, choices, {})
    caller = leg()
    m.offer(caller)
    m.stop("in-1")  # bridged
    m.key("in-1", key)
    assert choices == [] and caller.rtp is not None and caller.rtp.taps == []
