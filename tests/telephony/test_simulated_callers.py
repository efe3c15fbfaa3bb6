"""The simulated carrier's callers: who rings, and what a queued, offered or bridged caller
does, on the trunk's own timers (a clock 1,000 times faster than the wall)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from dialer.clock import Clock
from dialer.domain.events import CallHungUp, InboundCallerChose
from dialer.pacing.distributions import Fixed
from dialer.pacing.samples import SampleBuffer
from dialer.settings import load_settings
from dialer.telephony.port import TrunkEvent
from dialer.telephony.simulated import SimulatedTrunk
from dialer.telephony.simulated_callers import SimulatedCallers
from dialer.telephony.simulated_callers_settings import SimulatedCallersSettings
from dialer.telephony.simulated_model import CarrierModel
from dialer.telephony.sip_inbound import InboundOffer

OURS = "+12125550100"


class Desk:
    """The inbound hooks as the daemon's desk offers them: ours is one number."""

    def __init__(self) -> None:
        self.offers: list[InboundOffer] = []

    def accepts(self, dialed: str) -> bool:
        return dialed == OURS

    def offered(self, offer: InboundOffer) -> None:
        self.offers.append(offer)

    def recording(self, call_id: str, path: Path) -> None:
        raise AssertionError("simulated callers leave no voicemail")


async def started(
    desk: Desk, **callers: object
) -> tuple[SimulatedTrunk, SimulatedCallers, asyncio.Queue[TrunkEvent]]:
    """A started trunk with callers, its callers and its event queue."""
    sim = trunk(desk, **callers)
    events: asyncio.Queue[TrunkEvent] = asyncio.Queue()
    await sim.start(events)
    assert sim.callers is not None
    return sim, sim.callers, events


def trunk(desk: Desk, **callers: object) -> SimulatedTrunk:
    rng = np.random.default_rng(1)
    carrier = CarrierModel(rng, Fixed(1.0), Fixed(1.0))
    settings = SimulatedCallersSettings.model_validate(
        {
            "calls_per_hour": 1.0,  # the test rings them itself
            "talk": {"dist": "fixed", "value": 90},
            "patience": {"dist": "fixed", "value": 45},
            **callers,
        }
    )
    clock = Clock(speed=1000.0, start=0.0)
    return SimulatedTrunk(
        carrier,
        SampleBuffer(Fixed(10.0), rng),
        clock,
        lambda _now: 1.0,
        callers=settings,
        ours=[OURS],
        inbound=desk,
        rng=rng,
    )


async def next_event(events: asyncio.Queue[TrunkEvent], call_id: str) -> TrunkEvent:
    while True:
        item = await asyncio.wait_for(events.get(), 5)
        if item.call_id == call_id:
            return item


async def test_callers_call_back_from_numbers_dialed_and_wait_as_long_as_their_patience() -> None:
    desk = Desk()
    sim, callers, events = await started(desk, unknown_share=0.0)
    await sim.originate("c1.1", "+12125550142", 25.0)
    call_id = callers.ring()
    assert call_id is not None and desk.offers[-1].caller == "+12125550142"
    assert desk.offers[-1].dialed == OURS
    loop = asyncio.get_running_loop()
    queued_at = loop.time()
    await sim.queue_inbound(call_id)
    assert isinstance(await next_event(events, call_id), CallHungUp)
    waited = (loop.time() - queued_at) * 1000.0  # clock seconds
    assert waited >= 44.0  # not before their patience ran out (timers never fire early)
    assert call_id not in sim.log, "a caller is not one of our dials"
    await sim.stop()


async def test_a_bridged_caller_talks_and_an_offered_one_presses_1() -> None:
    desk = Desk()
    sim, callers, events = await started(desk, callback_share=1.0)
    first = callers.ring()
    assert first is not None and desk.offers[-1].caller.startswith("+1202555")  # never dialed
    await sim.queue_inbound(first)
    await sim.bridge(first, "alice")  # taken off hold at once: no patience hang-up
    loop = asyncio.get_running_loop()
    bridged_at = loop.time()
    assert isinstance(await next_event(events, first), CallHungUp)
    # the talk's end (90 s), not the patience (45 s) the bridge cancelled
    assert (loop.time() - bridged_at) * 1000.0 >= 89.0

    second = callers.ring()
    assert second is not None
    await sim.queue_inbound(second)
    await sim.offer_callback(second)
    chose = await next_event(events, second)
    assert isinstance(chose, InboundCallerChose) and chose.choice == "callback"
    await sim.hangup(second)  # the engine's Hangup after the choice
    assert isinstance(await next_event(events, second), CallHungUp)
    assert not callers.calls
    await sim.stop()


def test_the_callers_settings_name_a_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text("trunk: {simulated: {callers: {patience: {dist: weird}}}}\n")
    with pytest.raises(Exception, match=r"trunk\.simulated\.callers\.patience"):
        load_settings(path)
    path.write_text("trunk: {simulated: {callers: {callback_share: 2}}}\n")
    with pytest.raises(Exception, match=r"trunk\.simulated\.callers\.callback_share"):
        load_settings(path)
