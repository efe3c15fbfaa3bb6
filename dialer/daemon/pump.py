"""The trunk's event pump: each call-progress event to the runner whose call it is.

An outbound call is the engine's from its `Originate`; an inbound call is known to the
inbound desk from the moment it rang (the engine may not have it yet), so the desk names
its runner for the caller's hang-up and key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from dialer.daemon.inbound_desk import InboundDesk
from dialer.daemon.runner import CampaignRunner
from dialer.domain.events import CallHungUp
from dialer.telephony.port import TrunkEvent


async def pump(
    events: asyncio.Queue[TrunkEvent],
    runners: Mapping[str, CampaignRunner],
    inbound: InboundDesk | None,
) -> None:
    while True:
        item = await events.get()
        for runner in runners.values():
            if item.call_id in runner.engine.calls:
                runner.push(item)
                break
        else:
            owner = inbound.runner_for(item.call_id) if inbound is not None else None
            if owner is not None and inbound is not None:
                owner.push(item)
                if isinstance(item, CallHungUp):
                    inbound.hung_up(item.call_id, asyncio.get_running_loop().time())
