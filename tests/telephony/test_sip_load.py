"""200 concurrent calls from one trunk against one sipp, every outcome classified right."""

from __future__ import annotations

from collections import Counter

import pytest
from sipkit import SippFactory, TrunkFactory, next_event, trunk_settings

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallAnswered, CallFailed, CallHungUp, CallRinging

pytestmark = pytest.mark.sip

MIX = {  # number prefix (behaviour + 1.5 s of ringing) -> how many
    "20001500": 80,
    "48601500": 20,
    "60001500": 20,
    "48001500": 20,
    "40401500": 20,
    "50301500": 20,
    "48700000": 20,
}
EXPECTED = {
    "486": (CallOutcome.BUSY, 486),
    "600": (CallOutcome.BUSY, 600),
    "480": (CallOutcome.NO_ANSWER, 480),
    "404": (CallOutcome.FAILED, 404),
    "503": (CallOutcome.FAILED, 503),
    "487": (CallOutcome.NO_ANSWER, 487),
}


async def test_200_concurrent_calls(sipp: SippFactory, trunks: TrunkFactory) -> None:
    total = sum(MIX.values())
    far = await sipp(total)
    trunk, events = await trunks(trunk_settings(far.port, calls_per_second=1000))
    calls = {}
    for prefix, count in MIX.items():
        for i in range(count):
            calls[f"{prefix}-{i}"] = f"{prefix}{i:04d}"
    for call, number in calls.items():
        await trunk.originate(call, number, 25)

    rang: set[str] = set()
    answered: set[str] = set()
    ended: dict[str, CallFailed | CallHungUp] = {}
    peak = 0
    while len(ended) < total:
        event = await next_event(events, 15)
        if isinstance(event, CallRinging):
            rang.add(event.call_id)
            peak = max(peak, trunk.stats.active_calls)
            if len(rang) == total:  # every call rings at once: now cancel the '487' ones
                for call in calls:
                    if call.startswith("487"):
                        await trunk.cancel(call)
        elif isinstance(event, CallAnswered):
            answered.add(event.call_id)
        else:
            assert isinstance(event, CallFailed | CallHungUp)
            ended[event.call_id] = event
        if len(answered) == MIX["20001500"] and len(ended) == total - len(answered):
            for call in answered:  # hold every answered call until the rest are over
                await trunk.hangup(call)

    assert peak == total
    assert len(rang) == total and len(answered) == MIX["20001500"]
    outcomes: Counter[str] = Counter()
    for call, event in ended.items():
        code = call[:3]
        if code == "200":
            assert isinstance(event, CallHungUp)
            outcomes["answered"] += 1
        else:
            assert isinstance(event, CallFailed), event
            assert (event.outcome, event.sip_code) == EXPECTED[code], (call, event)
            outcomes[code] += 1
    assert outcomes["answered"] == 80 and sum(outcomes.values()) == total
    assert trunk.stats.active_calls == 0
    await far.assert_all_calls_passed(timeout=30)
