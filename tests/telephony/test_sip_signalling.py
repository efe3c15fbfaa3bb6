"""Signalling against a scripted Python far end (no sipp needed).

Each test pins one pyVoIP 1.6.8 defect that must not be reachable through our adapter.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest
from sipkit import FarEnd, TrunkFactory, next_event, trunk_settings

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp, CallRinging
from dialer.telephony.sip_message import SipMessage, build_message, new_branch
from dialer.telephony.sip_sdp import build_sdp

SDP_HEADERS = [("Contact", "<sip:far@127.0.0.1:9>"), ("Content-Type", "application/sdp")]


def answer_sdp() -> bytes:
    return build_sdp("127.0.0.1", 40000, 7)


async def test_start_returns_at_once_without_a_registrar(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """pyVoIP's start() REGISTERs and blocks ~30 s when nothing answers."""
    settings = trunk_settings(far_end.port, register=True, username="u", password="p")
    trunk, _ = await asyncio.wait_for(trunks(settings), 1.0)
    register, _ = await far_end.expect("REGISTER")  # registering goes on in the background
    assert register.header("Expires") == "300"
    assert trunk.registered is False


async def test_does_not_register_unless_configured(trunks: TrunkFactory, far_end: FarEnd) -> None:
    trunk, _ = await trunks(trunk_settings(far_end.port))
    assert trunk.registered is True
    await trunk.originate("c1", "15550001", 25)
    invite, _ = await far_end.expect("INVITE")
    assert invite.request_uri.startswith("sip:15550001@127.0.0.1")
    assert far_end.requests("REGISTER") == []


