"""The SIP trunk against real third-party SIP software: baresip 1.0 phones, Kamailio 5.6.

Everything runs on 127.0.0.1 (helpers in baresipkit.py): Kamailio is the registrar and
proxy (kamailio/registrar.cfg: digest auth for REGISTER and INVITE, INVITEs relayed to the
contact the called user registered; 480 for a subscriber with no contact, 404 for anyone
else); the trunk registers there as `dialer` and originates through it; baresip plays the
debtor's phone and the collector's phone, each registered as a user, each with a WAV of
its own band-limited noise as microphone and the `sndfile` filter writing what it hears to
a WAV. Audio is checked by normalised cross-correlation of 0.25 s windows of what a phone
recorded against the signal the other phone played (PCMU both ways: tolerant of level).
Faults at the end: a debtor's or collector's baresip killed mid-call (dead-call
teardown), Kamailio stopped and started again (the trunk's circuit breaker).
Every wait is bounded; every process is killed at teardown.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from baresipkit import (
    RATE,
    Answer,
    Baresip,
    Match,
    Registrar,
    Signal,
    audible_seconds,
    band_noise,
    locate,
    mulaw_decode,
    mulaw_encode,
    wait_until,
    write_wav,
)
from sipkit import TrunkFactory, next_event, trunk_settings

from dialer.domain.calls import CallOutcome
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallInviteSent,
    CallRinging,
)
from dialer.telephony.port import TrunkEvent
from dialer.telephony.sip import SipTrunk
from dialer.telephony.sip_settings import SipTrunkSettings

pytestmark = pytest.mark.sip

TRUNK_USER, TRUNK_PASSWORD = "dialer", "trunk-s3cret"
DEBTOR = "20000101"  # a debtor's number: the user their phone registers as
OFFLINE = "20000102"  # a subscriber whose phone is not registered: 480
UNKNOWN = "20000404"  # nobody Kamailio knows: 404
COLLECTOR = "1001"  # the collector's phone
USERS = {
    TRUNK_USER: TRUNK_PASSWORD,
    DEBTOR: "debtor-pw",
    OFFLINE: "offline-pw",
    COLLECTOR: "collector-pw",
}
DEBTOR_SEED, COLLECTOR_SEED, HARBOR_SEED = 11, 22, 33
GOOD_FIT = 0.9  # a window of the other side's signal through PCMU scores about 0.99


def _binary(name: str, package: str, *candidates: str) -> str:
    path = shutil.which(name) or next((c for c in candidates if Path(c).exists()), None)
    if path is None:
        message = f"{name} is not installed (Debian package {package})"
        if os.environ.get("DIALER_REQUIRE_ALL") == "1":
            pytest.fail(f"{message}, and DIALER_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(message)
    return path


@pytest.fixture
def baresip_binary() -> str:
    return _binary("baresip", "baresip", "/usr/bin/baresip")


@pytest.fixture
def kamailio_binary() -> str:
    return _binary("kamailio", "kamailio", "/usr/sbin/kamailio")


@dataclass
class Lab:
    """Kamailio with the users above, and the phones a test starts (all killed after)."""

    registrar: Registrar
    baresip: str
    workdir: Path
    phones: list[Baresip] = field(default_factory=list)

    async def phone(
        self,
        user: str,
        microphone: Signal,
        answer: Answer = "auto",
        register: bool = True,
        jitter_buffer: tuple[int, int] = (5, 10),
    ) -> Baresip:
        work = self.workdir / f"phone-{user}-{len(self.phones)}"
        work.mkdir(parents=True)
        phone = Baresip(
            self.baresip,
            work,
            user,
            write_wav(work / "microphone.wav", microphone),
            registrar=("127.0.0.1", self.registrar.port) if register else None,
            password=USERS.get(user),
            answer=answer,
            jitter_buffer=jitter_buffer,
        )
        self.phones.append(phone)
        return await phone.start()

    def settings(self, **overrides: Any) -> SipTrunkSettings:
        return trunk_settings(
            self.registrar.port,
            register=True,
            username=TRUNK_USER,
            password=TRUNK_PASSWORD,
            caller_id="+12125550100",
            **overrides,
        )


@pytest.fixture
async def lab(baresip_binary: str, kamailio_binary: str, tmp_path: Path) -> AsyncIterator[Lab]:
    registrar = await Registrar(kamailio_binary, tmp_path / "kamailio", USERS).start()
    lab = Lab(registrar, baresip_binary, tmp_path)
    try:
        yield lab
    finally:
        for phone in lab.phones:
            await phone.kill(hard=True)
        await registrar.stop()
        if lab.registrar is not registrar:  # a test that restarted it
            await lab.registrar.stop()


async def events_until(
    events: asyncio.Queue[TrunkEvent], last: type, timeout: float = 10
) -> list[TrunkEvent]:
    """Every event (CallInviteSent included) up to and including the first `last`, or a
    failure; bounded."""
    got: list[TrunkEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not got or not isinstance(got[-1], last | CallFailed):
        got.append(await next_event(events, max(0.0, deadline - loop.time()), invite_sent=True))
    return got


def fits(matches: list[Match]) -> list[Match]:
    return [m for m in matches if m.score >= GOOD_FIT]


async def test_calls_through_kamailio_with_digest_auth_to_a_registered_baresip(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """The trunk registers; the debtor's baresip registered too; a call to its user
    rings (baresip's 180) and is answered, and ends with either side's BYE; a subscriber
    with no phone registered is 480 (no answer), an unknown user 404 (failed)."""
    debtor = await lab.phone(DEBTOR, band_noise(30, DEBTOR_SEED))
    trunk, events = await trunks(lab.settings())
    await wait_until(lambda: trunk.registered, 10, "the trunk registered with Kamailio")

    await trunk.originate("c1", DEBTOR, 25)
    assert await events_until(events, CallAnswered) == [
        CallInviteSent("c1"),
        CallRinging("c1"),
        CallAnswered("c1"),
    ]
    # (with answermode=auto baresip 1.0 reports no CALL_INCOMING: its SDP answer is the
    # moment it picked up)
    picked_up = await debtor.wait_event("CALL_LOCAL_SDP", 5)
    assert picked_up.param == "answer"
    assert picked_up.raw["peeruri"].startswith(f"sip:{TRUNK_USER}@127.0.0.1")  # From: auth user
    await debtor.wait_event("CALL_ESTABLISHED", 5)
    await trunk.hangup("c1")  # our BYE, through Kamailio's Record-Route
    assert await next_event(events) == CallHungUp("c1")
    closed = await debtor.wait_event("CALL_CLOSED", 5)
    assert "Connection reset by peer" in closed.param  # baresip: the far end hung up

    mark = len(debtor.events)
    await trunk.originate("c2", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c2")
    await debtor.wait_event("CALL_ESTABLISHED", 5, since=mark)
    await debtor.command("hangup")  # the debtor hangs up: their BYE reaches the trunk
    assert await next_event(events) == CallHungUp("c2")

    await trunk.originate("c3", OFFLINE, 25)
    assert await next_event(events) == CallFailed("c3", CallOutcome.NO_ANSWER, 480)
    await trunk.originate("c4", UNKNOWN, 25)
    assert await next_event(events) == CallFailed("c4", CallOutcome.FAILED, 404)

    # c1 met Kamailio's 407 once; c2-c4 answered the cached challenge (nc=2, 3, 4)
    assert trunk.stats.invites_sent == 5
    log = lab.registrar.log()
    # relayed to the contact baresip registered (its user with a suffix, its own port)
    contact = rf"dialer-lab: relaying to sip:{DEBTOR}[^@]*@127\.0\.0\.1:{debtor.sip_port}\n"
    assert len(re.findall(contact, log)) == 2, log[-3000:]
    assert log.count("auth_check INVITE") == 1, log[-3000:]


@dataclass
class Bridged:
    collector: Baresip
    debtor: Baresip
    collector_says: Signal
    debtor_says: Signal


async def bridge_a_call(
    lab: Lab, trunks: TrunkFactory, *, on_collector_leg_lost: Any = None, **overrides: Any
) -> tuple[Bridged, SipTrunk, asyncio.Queue[TrunkEvent]]:
    """The collector's baresip logged in (its nailed-up leg up, hearing our silence), the
    debtor's baresip called, answered and bridged to it at once (`overrides`: trunk
    settings)."""
    collector_says = band_noise(40, COLLECTOR_SEED)  # longer: its leg is up before the call
    debtor_says = band_noise(30, DEBTOR_SEED)
    said = Bridged(
        await lab.phone(COLLECTOR, collector_says),
        await lab.phone(DEBTOR, debtor_says),
        collector_says,
        debtor_says,
    )
    settings = lab.settings(collectors={"alice": COLLECTOR}, **overrides)
    trunk, events = await trunks(settings, on_collector_leg_lost=on_collector_leg_lost)
    await asyncio.wait_for(trunk.collector_login("alice", None), 10)
    await said.collector.wait_event("CALL_ESTABLISHED", 5)
    await trunk.originate("c1", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c1")
    await trunk.bridge("c1", "alice")
    return said, trunk, events


async def test_collector_and_debtor_hear_each_other_through_the_bridge(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """Once bridged, each phone's recording holds the other's signal, window after
    window and in order, from the first moments of the debtor's answer on, and none of
    its own (a window that straddles the switch from our silence may fit less well)."""
    said, trunk, events = await bridge_a_call(lab, trunks)
    await said.collector.wait_heard(3.0, 10)  # 3 s of the debtor at the collector's ear
    await said.debtor.wait_heard(3.0, 10)
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    await said.debtor.wait_event("CALL_CLOSED", 5)
    await trunk.collector_logout("alice")
    await said.collector.wait_event("CALL_CLOSED", 5)

    at_collector, at_debtor = said.collector.heard(), said.debtor.heard()
    for heard, other, own, who in (
        (at_collector, said.debtor_says, said.collector_says, "collector"),
        (at_debtor, said.collector_says, said.debtor_says, "debtor"),
    ):
        matches = locate(other, heard)
        good = fits(matches)
        scores = [round(m.score, 3) for m in matches]
        assert len(matches) >= 12, f"the {who} heard {audible_seconds(heard):.2f} s"
        assert all(m is matches[0] for m in matches if m not in good), (who, scores)
        # played in order: each window sits where the far end's signal had got to
        drift = [m.offset - m.at for m in good]
        assert max(drift) - min(drift) < 0.2, (who, drift)
        assert not fits(locate(own, heard)), f"the {who} heard their own signal"
    # the debtor's first words after the answer reached the collector: the debtor's signal
    # starts at its answer, and the bridge was made on CallAnswered
    assert min(m.offset for m in fits(locate(said.debtor_says, at_collector))) < 1.0


async def test_the_collector_phone_loses_nothing_when_the_bridge_is_made(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """What the collector's phone receives on its leg is one stream: no SSRC change at
    the bridge, no frame of the debtor discarded or dropped by its jitter buffer (with
    baresip's default 5-10 frames).

    Before the relay carried each side on in the leg's own stream, the bridge switched
    the collector's phone to the debtor's SSRC, sequence numbers and timestamps: baresip
    discarded the first frame as "old" at every bridge, and in 7 of 11 runs here its
    jitter buffer dropped every packet of the debtor as late ("dropping ... (Connection
    timed out)"): the collector heard nothing."""
    said, trunk, events = await bridge_a_call(lab, trunks)
    await said.collector.wait_heard(1.0, 10)
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")
    log = said.collector.log()
    lost = [line for line in log.splitlines() if "discard old frame" in line or "dropping" in line]
    assert lost == [], log[-1500:]
    assert "SSRC changed" not in log


async def test_safe_harbor_is_heard_whole_within_the_grace_then_bye(
    lab: Lab, trunks: TrunkFactory, tmp_path: Path
) -> None:
    """`play_safe_harbor` on an answered call: the debtor's phone hears the message
    (`safe_harbor_file`) from its start, less than 2 s after it answered, to its end; the
    BYE comes after the last of it."""
    message = band_noise(3, HARBOR_SEED, rms=0.15)
    codes = mulaw_encode(message)
    harbor = tmp_path / "safe_harbor.pcmu"
    harbor.write_bytes(codes)
    reference = mulaw_decode(codes)
    duration = len(codes) / RATE
    # baresip 1.0 never decodes the last <jitter buffer minimum> frames of a stream that
    # stops (its buffer is driven by arriving packets: see baresipkit): with the default
    # minimum of 5 it would lose the message's last 100 ms however late the BYE came
    debtor = await lab.phone(DEBTOR, band_noise(30, DEBTOR_SEED), jitter_buffer=(0, 10))
    trunk, events = await trunks(lab.settings(safe_harbor_file=harbor))

    await trunk.originate("c1", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c1")
    answered = asyncio.get_running_loop().time()
    await trunk.play_safe_harbor("c1")
    heard_at = await debtor.wait_heard(0.02, 5)  # the first 20 ms frame of the message
    closed = await debtor.wait_event("CALL_CLOSED", duration + 5)
    assert await next_event(events) == CallHungUp("c1")

    picked_up = (await debtor.wait_event("CALL_LOCAL_SDP", 1)).at  # its 200 OK's answer
    assert heard_at - picked_up < 2.0, (picked_up, answered, heard_at)
    assert heard_at - answered < 2.0
    assert closed.at - heard_at >= duration - 0.1, "BYE before the message was played"
    heard = debtor.heard()
    matches = locate(reference, heard)
    good = fits(matches)
    assert len(good) >= 0.9 * len(matches) and len(good) >= int(duration / 0.25) - 1, matches
    assert min(m.offset for m in good) < 0.25  # from its first quarter second ...
    assert max(m.offset for m in good) > duration - 0.5  # ... to its last
    assert abs(audible_seconds(heard) - duration) < 0.3  # and nothing but the message
    assert "Connection reset by peer" in closed.param


async def test_a_baresip_that_rejects_is_busy(lab: Lab, trunks: TrunkFactory) -> None:
    """baresip rejects a ringing call with `486 Rejected` (its `hangup` before answer):
    busy."""
    debtor = await lab.phone(DEBTOR, band_noise(5, DEBTOR_SEED), answer="reject")
    trunk, events = await trunks(lab.settings())
    await trunk.originate("c1", DEBTOR, 25)
    assert await events_until(events, CallFailed) == [
        CallInviteSent("c1"),
        CallRinging("c1"),
        CallFailed("c1", CallOutcome.BUSY, 486),
    ]
    closed = await debtor.wait_event("CALL_CLOSED", 5)
    assert closed.param == "Connection reset by user"


async def test_a_baresip_nobody_answers_is_cancelled_at_the_ring_timeout(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """A phone that rings and is not answered: the trunk's ring guard (15 s, the TSR
    minimum) CANCELs it; baresip answers 487: no answer."""
    debtor = await lab.phone(DEBTOR, band_noise(5, DEBTOR_SEED), answer="manual")
    trunk, events = await trunks(lab.settings(ring_timeout=15))
    loop = asyncio.get_running_loop()
    await trunk.originate("c1", DEBTOR, 15)
    assert await next_event(events, invite_sent=True) == CallInviteSent("c1")
    sent = loop.time()
    assert await next_event(events) == CallRinging("c1")
    await debtor.wait_event("CALL_INCOMING", 5)
    assert await next_event(events, 25) == CallFailed("c1", CallOutcome.NO_ANSWER, 487)
    rang = loop.time() - sent
    assert 15.0 <= rang < 18.0, rang
    await debtor.wait_event("CALL_CLOSED", 5)
    assert "CALL_ESTABLISHED" not in debtor.event_types()


def test_the_audio_check_bites() -> None:
    """`locate` tells the signals apart: a window of one seed's noise fits itself at any
    level (and through mu-law), not another seed's."""
    one, other = band_noise(5, 1), band_noise(5, 2)
    through_pcmu = mulaw_decode(mulaw_encode(0.3 * one[8000:16000]))
    assert all(m.score > 0.99 for m in locate(one, through_pcmu))
    assert [round(m.offset, 2) for m in locate(one, through_pcmu)][:2] == [1.0, 1.25]
    assert max(m.score for m in locate(other, through_pcmu)) < 0.3
    assert locate(one, np.zeros(8000)) == []


# -- faults: a phone that dies, a carrier that goes away ------------------------------------
# A phone "dies" by SIGKILL: no BYE, no un-REGISTER, its ports closed. The carrier "dies"
# by stopping Kamailio, and comes back on the same port.
DEAD_CALL = {"media_timeout": 2.0, "media_timeout_initial": 2.0, "keepalive_timeout": 1.0}


async def test_a_debtor_phone_that_dies_mid_call_is_torn_down_and_the_collector_freed(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """baresip killed while bridged: within media_timeout + keepalive_timeout the trunk
    asks in the dialog, hears nothing, hangs up, and says how long the media was silent;
    the collector's leg stays up and hears our silence again."""
    said, trunk, events = await bridge_a_call(lab, trunks, **DEAD_CALL)
    await said.collector.wait_heard(1.0, 10)  # they talked
    loop = asyncio.get_running_loop()
    await said.debtor.kill(hard=True)
    killed = loop.time()
    ended = await next_event(events, 10)
    took = loop.time() - killed
    assert isinstance(ended, CallHungUp) and ended.call_id == "c1", ended
    assert ended.silent_for is not None
    assert DEAD_CALL["media_timeout"] <= ended.silent_for <= took + 0.5
    assert took < DEAD_CALL["media_timeout"] + DEAD_CALL["keepalive_timeout"] + 2.0
    assert trunk.stats.collector_legs == 1  # the collector's phone is still on its leg
    assert "CALL_CLOSED" not in said.collector.event_types()
    await trunk.collector_logout("alice")
    await said.collector.wait_event("CALL_CLOSED", 5)


async def test_a_collector_phone_that_dies_is_reported_lost(lab: Lab, trunks: TrunkFactory) -> None:
    lost: list[str] = []
    said, trunk, events = await bridge_a_call(
        lab, trunks, on_collector_leg_lost=lost.append, **DEAD_CALL
    )
    await said.debtor.wait_heard(1.0, 10)
    await said.collector.kill(hard=True)
    deadline = asyncio.get_running_loop().time() + 10
    while not lost and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert lost == ["alice"]
    assert trunk.stats.collector_legs == 0
    await trunk.hangup("c1")  # the daemon hangs up the collector's call (collector_legs)
    assert await next_event(events, 5) == CallHungUp("c1")


async def test_kamailio_gone_stops_dialing_and_its_return_resumes_it(
    lab: Lab, trunks: TrunkFactory
) -> None:
    """The registrar/proxy stops: the next call ends as a trunk failure within a second or
    two (ICMP port unreachable, a refused OPTIONS probe), the trunk says it is down and
    why, and sends nothing more. Kamailio comes back on the same port: the trunk registers
    again, a probe is answered, one trial call reaches the debtor's phone, and the trunk
    is up."""
    health: list[tuple[bool, str | None]] = []
    debtor = await lab.phone(DEBTOR, band_noise(10, 5))
    settings = lab.settings(breaker_backoff=0.5, breaker_backoff_max=1.0, probe_timeout=1.0)
    trunk, events = await trunks(settings, on_health=lambda up, why: health.append((up, why)))
    await _until(lambda: trunk.registered, 10, "the trunk registered")
    await trunk.originate("c1", DEBTOR, 25)
    assert (await events_until(events, CallAnswered))[-1] == CallAnswered("c1")
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")

    port = lab.registrar.port
    await lab.registrar.stop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await trunk.originate("c2", DEBTOR, 25)
    failed = await next_event(events, 10)
    assert isinstance(failed, CallFailed) and failed.outcome is CallOutcome.TRUNK_FAILED
    assert loop.time() - started < 5  # not timer B's 32 s
    assert health and health[-1][0] is False and "ICMP" in (health[-1][1] or "")
    assert trunk.down_reason is not None
    await trunk.originate("c3", DEBTOR, 25)  # while down nothing leaves
    assert await next_event(events, 2) == CallFailed("c3", CallOutcome.TRUNK_FAILED, 503)

    back = Registrar(lab.registrar.binary, lab.workdir / "kamailio-again", USERS)
    lab.registrar = await back.start(port=port)
    await debtor.kill(hard=True)  # its registration was in the old Kamailio's memory:
    await lab.phone(DEBTOR, band_noise(10, 5))  # a fresh phone registers with the new one
    await _until(lambda: bool(health) and health[-1][0] is True, 20, "the probe answered")
    await _until(lambda: trunk.registered, 20, "registered again")
    await trunk.originate("c4", DEBTOR, 25)  # the trial call
    assert (await events_until(events, CallAnswered, 15))[-1] == CallAnswered("c4")
    assert trunk.down_reason is None
    await trunk.hangup("c4")
    assert await next_event(events) == CallHungUp("c4")


async def _until(condition: object, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.05)
