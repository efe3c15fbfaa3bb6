"""What real carriers and phones expect of the trunk, each against an RFC, on 127.0.0.1.

A scripted Python far end (sipkit.FarEnd) plays the carrier, the registrar and the phones,
so each test can see exactly what goes on the wire and when; sipp checks the digest maths
independently (its `verifyauth`). Times are the receive side's loop clock, never sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import struct
import time
from typing import Any

import pytest
from dialogkit import answer_next, rtp, sdp, wait_until
from sipkit import (
    FarEnd,
    RtpPeer,
    RtpPeerFactory,
    SippFactory,
    TrunkFactory,
    next_event,
    trunk_settings,
)

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp
from dialer.telephony import rtp_rtcp
from dialer.telephony.port import TrunkEvent
from dialer.telephony.rtp_packet import RtpHeader
from dialer.telephony.rtp_player import PLAYOUT_ALLOWANCE
from dialer.telephony.sip import SipTrunk
from dialer.telephony.sip_message import SipMessage, header_param

Address = tuple[str, int]
PASSWORD = "s3cret"


# -- helpers -------------------------------------------------------------------------------
def sdp_direction(body: bytes) -> str:
    found = re.findall(rb"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", body, re.M)
    assert len(found) == 1, body
    return found[0].decode()


def sdp_version(body: bytes) -> int:
    match = re.search(rb"^o=\S+ \d+ (\d+) ", body, re.M)
    assert match is not None, body
    return int(match.group(1))


def tagged(source: int, seq: int) -> bytes:
    """A packet whose payload says who sent it and its number: the relay rewrites headers
    (each leg's own SSRC), never payloads."""
    return rtp(source, seq, bytes([source]) + seq.to_bytes(2, "big") + b"\xd5" * 157)


def tags(packets: list[bytes]) -> list[tuple[int, int]]:
    """(source, number) of the relayed packets among `packets` (not our silence)."""
    return [(p[12], int.from_bytes(p[13:15], "big")) for p in packets if p[12:] != b"\xff" * 160]


def sequences(packets: list[bytes], ssrc: int) -> list[int]:
    return [RtpHeader.parse(p).sequence for p in packets if RtpHeader.parse(p).ssrc == ssrc]


def drain(peer: RtpPeer) -> list[bytes]:
    out: list[bytes] = []
    while not peer.packets.empty():
        out.append(peer.packets.get_nowait()[0])
    return out


def digest_params(header: str) -> dict[str, str]:
    return {
        m.group(1): m.group(3) if m.group(3) is not None else m.group(2)
        for m in re.finditer(r'(\w+)=("([^"]*)"|[^,\s]+)', header.partition(" ")[2])
    }


def check_digest(header: str, method: str, user: str = "alice", password: str = PASSWORD) -> None:
    """The digest response, recomputed here from RFC 2617 3.2.2 (MD5, qop=auth)."""
    p = digest_params(header)

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:{p['realm']}:{password}")
    ha2 = md5(f"{method}:{p['uri']}")
    expected = md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    assert p["response"] == expected and p["username"] == user


async def hang_up(
    trunk: SipTrunk, events: asyncio.Queue[TrunkEvent], far: FarEnd, call: str
) -> None:
    """Our BYE, answered (so the trunk's stop does not wait for it)."""
    await trunk.hangup(call)
    assert await next_event(events) == CallHungUp(call)
    bye, addr = await far.expect("BYE")
    far.respond(bye, addr, 200)


async def log_out(trunk: SipTrunk, far: FarEnd, *collectors: str) -> None:
    for collector in collectors:
        await trunk.collector_logout(collector)
        bye, addr = await far.expect("BYE")
        far.respond(bye, addr, 200)


def challenge(
    far: FarEnd, request: SipMessage, addr: Address, code: int, nonce: str, stale: bool = False
) -> None:
    name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
    value = f'Digest realm="dialer.test", nonce="{nonce}", qop="auth", algorithm=MD5'
    if stale:
        value += ", stale=true"
    far.respond(request, addr, code, to_tag="challenger", extra=[(name, value)])


# -- RFC 3264: hold and resume ---------------------------------------------------------------
async def test_reinvite_answers_follow_rfc3264_directions(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """sendonly -> recvonly, inactive -> inactive, recvonly -> sendonly, sendrecv back; the
    o= version goes up exactly when our SDP changes (RFC 3264 6.1, 8)."""
    trunk, events = await trunks(trunk_settings(far_end.port, timer_t1=0.05))
    await trunk.originate("c1", "15550001", 25)
    dialog = await answer_next(far_end, 40000, "t")
    assert await next_event(events) == CallAnswered("c1")
    assert sdp_version(dialog.invite.body_bytes) == 1
    expected = [
        ("sendonly", "recvonly", 2),
        ("inactive", "inactive", 3),
        ("recvonly", "sendonly", 4),
        ("sendrecv", "sendrecv", 5),
        ("sendrecv", "sendrecv", 5),  # a session refresh: nothing changed, same version
    ]
    for version, (offered, answered, ours) in enumerate(expected, start=2):
        ok = await dialog.reinvite(sdp(40000, offered, version))
        assert ok.code == 200
        assert (sdp_direction(ok.body_bytes), sdp_version(ok.body_bytes)) == (answered, ours)
    await hang_up(trunk, events, far_end, "c1")


async def test_reinvite_without_pcmu_is_refused_and_the_call_stays(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    trunk, events = await trunks(trunk_settings(far_end.port, timer_t1=0.05))
    await trunk.originate("c1", "15550001", 25)
    dialog = await answer_next(far_end, 40000, "t")
    assert await next_event(events) == CallAnswered("c1")
    g729_only = sdp(40000, version=2).replace(b"RTP/AVP 0 101", b"RTP/AVP 18")
    refused = await dialog.reinvite(g729_only)
    assert refused.code == 488
    await hang_up(trunk, events, far_end, "c1")  # the call is still up: our BYE


async def test_relay_sends_nothing_to_a_debtor_who_holds(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    """While the debtor holds (sendonly), the collector's speech is not relayed to it."""
    debtor, phone = await rtp_peers(), await rtp_peers()
    collectors = {"alice": f"sip:alice@127.0.0.1:{far_end.port}"}
    trunk, events = await trunks(trunk_settings(far_end.port, collectors=collectors, timer_t1=0.05))
    login = asyncio.ensure_future(trunk.collector_login("alice", None))
    await answer_next(far_end, phone.port, "p")
    await asyncio.wait_for(login, 5)
    await trunk.originate("c1", "15550001", 25)
    debtor_dialog = await answer_next(far_end, debtor.port, "d")
    assert await next_event(events) == CallAnswered("c1")
    await trunk.bridge("c1", "alice")
    agent_leg = ("127.0.0.1", trunk.collector_rtp_port("alice") or 0)
    debtor_leg = ("127.0.0.1", trunk.call_rtp_port("c1") or 0)

    debtor.send(tagged(0xD, 1), debtor_leg)  # bridged: the first packet goes through
    await wait_until(lambda: (0xD, 1) in tags(drain(phone)))
    phone.send(tagged(0xA, 1), agent_leg)
    assert tags([(await debtor.next())[0]]) == [(0xA, 1)]

    held = await debtor_dialog.reinvite(sdp(debtor.port, "sendonly", 2))
    assert sdp_direction(held.body_bytes) == "recvonly"
    stats_before = trunk.stats.rtp_received
    for seq in range(2, 52):  # the collector talks while the debtor holds
        phone.send(tagged(0xA, seq), agent_leg)
    await wait_until(lambda: trunk.stats.rtp_received >= stats_before + 50)
    resumed = await debtor_dialog.reinvite(sdp(debtor.port, "sendrecv", 3))
    assert sdp_direction(resumed.body_bytes) == "sendrecv"
    phone.send(tagged(0xA, 52), agent_leg)
    heard = [(await debtor.next())[0]]
    heard += drain(debtor)
    # same socket pair on loopback keeps order: had any held packet gone out, it came first
    assert tags(heard) == [(0xA, 52)]
    debtor.send(tagged(0xD, 2), debtor_leg)  # the other way was never held
    await wait_until(lambda: (0xD, 2) in tags(drain(phone)))
    await hang_up(trunk, events, far_end, "c1")
    await log_out(trunk, far_end, "alice")


@pytest.mark.parametrize(
    ("direction", "address", "answered"),
    [
        ("inactive", "127.0.0.1", "inactive"),
        ("sendonly", "127.0.0.1", "recvonly"),
        ("sendrecv", "0.0.0.0", "sendrecv"),  # RFC 2543 hold: 0.0.0.0 would mean this host
    ],
)
async def test_idle_silence_stops_while_the_collector_phone_holds(
    trunks: TrunkFactory,
    far_end: FarEnd,
    rtp_peers: RtpPeerFactory,
    direction: str,
    address: str,
    answered: str,
) -> None:
    """A phone that holds us hears no silence packets; bob's leg is the test's clock."""
    alice, bob = await rtp_peers(), await rtp_peers()
    collectors = {
        "alice": f"sip:alice@127.0.0.1:{far_end.port}",
        "bob": f"sip:bob@127.0.0.1:{far_end.port}",
    }
    trunk, _ = await trunks(trunk_settings(far_end.port, collectors=collectors, timer_t1=0.05))
    login = asyncio.ensure_future(trunk.collector_login("alice", None))
    alice_dialog = await answer_next(far_end, alice.port, "a")
    await asyncio.wait_for(login, 5)
    login = asyncio.ensure_future(trunk.collector_login("bob", None))
    await answer_next(far_end, bob.port, "b")
    await asyncio.wait_for(login, 5)
    before = [(await alice.next())[0] for _ in range(3)]

    held = await alice_dialog.reinvite(sdp(alice.port, direction, 2, address=address))
    assert sdp_direction(held.body_bytes) == answered
    received = before + drain(alice)
    bob.drain()
    for _ in range(15):  # 300 ms of bob's silence: alice's stream would have sent ~15
        await bob.next()
    resumed = await alice_dialog.reinvite(sdp(alice.port, "sendrecv", 3))
    assert sdp_direction(resumed.body_bytes) == "sendrecv"
    received += [(await alice.next())[0] for _ in range(3)]
    ssrc = RtpHeader.parse(before[0]).ssrc
    seqs = sequences(received, ssrc)
    gaps = [b - a for a, b in itertools.pairwise(seqs)]
    assert max(gaps) >= 10, seqs  # the packets of the hold were never sent
    assert sorted(gaps)[-2] == 1  # and nothing else was missing
    await log_out(trunk, far_end, "alice", "bob")


# -- RTCP ----------------------------------------------------------------------------------
class RtcpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: asyncio.Queue[bytes] = asyncio.Queue()
        self.errors: list[Exception] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)  # ICMP port unreachable, on a connected socket


async def open_rtp_pair() -> tuple[RtpPeer, RtcpPeer, list[asyncio.BaseTransport]]:
    """An RTP socket on an even port with its RTCP socket on the port above."""
    loop = asyncio.get_running_loop()
    for base in range(41000, 49000, 2):
        rtp_peer, rtcp_peer = RtpPeer(), RtcpPeer()
        try:
            t1, _ = await loop.create_datagram_endpoint(
                lambda p=rtp_peer: p, local_addr=("127.0.0.1", base)
            )
        except OSError:
            continue
        try:
            t2, _ = await loop.create_datagram_endpoint(
                lambda p=rtcp_peer: p, local_addr=("127.0.0.1", base + 1)
            )
        except OSError:
            t1.close()
            continue
        return rtp_peer, rtcp_peer, [t1, t2]
    raise OSError("no free port pair")


def sender_report(ssrc: int, wall: float) -> bytes:
    seconds, fraction = rtp_rtcp.ntp_timestamp(wall)
    sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, seconds, fraction, 0, 20, 3200)
    cname = b"far"
    chunk = struct.pack("!I", ssrc) + bytes([1, len(cname)]) + cname + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return sr + struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def report_blocks(data: bytes) -> tuple[int, list[tuple[int, int, int]]]:
    """(packet type, [(ssrc, highest seq, LSR)]) of the first packet of a compound."""
    first, kind, _ = struct.unpack_from("!BBH", data)
    offset = 8 + (20 if kind == 200 else 0)
    blocks = []
    for _ in range(first & 0x1F):
        ssrc, _lost, highest, _jitter, lsr, _dlsr = struct.unpack_from("!IIIIII", data, offset)
        blocks.append((ssrc, highest, lsr))
        offset += 24
    return kind, blocks


async def test_rtcp_port_is_open_and_receiver_reports_come_back(
    trunks: TrunkFactory, far_end: FarEnd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RTCP sent to our RTP port + 1 draws no ICMP error, and our report on the far end's
    stream names its last sequence number and echoes its SR (LSR)."""
    monkeypatch.setattr(rtp_rtcp, "RTCP_INTERVAL", 0.2)
    peer, peer_rtcp, transports = await open_rtp_pair()
    loop = asyncio.get_running_loop()
    try:
        trunk, events = await trunks(trunk_settings(far_end.port))
        await trunk.originate("c1", "15550001", 25)
        await answer_next(far_end, peer.port, "t")
        assert await next_event(events) == CallAnswered("c1")
        rtp_port = trunk.call_rtp_port("c1") or 0
        prober = RtcpPeer()
        probe, _ = await loop.create_datagram_endpoint(
            lambda: prober, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", rtp_port + 1)
        )
        transports.append(probe)
        for seq in range(100, 120):
            peer.send(rtp(0xFA, seq), ("127.0.0.1", rtp_port))
        wall = time.time()
        report = sender_report(0xFA, wall)
        assert peer_rtcp.transport is not None
        peer_rtcp.transport.sendto(report, ("127.0.0.1", rtp_port + 1))  # from port + 1
        # from a connected socket, which hears ICMP errors: on loopback the port
        # unreachable for the first datagram is queued before sendto returns, and the
        # second sendto reports it (asyncio passes it to error_received)
        probe.sendto(report)
        probe.sendto(report)
        assert prober.errors == []

        seconds, fraction = rtp_rtcp.ntp_timestamp(wall)
        lsr = ((seconds & 0xFFFF) << 16) | (fraction >> 16)

        async def our_report() -> tuple[int, bytes]:
            while True:
                data = await peer_rtcp.packets.get()
                kind, blocks = report_blocks(data)
                if (0xFA, 119, lsr) in blocks:
                    return kind, data

        kind, data = await asyncio.wait_for(our_report(), 5)
        assert kind in (200, 201)  # SR or RR first (RFC 3550 6.1)
        types = [t for t, _, _ in rtp_rtcp.packets(data)]
        assert types[1:] == [202]  # then SDES with the CNAME
        assert prober.errors == []  # nothing said our RTCP port was closed
        await hang_up(trunk, events, far_end, "c1")
    finally:
        for transport in transports:
            transport.close()


async def test_bridged_each_phone_gets_our_reports_on_the_stream_it_hears(
    trunks: TrunkFactory, far_end: FarEnd, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bridged, each phone hears one stream from us (its leg's SSRC, the other side's audio
    carried on in it), so we report to it: an SR from that SSRC with a report block on the
    stream it sends us. The other phone's reports describe a stream it never hears from
    us: they are read, not passed on."""
    monkeypatch.setattr(rtp_rtcp, "RTCP_INTERVAL", 0.1)
    debtor, debtor_rtcp, transports = await open_rtp_pair()
    phone, phone_rtcp, more = await open_rtp_pair()
    transports += more
    try:
        collectors = {"alice": f"sip:alice@127.0.0.1:{far_end.port}"}
        trunk, events = await trunks(trunk_settings(far_end.port, collectors=collectors))
        login = asyncio.ensure_future(trunk.collector_login("alice", None))
        await answer_next(far_end, phone.port, "p")
        await asyncio.wait_for(login, 5)
        await trunk.originate("c1", "15550001", 25)
        await answer_next(far_end, debtor.port, "d")
        assert await next_event(events) == CallAnswered("c1")
        await trunk.bridge("c1", "alice")
        debtor_leg = trunk.call_rtp_port("c1") or 0
        agent_leg = trunk.collector_rtp_port("alice") or 0
        assert debtor_rtcp.transport is not None and phone_rtcp.transport is not None
        for seq in range(500, 530):
            debtor.send(rtp(0xD0, seq), ("127.0.0.1", debtor_leg))
            phone.send(rtp(0xA0, seq + 1000), ("127.0.0.1", agent_leg))
        debtor_report = sender_report(0xD0, time.time())
        debtor_rtcp.transport.sendto(debtor_report, ("127.0.0.1", debtor_leg + 1))
        phone_rtcp.transport.sendto(sender_report(0xA0, time.time()), ("127.0.0.1", agent_leg + 1))
        heard_by_phone = RtpHeader.parse((await phone.next())[0]).ssrc

        async def report_on(peer: RtcpPeer, ssrc: int, highest: int) -> bytes:
            while True:
                data = await peer.packets.get()
                assert data != debtor_report  # never relayed
                _, blocks = report_blocks(data)
                if any(b[0] == ssrc and b[1] == highest for b in blocks):
                    return data

        to_debtor = await asyncio.wait_for(report_on(debtor_rtcp, 0xD0, 529), 5)
        to_phone = await asyncio.wait_for(report_on(phone_rtcp, 0xA0, 1529), 5)
        assert struct.unpack_from("!I", to_phone, 4)[0] == heard_by_phone  # from its stream
        assert report_blocks(to_phone)[0] == 200  # a sender report: we send it the debtor
        assert struct.unpack_from("!I", to_debtor, 4)[0] != heard_by_phone  # one SSRC a leg
        await hang_up(trunk, events, far_end, "c1")
        await log_out(trunk, far_end, "alice")
    finally:
        for transport in transports:
            transport.close()


# -- the safe-harbor message's tail ----------------------------------------------------------
async def test_bye_waits_for_the_last_packets_playout(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory, tmp_path: Any
) -> None:
    frames = 10
    message = tmp_path / "safe_harbor.pcmu"
    message.write_bytes(b"\x55" * 160 * frames)
    debtor = await rtp_peers()
    trunk, events = await trunks(trunk_settings(far_end.port, safe_harbor_file=message))
    await trunk.originate("c1", "15550001", 25)
    await answer_next(far_end, debtor.port, "t")
    assert await next_event(events) == CallAnswered("c1")
    await trunk.play_safe_harbor("c1")
    arrivals = [(await debtor.next())[2] for _ in range(frames)]
    bye, addr = await far_end.expect("BYE")
    bye_at = next(at for m, at in far_end.log if m is bye)
    far_end.respond(bye, addr, 200)
    duration = frames * 0.020
    # the last packet has played out (its own 20 ms) and the jitter buffer has drained
    assert bye_at - arrivals[-1] >= 0.020 + PLAYOUT_ALLOWANCE / 2
    assert bye_at - arrivals[0] >= duration + PLAYOUT_ALLOWANCE - 0.05
    assert bye_at - arrivals[0] < duration + PLAYOUT_ALLOWANCE + 1.0
    assert await next_event(events) == CallHungUp("c1")


# -- REGISTER and digest ---------------------------------------------------------------------
async def test_register_keeps_the_registrars_port_and_reuses_its_nonce(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    settings = trunk_settings(far_end.port, register=True, username="alice", password=PASSWORD)
    trunk, _ = await trunks(settings)
    uri = f"sip:127.0.0.1:{far_end.port}"
    first, addr = await far_end.expect("REGISTER")
    assert first.request_uri == uri and first.header("Authorization") is None
    challenge(far_end, first, addr, 401, "nonce-1")
    second, addr = await far_end.expect("REGISTER")
    auth = second.header("Authorization") or ""
    assert digest_params(auth)["uri"] == uri and digest_params(auth)["nc"] == "00000001"
    check_digest(auth, "REGISTER")
    far_end.respond(second, addr, 200, to_tag="r", extra=[("Expires", "300")])
    await wait_until(lambda: trunk.registered)

    stopping = asyncio.ensure_future(trunk.stop())
    unregister, addr = await far_end.expect("REGISTER")  # no 401 first: the nonce again
    assert unregister.header("Expires") == "0"
    auth = unregister.header("Authorization") or ""
    assert digest_params(auth)["nonce"] == "nonce-1" and digest_params(auth)["nc"] == "00000002"
    check_digest(auth, "REGISTER")
    far_end.respond(unregister, addr, 200, to_tag="r")
    await asyncio.wait_for(stopping, 5)
    assert len(far_end.requests("REGISTER")) == 3


async def invite_answered(far: FarEnd, invite: SipMessage, addr: Address) -> None:
    headers = [("Contact", f"<sip:far@127.0.0.1:{far.port}>"), ("Content-Type", "application/sdp")]
    far.respond(invite, addr, 200, to_tag="ok", extra=headers, body=sdp(40000))
    await far.expect("ACK")


async def test_invites_answer_the_cached_challenge_and_a_stale_nonce(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """One 407 for the first call; the next carries Proxy-Authorization with nc=2; a
    stale=true 407 is answered with the new nonce; a refused fresh answer is not retried."""
    settings = trunk_settings(far_end.port, username="alice", password=PASSWORD)
    trunk, events = await trunks(settings)

    await trunk.originate("c1", "15550001", 25)
    invite, addr = await far_end.expect("INVITE")
    assert invite.header("Proxy-Authorization") is None
    challenge(far_end, invite, addr, 407, "nonce-A")
    await far_end.expect("ACK")
    retry, addr = await far_end.expect("INVITE")
    auth = retry.header("Proxy-Authorization") or ""
    check_digest(auth, "INVITE")
    assert digest_params(auth)["nc"] == "00000001" and retry.cseq[0] == invite.cseq[0] + 1
    await invite_answered(far_end, retry, addr)
    assert await next_event(events) == CallAnswered("c1")

    await trunk.originate("c2", "15550002", 25)  # no round trip: credentials come at once
    invite, addr = await far_end.expect("INVITE")
    auth = invite.header("Proxy-Authorization") or ""
    check_digest(auth, "INVITE")
    assert digest_params(auth)["nonce"] == "nonce-A" and digest_params(auth)["nc"] == "00000002"
    challenge(far_end, invite, addr, 407, "nonce-B", stale=True)  # the nonce expired
    await far_end.expect("ACK")
    retry, addr = await far_end.expect("INVITE")
    auth = retry.header("Proxy-Authorization") or ""
    check_digest(auth, "INVITE")
    assert digest_params(auth)["nonce"] == "nonce-B" and digest_params(auth)["nc"] == "00000001"
    await invite_answered(far_end, retry, addr)
    assert await next_event(events) == CallAnswered("c2")

    await trunk.originate("c3", "15550003", 25)  # the server forgot nonce-B (not stale)
    invite, addr = await far_end.expect("INVITE")
    assert digest_params(invite.header("Proxy-Authorization") or "")["nonce"] == "nonce-B"
    challenge(far_end, invite, addr, 407, "nonce-C")
    retry, addr = await far_end.expect("INVITE")
    assert digest_params(retry.header("Proxy-Authorization") or "")["nonce"] == "nonce-C"
    challenge(far_end, retry, addr, 407, "nonce-D")  # and refuses a fresh answer: wrong creds
    # refused credentials are the carrier's refusal: a trunk failure, not the debtor's
    assert await next_event(events) == CallFailed("c3", CallOutcome.TRUNK_FAILED, 407)
    invites = {(m.call_id, m.cseq) for m in far_end.requests("INVITE")}  # (no retransmits)
    assert len(invites) == 6 and len({call_id for call_id, _ in invites}) == 3
    for call in ("c1", "c2"):
        await hang_up(trunk, events, far_end, call)


@pytest.mark.sip
async def test_second_invite_carries_credentials_sipp_verifies(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory
) -> None:
    """sipp (its own digest code) challenges INVITEs without credentials and checks every
    answer: two calls cost three INVITEs, the second call's first INVITE is accepted."""
    media = await rtp_peers()
    far = await sipp(2, scenario="auth_uas.xml", rtpport=media.port)
    settings = trunk_settings(far.port, username="alice", password=PASSWORD)
    trunk, events = await trunks(settings)
    for call in ("c1", "c2"):
        await trunk.originate(call, "20000000", 25)
        while (got := await next_event(events)) != CallAnswered(call):
            assert not isinstance(got, CallFailed), got
        await trunk.hangup(call)
        assert await next_event(events) == CallHungUp(call)
    await far.assert_all_calls_passed()
    assert trunk.stats.invites_sent == 3


# -- From and the caller ID --------------------------------------------------------------------
def _from_uri_user(value: str) -> str:
    return value.split("<sip:", 1)[1].split("@", 1)[0]


@pytest.mark.parametrize(
    ("overrides", "from_user", "display", "asserted"),
    [
        ({}, "dialer01", '"Acme Servicing"', '"Acme Servicing" <sip:+12125550100@'),
        ({"caller_name": None}, "dialer01", '"+12125550100"', "<sip:+12125550100@"),
        ({"from_user": "caller_id"}, "+12125550100", '"Acme Servicing"', None),
    ],
)
async def test_from_is_the_auth_user_and_the_caller_id_is_asserted(
    trunks: TrunkFactory,
    far_end: FarEnd,
    overrides: dict[str, Any],
    from_user: str,
    display: str,
    asserted: str | None,
) -> None:
    settings: dict[str, Any] = {
        "username": "dialer01",
        "password": PASSWORD,
        "caller_id": "+12125550100",
        "caller_name": "Acme Servicing",
        **overrides,
    }
    trunk, _ = await trunks(trunk_settings(far_end.port, **settings))
    await trunk.originate("c1", "15550001", 25)
    invite, _ = await far_end.expect("INVITE")
    sent_from = invite.header("From") or ""
    assert _from_uri_user(sent_from) == from_user
    assert sent_from.startswith(display + " ")
    assert header_param(sent_from, "tag")
    pai = invite.header("P-Asserted-Identity")
    rpid = invite.header("Remote-Party-ID")
    if asserted is None:
        assert pai is None and rpid is None
    else:
        assert pai is not None and pai.startswith(asserted)
        assert rpid is not None and rpid.startswith(asserted)
        assert "party=calling" in rpid
    assert f"<sip:dialer01@127.0.0.1:{trunk.local_address[1]}>" in (invite.header("Contact") or "")


def test_from_user_setting_needs_its_value() -> None:
    from pydantic import ValidationError

    from dialer.telephony.sip_settings import SipTrunkSettings

    assert SipTrunkSettings(server="h", username="u").from_user_mode == "auth"
    assert SipTrunkSettings(server="h", caller_id="+1212").from_user_mode == "caller_id"
    with pytest.raises(ValidationError, match="needs a username"):
        SipTrunkSettings(server="h", from_user="auth", caller_id="+1212")
    with pytest.raises(ValidationError, match="needs a caller_id"):
        SipTrunkSettings(server="h", from_user="caller_id", username="u")


def test_open_file_limit_is_raised_for_rtp_and_rtcp_sockets() -> None:
    """Two sockets per leg: 600 legs pass systemd's default soft limit of 1,024."""
    import resource

    from dialer.telephony.sip_transport import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 3000:
        pytest.skip(f"the hard RLIMIT_NOFILE here is {hard}")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        assert raise_open_file_limit(3000) == 3000
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (3000, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_report_blocks_count_loss_across_a_sequence_wrap() -> None:
    stats = rtp_rtcp.ReceptionStats()
    base = 2**32 - 3 * 160  # the RTP timestamp wraps too, three packets in
    for seq in [65530, 65531, 65533, 65534, 65535, 0, 1, 2]:  # 65532 lost
        n = (seq - 65530) % 65536
        packet = struct.pack("!BBHII", 0x80, 0, seq, (base + n * 160) % 2**32, 0x77)
        stats.rtp(packet + b"\xd5" * 160, 1000.0 + n * 0.020)
    block = stats.report_block(1001.0)
    assert block is not None
    ssrc, lost, highest, jitter, lsr, dlsr = struct.unpack("!IIIIII", block)
    assert (ssrc, lost & 0xFFFFFF, lost >> 24, highest) == (0x77, 1, 256 // 9, 65536 + 2)
    assert (lsr, dlsr) == (0, 0) and jitter < 2  # no SR heard; packets were on time
    assert stats.report_block(1002.0) is None  # nothing new: no block


def test_reports_count_what_was_relayed_through_a_bridge() -> None:
    """Bridged or not, we are each far end's RTCP peer: every packet it sent counts, so a
    bridge is no gap of "lost" packets in our next report."""
    from dialer.telephony.rtp_forwarder import RtpEndpoint, RtpForwarder

    debtor, agent = RtpEndpoint(), RtpEndpoint()
    agent.remote = ("127.0.0.1", 40000)
    agent.datagram_received(rtp(0x99, 1), ("127.0.0.1", 40000))
    forwarder = RtpForwarder()
    forwarder.bridge(debtor, agent)
    for seq in range(2, 500):  # through the bridge (nowhere to go: the debtor has no far end)
        agent.datagram_received(rtp(0x99, seq), ("127.0.0.1", 40000))
    forwarder.unbridge(debtor)
    agent.datagram_received(rtp(0x99, 500), ("127.0.0.1", 40000))
    block = agent.reception.report_block(time.monotonic())
    assert block is not None
    _ssrc, lost, highest, *_ = struct.unpack("!IIIIII", block)
    assert (lost & 0xFFFFFF, highest) == (0, 500)