async def test_originate_never_waits_for_responses_and_gives_up_after_timer_b(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """pyVoIP's call() blocks until the first response; a lost response blocks forever.

    An INVITE that drew no response at all never reached the debtor: a trunk failure (the
    breaker, which would stop the rest, is kept closed here: see test_sip_trunk_health)."""
    settings = trunk_settings(
        far_end.port, timer_t1=0.02, calls_per_second=1000, breaker_failures=1000
    )
    trunk, events = await trunks(settings)

    async def place() -> None:
        for i in range(50):
            await trunk.originate(f"c{i}", f"1555{i:04d}", 25)

    await asyncio.wait_for(place(), 0.5)  # nothing answers, yet every originate returned
    failures = [await next_event(events, 5) for _ in range(50)]
    assert {type(e) for e in failures} == {CallFailed}
    assert {(e.outcome, e.sip_code) for e in failures if isinstance(e, CallFailed)} == {
        (CallOutcome.TRUNK_FAILED, 408)
    }
    sent: dict[str, list[SipMessage]] = defaultdict(list)
    for invite in far_end.requests("INVITE"):
        sent[invite.call_id].append(invite)
    assert len(sent) == 50
    for copies in sent.values():  # timer A: 0, T1, 3T1, 7T1, ... until timer B = 64 T1
        assert len(copies) >= 6
        assert len({c.top_branch for c in copies}) == 1


async def test_cancel_waits_for_a_provisional_then_487_is_acked(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """pyVoIP has no CANCEL at all; RFC 3261 9.1 forbids one before a provisional."""
    trunk, events = await trunks(trunk_settings(far_end.port))
    await trunk.originate("c1", "15550001", 25)
    invite, addr = await far_end.expect("INVITE")
    await trunk.cancel("c1")
    await asyncio.sleep(0.05)
    assert far_end.requests("CANCEL") == []
    far_end.respond(invite, addr, 180, to_tag="t1")
    cancel, addr = await far_end.expect("CANCEL")
    assert cancel.top_branch == invite.top_branch and cancel.cseq == (1, "CANCEL")
    far_end.respond(cancel, addr, 200, to_tag="t1")
    far_end.respond(invite, addr, 487, to_tag="t1")
    ack, _ = await far_end.expect("ACK")
    assert ack.top_branch == invite.top_branch and ack.to_tag == "t1"
    event = await next_event(events)
    assert event == CallFailed("c1", CallOutcome.NO_ANSWER, 487)  # no CallRinging: cancelled


async def test_failure_is_acked_once_per_retransmission(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """pyVoIP never ACKs 486/480/408..., so the far end retransmits and the call hangs."""
    trunk, events = await trunks(trunk_settings(far_end.port))
    await trunk.originate("c1", "15550001", 25)
    invite, addr = await far_end.expect("INVITE")
    far_end.respond(invite, addr, 183, to_tag="b")
    assert await next_event(events) == CallRinging("c1")
    for _ in range(2):  # the 486 and its retransmission
        far_end.respond(invite, addr, 486, to_tag="b")
        ack, _ = await far_end.expect("ACK")
        assert ack.top_branch == invite.top_branch and ack.request_uri == invite.request_uri
    assert await next_event(events) == CallFailed("c1", CallOutcome.BUSY, 486)
    assert events.empty()


async def test_200_is_acked_with_its_to_tag_and_bye_goes_both_ways(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    trunk, events = await trunks(trunk_settings(far_end.port))
    for call in ("ours", "theirs"):
        await trunk.originate(call, "15550001", 25)
        invite, addr = await far_end.expect("INVITE")
        far_end.respond(invite, addr, 180, to_tag="tag200")
        ok = far_end.respond(
            invite, addr, 200, to_tag="tag200", extra=SDP_HEADERS, body=answer_sdp()
        )
        acks = [(await far_end.expect("ACK"))[0]]
        far_end.send(ok, addr)  # a retransmitted 200 (as if our ACK were lost) is ACKed again
        acks.append((await far_end.expect("ACK"))[0])
        assert [a.to_tag for a in acks] == ["tag200", "tag200"]
        assert acks[0].request_uri == "sip:far@127.0.0.1:9"
        assert [await next_event(events) for _ in range(2)] == [
            CallRinging(call),
            CallAnswered(call),
        ]
        if call == "ours":
            await trunk.hangup(call)
            bye, addr = await far_end.expect("BYE")
            assert bye.to_tag == "tag200" and bye.from_tag == invite.from_tag
            far_end.respond(bye, addr, 200)
        else:
            bye_data = build_message(
                f"BYE {invite.contact_uri} SIP/2.0",
                [
                    ("Via", f"SIP/2.0/UDP 127.0.0.1:{far_end.port};branch={new_branch()}"),
                    ("From", "<sip:15550001@127.0.0.1>;tag=tag200"),
                    ("To", invite.header("From") or ""),
                    ("Call-ID", invite.call_id),
                    ("CSeq", "1 BYE"),
                ],
            )
            far_end.send(bye_data, addr)
            ok_bye, _ = await far_end.expect("BYE")
            assert ok_bye.is_response and ok_bye.code == 200
        assert await next_event(events) == CallHungUp(call)


async def test_call_ids_differ_across_two_trunks(trunks: TrunkFactory, far_end: FarEnd) -> None:
    """pyVoIP hashes a per-process counter: every process makes the same Call-IDs."""
    first, _ = await trunks(trunk_settings(far_end.port, calls_per_second=1000))
    second, _ = await trunks(trunk_settings(far_end.port, calls_per_second=1000))
    for i in range(100):
        await first.originate(f"a{i}", "15550001", 25)
        await second.originate(f"a{i}", "15550001", 25)

    async def all_arrived() -> None:
        while len({m.call_id for m in far_end.requests("INVITE")}) < 200:
            await far_end.expect("INVITE")

    await asyncio.wait_for(all_arrived(), 5)
    assert len({m.call_id for m in far_end.requests("INVITE")}) == 200


async def test_invites_are_paced_to_calls_per_second(trunks: TrunkFactory, far_end: FarEnd) -> None:
    trunk, _ = await trunks(trunk_settings(far_end.port, calls_per_second=20))
    loop = asyncio.get_running_loop()
    began = loop.time()
    for i in range(6):
        await trunk.originate(f"c{i}", "15550001", 25)
    assert loop.time() - began < 0.2  # originate only queues
    firsts: dict[str, float] = {}

    async def arrivals() -> None:
        while len(firsts) < 6:
            message, _, at = await far_end.messages.get()
            firsts.setdefault(message.call_id, at)

    await asyncio.wait_for(arrivals(), 5)
    span = max(firsts.values()) - min(firsts.values())
    assert span >= 5 / 20 * 0.9  # 6 INVITEs at 20/s take 250 ms


async def test_receive_buffer_is_raised(trunks: TrunkFactory, far_end: FarEnd) -> None:
    wanted = 4 * 1024 * 1024
    trunk, _ = await trunks(trunk_settings(far_end.port, recv_buffer_bytes=wanted))
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    # Linux reports twice what it grants; without CAP_NET_ADMIN rmem_max caps the grant
    assert trunk.stats.recv_buffer_bytes >= min(wanted, 2 * rmem_max)
    assert trunk.stats.recv_buffer_bytes > 2 * 212992 or rmem_max <= 212992


@pytest.mark.parametrize("method", ["OPTIONS", "INVITE"])
async def test_out_of_dialog_requests_are_answered(
    trunks: TrunkFactory, far_end: FarEnd, method: str
) -> None:
    trunk, _ = await trunks(trunk_settings(far_end.port))
    host, port = trunk.local_address
    far_end.send(
        build_message(
            f"{method} sip:dialer@{host}:{port} SIP/2.0",
            [
                ("Via", f"SIP/2.0/UDP 127.0.0.1:{far_end.port};branch={new_branch()}"),
                ("From", "<sip:x@127.0.0.1>;tag=a"),
                ("To", f"<sip:dialer@{host}>"),
                ("Call-ID", "probe@127.0.0.1"),
                ("CSeq", f"1 {method}"),
            ],
        ),
        (host, port),
    )
    reply, _ = await far_end.expect(method)
    assert reply.is_response and reply.code == (200 if method == "OPTIONS" else 486)


@pytest.mark.parametrize("number", ["1555 0001", "15550001>", "1555\r\nX-Evil: 1", ""])
async def test_undialable_numbers_never_reach_the_wire(
    trunks: TrunkFactory, far_end: FarEnd, number: str
) -> None:
    trunk, events = await trunks(trunk_settings(far_end.port))
    await trunk.originate("c1", number, 25)
    assert await next_event(events) == CallFailed("c1", CallOutcome.FAILED, 484)
    assert far_end.log == []


async def test_reinvite_is_answered_with_our_sdp_until_acked(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    trunk, events = await trunks(trunk_settings(far_end.port, timer_t1=0.05))
    await trunk.originate("c1", "15550001", 25)
    invite, addr = await far_end.expect("INVITE")
    far_end.respond(invite, addr, 200, to_tag="t", extra=SDP_HEADERS, body=answer_sdp())
    await far_end.expect("ACK")
    assert await next_event(events) == CallAnswered("c1")
    offer = build_sdp("127.0.0.1", 40002, 8)
    reinvite = build_message(
        f"INVITE {invite.contact_uri} SIP/2.0",
        [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{far_end.port};branch={new_branch()}"),
            ("From", "<sip:15550001@127.0.0.1>;tag=t"),
            ("To", invite.header("From") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", "2 INVITE"),
            ("Contact", "<sip:far@127.0.0.1:9>"),
            ("Content-Type", "application/sdp"),
        ],
        offer,
    )
    far_end.send(reinvite, addr)
    first, _ = await far_end.expect("INVITE")
    again, _ = await far_end.expect("INVITE")  # retransmitted: no ACK yet
    assert first.is_response and first.code == 200 and b"m=audio" in first.body_bytes
    assert again.is_response and again.code == 200
    assert first.to_tag == invite.from_tag
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    bye, addr = await far_end.expect("BYE")
    far_end.respond(bye, addr, 200)
