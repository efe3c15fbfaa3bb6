"""Inbound calls on the SIP trunk: debtors calling our numbers back.

sipp plays the calling debtor where a real peer matters (refused with 404, answered and
bridged to a collector's nailed-up leg, a key pressed as sipp's own RFC 4733 capture); a
scripted Python far end plays the exact flows (CANCEL while ringing, a retransmitted
INVITE, the queue audio byte for byte, SIP INFO keys, the voicemail file).
"""

from __future__ import annotations

import asyncio
import struct
import wave
from pathlib import Path

import pytest
from dialogkit import rtp, wait_until
from inboundkit import (
    Hooks,
    ack_2xx,
    caller_args,
    cancel,
    final_response,
    in_dialog,
    invite,
    key_event,
)
from sipkit import FarEnd, RtpPeerFactory, SippFactory, TrunkFactory, next_event, trunk_settings

from dialer.domain.events import CallHungUp, InboundCallerChose
from dialer.telephony.rtp_player import pcmu_frames
from dialer.telephony.sip_inbound import CALL_PREFIX
from dialer.telephony.sip_inbound_media import MEDIA
from dialer.telephony.sip_settings import SipTrunkSettings

pytestmark = pytest.mark.sip
OURS = "+442071234567"
DEBTOR = "+447700900123"


def settings(tmp_path: Path, **kw: object) -> SipTrunkSettings:
    # the server is a port nobody answers: these tests only take calls
    return trunk_settings(1, voicemail_dir=tmp_path / "voicemail", **kw)


async def test_a_number_not_ours_is_refused_with_404(
    sipp: SippFactory, trunks: TrunkFactory, tmp_path: Path
) -> None:
    hooks = Hooks({OURS})
    trunk, _ = await trunks(settings(tmp_path), inbound=hooks)
    port = trunk.local_address[1]
    caller = await sipp(1, "inbound_refused.xml", extra=caller_args(port, "+442079999999", DEBTOR))
    await caller.assert_all_calls_passed()  # it got 404 (and ACKed it), nothing else
    assert hooks.asked == ["+442079999999"]
    assert hooks.offers.empty()


async def test_a_return_call_rings_then_is_bridged_to_the_collector_and_hung_up(
    sipp: SippFactory, trunks: TrunkFactory, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    """sipp calls our number: 180, the daemon hears who called which number; the bridge
    answers (200 with our SDP) and the caller's RTP reaches the collector's phone."""
    agent = await rtp_peers()
    phone = await sipp(1, rtpport=agent.port)
    hooks = Hooks({OURS})
    collectors = {"alice": f"sip:20000000@127.0.0.1:{phone.port}"}
    trunk, events = await trunks(settings(tmp_path, collectors=collectors), inbound=hooks)
    await asyncio.wait_for(trunk.collector_login("alice", None), 5)
    caller = await sipp(
        1, "inbound_caller.xml", extra=caller_args(trunk.local_address[1], OURS, DEBTOR)
    )

    offer = await hooks.next_offer()
    assert (offer.caller, offer.dialed) == (DEBTOR, OURS)
    assert offer.call_id.startswith(CALL_PREFIX)
    await trunk.bridge(offer.call_id, "alice")
    call_port = trunk.call_rtp_port(offer.call_id)
    assert call_port is not None
    # the caller speaks (from the address its SDP named): the collector hears it
    speaker, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        words = b"\x11" * 160
        agent.drain()
        for seq in range(5):
            speaker.sendto(rtp(4242, seq, words), ("127.0.0.1", call_port))

        async def heard() -> None:
            while (await agent.next())[0][12:] != words:
                pass

        await asyncio.wait_for(heard(), 5)
    finally:
        speaker.close()
    await trunk.hangup(offer.call_id)
    assert await next_event(events) == CallHungUp(offer.call_id)
    await caller.assert_all_calls_passed()  # it got 180, 200, our BYE, in that order


async def test_the_caller_hanging_up_while_ringing_is_a_hang_up_and_gets_487(
    trunks: TrunkFactory, far_end: FarEnd, tmp_path: Path
) -> None:
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path), inbound=hooks)
    address = trunk.local_address
    request = invite(far_end, address, OURS, DEBTOR, 40000, "z9hG4bKring")
    offer = await hooks.next_offer()
    ringing = [m for m, _ in far_end.log if m.is_response and m.code == 180]
    assert ringing and ringing[0].to_tag
    invite(far_end, address, OURS, DEBTOR, 40000, "z9hG4bKring")  # a retransmission
    assert hooks.offers.empty()  # one call, not two
    cancel(far_end, address, request)
    cancelled, _ = await far_end.expect("CANCEL")
    assert cancelled.code == 200
    assert (await final_response(far_end)).code == 487
    assert await next_event(events) == CallHungUp(offer.call_id)
    assert trunk.call_rtp_port(offer.call_id) is None  # its port is free again


async def test_a_queued_caller_hears_the_queue_message_from_its_first_frame(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    media = await rtp_peers()
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path), inbound=hooks)
    address = trunk.local_address
    request = invite(far_end, address, OURS, DEBTOR, media.port, "z9hG4bKqueue")
    offer = await hooks.next_offer()
    await trunk.queue_inbound(offer.call_id)
    ok = await final_response(far_end)
    assert ok.code == 200 and b"m=audio" in ok.body_bytes
    ack_2xx(far_end, address, request, ok)
    expected = pcmu_frames((MEDIA / "inbound_queue.pcmu").read_bytes())[:10]
    heard = [(await media.next())[0][12:] for _ in range(10)]
    assert heard == expected
    in_dialog(far_end, address, request, ok, "BYE", 2)
    bye_ok, _ = await far_end.expect("BYE")
    assert bye_ok.code == 200
    assert await next_event(events) == CallHungUp(offer.call_id)


