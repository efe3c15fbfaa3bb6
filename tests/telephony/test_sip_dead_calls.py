"""Dead-call detection: a far end whose media stops is asked in the dialog, and torn down
when it does not answer (or says the dialog is gone); one that answers stays up.

The far end is a Python SIP peer with an RTP socket, so the test decides exactly when the
media stops and whether the in-dialog OPTIONS gets an answer. Timeouts are set short so
each test takes a few seconds; every wait is bounded.
"""

from __future__ import annotations

import asyncio

from dialogkit import answer_next, rtp, wait_until
from sipkit import FarEnd, RtpPeer, RtpPeerFactory, TrunkFactory, next_event, trunk_settings

from dialer.domain.events import CallAnswered, CallHungUp
from dialer.telephony.port import TrunkEvent
from dialer.telephony.sip import SipTrunk

FAST = {
    "media_timeout": 1.5,
    "media_timeout_initial": 1.0,
    "keepalive_interval": 0,
    "keepalive_timeout": 0.5,
}


async def send_media(
    trunk: SipTrunk, peer: RtpPeer, call: str, seconds: float, ssrc: int = 7
) -> float:
    """Send 20 ms packets to the call's RTP port for `seconds`; the loop time of the last."""
    port = trunk.call_rtp_port(call)
    assert port is not None
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    seq = 0
    while loop.time() < end:
        peer.send(rtp(ssrc, seq), ("127.0.0.1", port))
        seq += 1
        await asyncio.sleep(0.02)
    return loop.time()


async def answered_call(
    trunks: TrunkFactory,
    far_end: FarEnd,
    rtp_peers: RtpPeerFactory,
    tag: str,
    settings: dict[str, float],
) -> tuple[SipTrunk, asyncio.Queue[TrunkEvent], RtpPeer]:
    """A trunk with these settings, its call c1 answered by the far end (To-tag `tag`),
    whose media socket is the returned peer."""
    trunk, events = await trunks(trunk_settings(far_end.port, **settings))
    media = await rtp_peers()
    await trunk.originate("c1", "15550001", 25)
    await answer_next(far_end, media.port, tag)
    assert await next_event(events) == CallAnswered("c1")
    return trunk, events, media


async def test_a_far_end_that_goes_silent_and_does_not_answer_is_hung_up(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    """The phone died: no BYE, no RTP, no answer in the dialog. The call ends with how long
    its media had been silent, and the far end gets our BYE."""
    trunk, events, media = await answered_call(trunks, far_end, rtp_peers, "dead", FAST)
    last = await send_media(trunk, media, "c1", 0.5)
    options, _ = await far_end.expect("OPTIONS", timeout=5)  # asked in the dialog
    assert options.to_tag == "dead" and options.call_id == far_end.requests("INVITE")[0].call_id
    ended = await next_event(events, 5)
    ended_at = asyncio.get_running_loop().time()
    assert isinstance(ended, CallHungUp) and ended.call_id == "c1"
    assert ended.silent_for is not None
    # silent from the last packet to the teardown: the media timeout plus the OPTIONS' wait
    assert abs(ended.silent_for - (ended_at - last)) < 0.3
    assert ended.silent_for >= FAST["media_timeout"]
    bye, addr = await far_end.expect("BYE")
    far_end.respond(bye, addr, 200)


async def test_a_far_end_that_never_sent_media_is_given_the_shorter_timeout(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    # far apart: the liveness sweep runs once a second, so it asks up to 1 s late
    slow = {**FAST, "media_timeout": 5.0}
    _, events, _ = await answered_call(trunks, far_end, rtp_peers, "mute", slow)
    answered = asyncio.get_running_loop().time()
    await far_end.expect("OPTIONS", timeout=5)
    asked = asyncio.get_running_loop().time() - answered
    assert FAST["media_timeout_initial"] <= asked < slow["media_timeout"]
    ended = await next_event(events, 5)
    assert isinstance(ended, CallHungUp) and ended.silent_for is not None


async def test_a_silent_far_end_that_answers_in_the_dialog_stays_up(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    """Silence suppression, a muted phone: the dialog answers, so the call is alive."""
    trunk, events, media = await answered_call(trunks, far_end, rtp_peers, "quiet", FAST)
    await send_media(trunk, media, "c1", 0.3)
    for _ in range(2):  # each silence is asked about again, and answered
        options, addr = await far_end.expect("OPTIONS", timeout=5)
        far_end.respond(options, addr, 200)
    assert events.empty() and trunk.stats.active_calls == 1
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")


async def test_a_dialog_the_far_end_lost_is_ended_by_the_keepalive_even_with_media(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    """A restarted phone or SBC forgot the dialog (481) while RTP still arrives."""
    trunk, events, media = await answered_call(
        trunks, far_end, rtp_peers, "lost", {**FAST, "keepalive_interval": 0.5}
    )
    sending = asyncio.create_task(send_media(trunk, media, "c1", 5))
    try:
        options, addr = await far_end.expect("OPTIONS", timeout=5)
        far_end.respond(options, addr, 481)
        ended = await next_event(events, 5)
    finally:
        sending.cancel()
    assert isinstance(ended, CallHungUp) and ended.silent_for is not None
    assert ended.silent_for < FAST["media_timeout_initial"]  # media flowed: the talk was real


async def test_a_keepalive_unanswered_while_media_flows_keeps_the_call(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    """Some far ends ignore OPTIONS: flowing media says they are alive."""
    trunk, events, media = await answered_call(
        trunks, far_end, rtp_peers, "deaf", {**FAST, "keepalive_interval": 0.5}
    )
    sending = asyncio.create_task(send_media(trunk, media, "c1", 2.5))
    await far_end.expect("OPTIONS", timeout=5)  # never answered
    await far_end.expect("OPTIONS", timeout=5)  # asked again later: the call is still up
    await sending
    assert events.empty() and trunk.stats.active_calls == 1
    await trunk.hangup("c1")


async def test_a_collectors_dead_phone_is_reported_as_a_lost_leg(
    trunks: TrunkFactory, far_end: FarEnd, rtp_peers: RtpPeerFactory
) -> None:
    lost: list[str] = []
    trunk, _ = await trunks(trunk_settings(far_end.port, **FAST), on_collector_leg_lost=lost.append)
    media = await rtp_peers()
    login = asyncio.create_task(
        trunk.collector_login("alice", f"sip:alice@127.0.0.1:{far_end.port}")
    )
    await answer_next(far_end, media.port, "phone")
    await asyncio.wait_for(login, 5)
    await far_end.expect("OPTIONS", timeout=5)
    await wait_until(lambda: lost == ["alice"], 5)
    bye, addr = await far_end.expect("BYE")
    far_end.respond(bye, addr, 200)
    assert trunk.stats.collector_legs == 0
