"""Answering-machine detection and voicemail drops against real phones: a baresip debtor
through Kamailio (the lab of test_interop_baresip.py) answering with a synthetic voice
(espeak-ng, as the AMD corpus makes them). A machine's greeting and beep get the
campaign's message after the beep, heard in full at the far end, and the call is reported
as a message left; a person's "Hello?" is reported human within the connect deadline and
put through to a collector; the answer is never reported before AMD has decided."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import test_interop_baresip as interop
from baresipkit import RATE, Signal, band_noise, locate, mulaw_decode, mulaw_encode
from corpus import missing_engines, utterance
from sipkit import TrunkFactory, next_event
from test_interop_baresip import COLLECTOR, DEBTOR, Lab, events_until, fits

from dialer.domain.calls import AmdVerdict
from dialer.domain.events import CallAnswered, CallHungUp, VoicemailLeft
from dialer.media.amd_pool import AmdPool
from dialer.media.amd_settings import AmdPoolSettings, AmdSettings
from dialer.media.recording import Recorder, RecordingPlan, RecordingTap
from dialer.media.recording_settings import RecordingSettings
from dialer.media.recording_wav import MULAW_TO_PCM16, mulaw_data_offset
from dialer.metrics import Metrics
from dialer.telephony.rtp_player import PLAYOUT_ALLOWANCE
from dialer.telephony.sip_amd import VERDICT_SLACK, Screening

pytestmark = pytest.mark.sip
lab, baresip_binary, kamailio_binary = interop.lab, interop.baresip_binary, interop.kamailio_binary

GREETING = (
    "Hi, you have reached Sarah. I can't come to the phone right now. Please leave your "
    "name and number after the tone, and I will call you back."
)
LEAD = 0.4  # seconds of silence before the far end speaks
BEEP = 0.5
MESSAGE_SEED = 44
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _espeak() -> None:
    if "espeak" in missing_engines():
        reason = "the far end speaks with espeak-ng (apt-get install espeak-ng)"
        if os.environ.get("DIALER_REQUIRE_ALL") == "1":
            pytest.fail(f"DIALER_REQUIRE_ALL=1 but {reason}")
        pytest.skip(reason)


def _microphone(text: str, beep: bool) -> Signal:
    """What the far end says: a pause, the words, the beep if a machine, then silence."""
    words = 0.3 * utterance("espeak", "en-us", 1.0, text)
    parts = [np.zeros(round(LEAD * RATE)), words]
    if beep:
        t = np.arange(round(BEEP * RATE)) / RATE
        parts.append(0.3 * np.sin(2 * np.pi * 1000.0 * t))
    parts.append(np.zeros(30 * RATE))
    return np.concatenate(parts)


def _screening(pool: AmdPool, message: bytes | None) -> Callable[[str], Screening]:
    amd = AmdSettings(enabled=True)

    def screen(call_id: str) -> Screening:
        return Screening(
            pool.open(call_id, amd, "c1"),
            verdict_timeout=amd.total_analysis_time + VERDICT_SLACK,
            greeting_timeout=amd.greeting_end_timeout,
            message=message,
        )

    return screen


@pytest.fixture
def pool() -> Iterator[AmdPool]:
    made = AmdPool(AmdPoolSettings(workers=1))
    yield made
    made.close()


async def test_a_machine_gets_the_message_after_its_beep(
    lab: Lab, trunks: TrunkFactory, pool: AmdPool, tmp_path: Path
) -> None:
    greeting = _microphone(GREETING, beep=True)
    greeting_ends = LEAD + len(utterance("espeak", "en-us", 1.0, GREETING)) / RATE + BEEP
    message = mulaw_encode(band_noise(3, MESSAGE_SEED, rms=0.15))
    debtor = await lab.phone(DEBTOR, greeting)
    recorder = Recorder(RecordingSettings(directory=tmp_path / "rec"), metrics=Metrics())
    recorder.start()

    def tap(call_id: str) -> RecordingTap | None:
        return recorder.tap(RecordingPlan(call_id, "c1", T0, T0 + timedelta(days=365)))

    trunk, events = await trunks(
        lab.settings(), screening=_screening(pool, message), tap_factory=tap
    )
    await trunk.originate("c1", DEBTOR, 25)
    answered = (await events_until(events, CallAnswered, timeout=20))[-1]
    loop = asyncio.get_running_loop()
    assert isinstance(answered, CallAnswered), answered
    assert answered.machine and answered.amd is AmdVerdict.MACHINE
    assert answered.amd_seconds is not None and answered.amd_seconds < greeting_ends
    answer_at = loop.time() - answered.amd_seconds  # the far end's first word, on our loop
    await trunk.leave_voicemail("c1")
    assert await next_event(events, 30) == VoicemailLeft("c1", left=True)
    # Played over silence after the beep, never over the greeting: it began a message's
    # length (and the far end's play-out allowance) before it was reported left.
    began = loop.time() - 3.0 - PLAYOUT_ALLOWANCE
    assert began - answer_at >= greeting_ends - 0.3, (began - answer_at, greeting_ends)
    good = fits(locate(mulaw_decode(message), debtor.heard()))
    assert len(good) >= int(3 / 0.25) - 1, "the whole message reached the far end"
    await recorder.stop()
    [done] = recorder.finished  # and the call's recording holds it, after the greeting
    data = done.path.read_bytes()
    offset, size = mulaw_data_offset(data[:128])
    both = MULAW_TO_PCM16[np.frombuffer(data[offset : offset + size], np.uint8)] / 32768.0
    greeting_channel, heard_channel = both[0::2], both[1::2]
    recorded = fits(locate(mulaw_decode(message), heard_channel))
    assert len(recorded) >= int(3 / 0.25) - 1, "the drop is in the recording"
    assert min(m.at for m in recorded) >= greeting_ends - 0.3  # where in the recording
    assert np.sqrt(np.mean(greeting_channel**2)) > 0.01, "and the greeting beside it"


async def test_a_person_is_decided_human_and_put_through(
    lab: Lab, trunks: TrunkFactory, pool: AmdPool
) -> None:
    collector = await lab.phone(COLLECTOR, band_noise(40, 22))
    debtor = await lab.phone(DEBTOR, _microphone("Hello?", beep=False))
    trunk, events = await trunks(
        lab.settings(collectors={"alice": COLLECTOR}), screening=_screening(pool, None)
    )
    await asyncio.wait_for(trunk.collector_login("alice", None), 10)
    await collector.wait_event("CALL_ESTABLISHED", 5)
    await trunk.originate("c1", DEBTOR, 25)
    answered = (await events_until(events, CallAnswered, timeout=20))[-1]
    assert isinstance(answered, CallAnswered), answered
    assert not answered.machine and answered.amd is AmdVerdict.HUMAN
    # "Hello?", then the after-greeting silence decides: well inside the analysis time.
    assert answered.amd_seconds is not None and answered.amd_seconds < 3.5
    await trunk.bridge("c1", "alice")
    await debtor.wait_heard(2.0, 10)  # the collector's voice reaches the person
    await trunk.hangup("c1")
    assert await next_event(events) == CallHungUp("c1")


async def test_a_far_end_that_hangs_up_while_amd_listens_was_still_answered(
    lab: Lab, trunks: TrunkFactory, pool: AmdPool
) -> None:
    """The answer is reported (undecided) before the hang-up, so the engine sees an
    answered call that ended, not a call that never connected."""
    debtor = await lab.phone(DEBTOR, _microphone(GREETING, beep=True))
    trunk, events = await trunks(lab.settings(), screening=_screening(pool, None))
    await trunk.originate("c1", DEBTOR, 25)
    await debtor.wait_event("CALL_ESTABLISHED", 10)
    await debtor.command("hangup")
    got = await events_until(events, CallHungUp, timeout=10)
    answered = [e for e in got if isinstance(e, CallAnswered)]
    assert len(answered) == 1 and answered[0].amd is AmdVerdict.NOTSURE, got
    assert got.index(answered[0]) < len(got) - 1 and isinstance(got[-1], CallHungUp)
