"""Collectors' nailed-up legs, bridging and the safe-harbor message, with RTP checked.

sipp plays the SIP side of the debtor's and the collector's phones; their SDP points the
media at Python sockets, so the test sees exactly what the trunk's RTP forwarder sends.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
from pathlib import Path

import pytest
from sipkit import RtpPeer, RtpPeerFactory, SippFactory, TrunkFactory, next_event, trunk_settings

from dialer.domain.events import CallAnswered, CallHungUp, CallRinging
from dialer.telephony.rtp_packet import RtpHeader

pytestmark = pytest.mark.sip
SILENCE = b"\xff" * 160


def rtp(ssrc: int, seq: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + payload


async def packets_from(
    peer: RtpPeer, ssrc: int, count: int, also: int | None = None
) -> list[bytes]:
    """The next `count` packets of stream `ssrc` (and any of stream `also` among them)."""
    got: list[bytes] = []
    while sum(RtpHeader.parse(p).ssrc == ssrc for p in got) < count:
        data, _, _ = await peer.next()
        if RtpHeader.parse(data).ssrc in (ssrc, also):
            got.append(data)
    return got


async def speech_on(peer: RtpPeer, count: int) -> list[bytes]:
    """The next `count` packets that are not our silence (the relayed speech)."""
    got: list[bytes] = []
    while len(got) < count:
        data, _, _ = await peer.next()
        if data[12:] != SILENCE:
            got.append(data)
    return got


def continues(packets: list[bytes], ssrc: int, after: RtpHeader | None = None) -> None:
    """One stream: our SSRC, sequence +1 and timestamp +160 a packet, marked where it starts."""
    headers = [RtpHeader.parse(p) for p in packets]
    assert {h.ssrc for h in headers} == {ssrc}
    assert headers[0].marker and not any(h.marker for h in headers[1:])
    for before, now in itertools.pairwise(headers):
        assert now.sequence == (before.sequence + 1) & 0xFFFF
        assert now.timestamp == (before.timestamp + 160) & 0xFFFFFFFF
    if after is not None:  # no jump back from the stream before it (jitter buffers drop that)
        assert 0 < (headers[0].sequence - after.sequence) & 0xFFFF < 100
        assert 0 < (headers[0].timestamp - after.timestamp) & 0xFFFFFFFF < 8000 * 5


async def test_debtor_bridged_to_a_nailed_up_leg_carries_on_in_the_legs_own_stream(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory
) -> None:
    """Each phone hears one stream for the whole call: the other side's payloads byte for
    byte, carried on in its leg's SSRC with sequence and timestamps continuing (a phone
    switched to another SSRC whose sequence numbers are "older" drops them: baresip did)."""
    debtor, agent = await rtp_peers(), await rtp_peers()
    debtors = await sipp(1, rtpport=debtor.port)
    phone = await sipp(1, rtpport=agent.port)
    collectors = {"alice": f"sip:20000000@127.0.0.1:{phone.port}"}
    trunk, events = await trunks(trunk_settings(debtors.port, collectors=collectors))

    await asyncio.wait_for(trunk.collector_login("alice", None), 5)
    idle, agent_leg, _ = await agent.next()  # an idle leg hears PCMU silence, not nothing
    assert RtpHeader.parse(idle).payload_type == 0 and idle[12:] == SILENCE
    assert agent_leg[1] == trunk.collector_rtp_port("alice")
    silence_ssrc = RtpHeader.parse(idle).ssrc

    await trunk.originate("c1", "20000100", 25)
    assert await next_event(events) == CallRinging("c1")
    assert await next_event(events) == CallAnswered("c1")
    await trunk.bridge("c1", "alice")
    assert trunk.stats.answer_to_bridge[-1] < 0.1
    agent.drain()
    last_silence = RtpHeader.parse(idle)

    debtor_leg = ("127.0.0.1", trunk.call_rtp_port("c1") or 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.2", 0))  # not the address the debtor's SDP gave
        stranger.sendto(rtp(0x9999, 0, b"\x01" * 160), debtor_leg)
    # the debtor's stream starts far from ours (sequence 40000): the relay shifts it
    spoken = [rtp(0x1234, 40000 + i, os.urandom(160)) for i in range(50)]
    for packet in spoken:
        debtor.send(packet, debtor_leg)
    heard = await speech_on(agent, 50)
    assert [p[12:] for p in heard] == [p[12:] for p in spoken]  # the stranger was not relayed
    continues(heard, silence_ssrc, after=last_silence)
    replies = [rtp(0x5678, i, os.urandom(160)) for i in range(50)]
    for packet in replies:
        agent.send(packet, agent_leg)
    answered = await speech_on(debtor, 50)
    assert [p[12:] for p in answered] == [p[12:] for p in replies]
    continues(answered, RtpHeader.parse(answered[0]).ssrc)
    assert RtpHeader.parse(answered[0]).ssrc not in (0x5678, silence_ssrc)  # the leg's own

    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    resumed = await packets_from(agent, silence_ssrc, 1)  # back to silence on the same leg
    assert resumed[0][12:] == SILENCE and RtpHeader.parse(resumed[0]).marker
    continues(resumed, silence_ssrc, after=RtpHeader.parse(heard[-1]))

    await trunk.collector_logout("alice")
    await debtors.assert_all_calls_passed()
    await phone.assert_all_calls_passed()


async def test_bridge_needs_a_collector_leg(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory
) -> None:
    from dialer.telephony.sip import SipTrunkError

    debtor = await rtp_peers()
    far = await sipp(1, rtpport=debtor.port)
    trunk, events = await trunks(trunk_settings(far.port))
    await trunk.originate("c1", "20000000", 25)
    assert await next_event(events) == CallRinging("c1")
    assert await next_event(events) == CallAnswered("c1")
    with pytest.raises(SipTrunkError):
        await trunk.bridge("c1", "nobody")
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    await far.assert_all_calls_passed()


async def test_safe_harbor_streams_the_file_then_hangs_up(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    audio = os.urandom(25 * 160 - 70)  # 25 frames, the last one padded with silence
    message = tmp_path / "safe_harbor.pcmu"
    message.write_bytes(audio)
    debtor = await rtp_peers()
    far = await sipp(1, rtpport=debtor.port)
    trunk, events = await trunks(trunk_settings(far.port, safe_harbor_file=message))
    await trunk.originate("c1", "20000000", 25)
    assert await next_event(events) == CallRinging("c1")
    assert await next_event(events) == CallAnswered("c1")
    await trunk.play_safe_harbor("c1")

    arrivals = [await debtor.next() for _ in range(25)]
    headers = [RtpHeader.parse(data) for data, _, _ in arrivals]
    assert {h.payload_type for h in headers} == {0} and len({h.ssrc for h in headers}) == 1
    assert [h.marker for h in headers] == [True] + [False] * 24
    for before, after in itertools.pairwise(headers):
        assert after.sequence == (before.sequence + 1) % 65536
        assert after.timestamp == (before.timestamp + 160) % 2**32
    assert b"".join(data[12:] for data, _, _ in arrivals) == audio.ljust(25 * 160, b"\xff")
    assert all(len(data) == 172 for data, _, _ in arrivals)
    assert arrivals[-1][2] - arrivals[0][2] >= 24 * 0.020 * 0.8  # paced, not a burst
    assert await next_event(events) == CallHungUp("c1")
    await far.assert_all_calls_passed()


async def test_collector_leg_lost_and_refused(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory
) -> None:
    from dialer.telephony.sip import SipTrunkError

    agent = await rtp_peers()
    phones = await sipp(2, rtpport=agent.port)  # alice answers then hangs up; bob is busy
    lost: list[str] = []
    collectors = {
        "alice": f"sip:20100000@127.0.0.1:{phones.port}",
        "bob": f"sip:48600000@127.0.0.1:{phones.port}",
    }
    trunk, _ = await trunks(
        trunk_settings(phones.port, collectors=collectors), on_collector_leg_lost=lost.append
    )
    with pytest.raises(SipTrunkError, match="486"):
        await asyncio.wait_for(trunk.collector_login("bob", None), 5)
    await asyncio.wait_for(trunk.collector_login("alice", None), 5)

    async def until_lost() -> None:
        while not lost:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_lost(), 5)
    assert lost == ["alice"] and trunk.collector_rtp_port("alice") is None
    await phones.assert_all_calls_passed()
