"""Every outcome against sipp as the far end (scenario: scenarios/uas.xml).

sipp fails a call (and exits non-zero) when a final response is not ACKed, when the ACK
of a failure does not reuse the INVITE's branch, when the CANCEL is not on the INVITE's
branch, or when the ACK of the 200 lacks the 200's To-tag: stock pyVoIP fails all of these.
"""

from __future__ import annotations

import asyncio

import pytest
from sipkit import SippFactory, TrunkFactory, next_event, trunk_settings

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp, CallRinging
from dialer.telephony.port import TrunkEvent
from dialer.telephony.sip import SipTrunk

pytestmark = pytest.mark.sip

# number -> the terminal event expected (200: we hang up; 201: they do; 487: we cancel)
EXPECTED: dict[str, tuple[type, CallOutcome | None, int | None]] = {
    "20000150": (CallHungUp, None, None),
    "20100150": (CallHungUp, None, None),
    "48600150": (CallFailed, CallOutcome.BUSY, 486),
    "60000150": (CallFailed, CallOutcome.BUSY, 600),
    "48000150": (CallFailed, CallOutcome.NO_ANSWER, 480),
    "40800150": (CallFailed, CallOutcome.NO_ANSWER, 408),
    "40400150": (CallFailed, CallOutcome.FAILED, 404),
    "50300150": (CallFailed, CallOutcome.FAILED, 503),
    "48700000": (CallFailed, CallOutcome.NO_ANSWER, 487),
}


async def drive(
    trunk: SipTrunk, events: asyncio.Queue[TrunkEvent], calls: dict[str, str]
) -> dict[str, list[TrunkEvent]]:
    """Play the engine: hang up answered '200' calls, cancel ringing '487' ones."""
    seen: dict[str, list[TrunkEvent]] = {call: [] for call in calls}
    open_calls = set(calls)
    while open_calls:
        event = await next_event(events, 15)
        seen[event.call_id].append(event)
        number = calls[event.call_id]
        if isinstance(event, CallRinging) and number.startswith("487"):
            await trunk.cancel(event.call_id)
        elif isinstance(event, CallAnswered) and number.startswith("200"):
            await trunk.hangup(event.call_id)
        elif isinstance(event, CallFailed | CallHungUp):
            open_calls.discard(event.call_id)
    return seen


def check(seen: dict[str, list[TrunkEvent]], calls: dict[str, str]) -> None:
    for call, number in calls.items():
        kind, outcome, code = EXPECTED[number[:8]]
        events = seen[call]
        assert isinstance(events[0], CallRinging), (number, events)
        last = events[-1]
        assert isinstance(last, kind), (number, events)
        if isinstance(last, CallFailed):
            assert (last.outcome, last.sip_code) == (outcome, code), (number, events)
        else:
            assert isinstance(events[1], CallAnswered), (number, events)
        assert len(events) == (3 if kind is CallHungUp else 2), (number, events)


async def test_every_outcome_is_classified(sipp: SippFactory, trunks: TrunkFactory) -> None:
    far = await sipp(len(EXPECTED))
    trunk, events = await trunks(trunk_settings(far.port))
    calls = {f"call-{i}": number for i, number in enumerate(EXPECTED)}
    for call, number in calls.items():
        await trunk.originate(call, number, 25)
    check(await drive(trunk, events, calls), calls)
    await far.assert_all_calls_passed()


async def test_trunk_cancels_at_its_own_ring_timeout(
    sipp: SippFactory, trunks: TrunkFactory
) -> None:
    far = await sipp(1)
    # the engine normally cancels at the ring timeout; the trunk's own guard backs it up
    settings = trunk_settings(far.port).model_copy(update={"ring_timeout": 0.3})
    trunk, events = await trunks(settings)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await trunk.originate("c1", "48700000", 0.3)
    assert await next_event(events) == CallRinging("c1")
    assert await next_event(events) == CallFailed("c1", CallOutcome.NO_ANSWER, 487)
    assert loop.time() - began >= 0.3
    await far.assert_all_calls_passed()


async def test_calls_ring_right_after_start(sipp: SippFactory, trunks: TrunkFactory) -> None:
    """pyVoIP's receive loop starts 1 s after start(): early responses are lost."""
    far = await sipp(1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    trunk, events = await trunks(trunk_settings(far.port))
    await trunk.originate("c1", "48600000", 25)
    assert await next_event(events) == CallRinging("c1")
    assert loop.time() - began < 0.5
    assert await next_event(events) == CallFailed("c1", CallOutcome.BUSY, 486)
    await far.assert_all_calls_passed()