async def test_the_callback_offer_reads_an_rfc4733_key_once(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    media = await rtp_peers()
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path), inbound=hooks)
    address = trunk.local_address
    request = invite(far_end, address, OURS, DEBTOR, media.port, "z9hG4bKoffer")
    offer = await hooks.next_offer()
    await trunk.offer_callback(offer.call_id)
    ok = await final_response(far_end)
    ack_2xx(far_end, address, request, ok)
    call_port = trunk.call_rtp_port(offer.call_id)
    assert call_port is not None
    for seq, end in enumerate((False, False, True, True, True)):  # "1", its ends repeated
        media.send(key_event(99, seq, 8000, 1, end), ("127.0.0.1", call_port))
    assert await next_event(events) == InboundCallerChose(offer.call_id, "callback")
    media.send(key_event(99, 9, 16000, 2, True), ("127.0.0.1", call_port))  # too late
    await trunk.hangup(offer.call_id)
    assert await next_event(events) == CallHungUp(offer.call_id)  # no second choice


async def test_a_voicemail_chosen_by_sip_info_is_recorded_to_a_wav(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    media = await rtp_peers()
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path), inbound=hooks)
    address = trunk.local_address
    request = invite(far_end, address, OURS, DEBTOR, media.port, "z9hG4bKvm")
    offer = await hooks.next_offer()
    await trunk.offer_callback(offer.call_id)
    ok = await final_response(far_end)
    ack_2xx(far_end, address, request, ok)
    in_dialog(
        far_end, address, request, ok, "INFO", 2,
        body=b"Signal=2\r\nDuration=160\r\n", content_type="application/dtmf-relay",
    )  # fmt: skip
    assert await next_event(events) == InboundCallerChose(offer.call_id, "voicemail")
    prompt = len(pcmu_frames((MEDIA / "inbound_voicemail.pcmu").read_bytes()))
    prompt += len(pcmu_frames((MEDIA / "inbound_beep.pcmu").read_bytes()))
    await wait_until(lambda: offer.call_id in hooks.recordings, timeout=prompt * 0.02 + 5)
    call_port = trunk.call_rtp_port(offer.call_id)
    assert call_port is not None
    message = bytes(range(256))[:160]
    for seq in range(25):  # half a second of the caller's voice
        media.send(rtp(7, seq, message), ("127.0.0.1", call_port))
    path = hooks.recordings[offer.call_id]
    await wait_until(lambda: trunk.stats.rtp_received >= 25)
    in_dialog(far_end, address, request, ok, "BYE", 3)
    assert await next_event(events) == CallHungUp(offer.call_id)
    await wait_until(path.exists)
    await wait_until(lambda: path.stat().st_size > 25 * 160)
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    assert struct.unpack_from("<H", raw, 20)[0] == 7  # mu-law, as it came
    assert raw.endswith(message * 25) or message * 25 in raw
    with pytest.raises(wave.Error):  # the stdlib reads PCM only: proof it is not PCM
        wave.open(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


async def test_sipp_pressing_1_as_rfc4733_chooses_a_callback(
    sipp: SippFactory, trunks: TrunkFactory, tmp_path: Path
) -> None:
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path), inbound=hooks)
    caller = await sipp(
        1, "inbound_dtmf.xml", extra=caller_args(trunk.local_address[1], OURS, DEBTOR)
    )
    offer = await hooks.next_offer()
    await trunk.queue_inbound(offer.call_id)
    await asyncio.sleep(0)  # the engine's offer comes later, while the caller waits
    await trunk.offer_callback(offer.call_id)
    assert await next_event(events, timeout=15) == InboundCallerChose(offer.call_id, "callback")
    await trunk.hangup(offer.call_id)
    assert await next_event(events) == CallHungUp(offer.call_id)
    await caller.assert_all_calls_passed()


async def test_an_answer_never_acked_is_resent_then_ended_with_a_bye(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory, tmp_path: Path
) -> None:
    """RFC 3261 13.3.1.4: the 200 goes again (T1, doubling) until its ACK; none in 64 x T1
    and the dialog ends with our BYE."""
    media = await rtp_peers()
    hooks = Hooks({OURS})
    trunk, events = await trunks(settings(tmp_path, timer_t1=0.05), inbound=hooks)
    invite(far_end, trunk.local_address, OURS, DEBTOR, media.port, "z9hG4bKnoack")
    offer = await hooks.next_offer()
    await trunk.queue_inbound(offer.call_id)
    bye, _ = await far_end.expect("BYE", timeout=10)
    oks = [m for m, _ in far_end.log if m.is_response and m.code == 200 and m.cseq[1] == "INVITE"]
    assert len(oks) >= 3 and len({m.to_tag for m in oks}) == 1  # the same answer, re-sent
    assert bye.to_tag == "caller1" and bye.from_tag == oks[0].to_tag  # in the dialog
    assert await next_event(events) == CallHungUp(offer.call_id)
