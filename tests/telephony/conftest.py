"""Fixtures for the SIP adapter tests (helpers in sipkit.py).

Tests that need sipp are marked `sip`; without sipp they skip, or fail when
DIALER_REQUIRE_ALL=1 (a green CI must not hide skipped parts).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sipkit import SCENARIOS, FarEnd, RtpPeer, Sipp, open_rtp_peer

from dialer.telephony.port import TrunkEvent
from dialer.telephony.sip import SipTrunk
from dialer.telephony.sip_settings import SipTrunkSettings


@pytest.fixture
def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        message = "sipp is not installed (Debian package sip-tester)"
        if os.environ.get("DIALER_REQUIRE_ALL") == "1":
            pytest.fail(f"{message}, and DIALER_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(message)
    return path


@pytest.fixture
async def sipp(sipp_binary: str, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Sipp]]]:
    started: list[Sipp] = []

    async def launch(calls: int, scenario: str = "uas.xml", **kw: Any) -> Sipp:
        far = Sipp(sipp_binary, SCENARIOS / scenario, calls, tmp_path / f"sipp{len(started)}", **kw)
        started.append(far)
        return await far.start()

    yield launch
    for far in started:
        await far.kill()


@pytest.fixture
async def trunks() -> AsyncIterator[
    Callable[..., Awaitable[tuple[SipTrunk, asyncio.Queue[TrunkEvent]]]]
]:
    made: list[SipTrunk] = []

    async def make(
        settings: SipTrunkSettings, **kw: Any
    ) -> tuple[SipTrunk, asyncio.Queue[TrunkEvent]]:
        trunk = SipTrunk(settings, **kw)
        events: asyncio.Queue[TrunkEvent] = asyncio.Queue()
        await asyncio.wait_for(trunk.start(events), 5)
        made.append(trunk)
        return trunk, events

    yield make
    for trunk in made:
        await asyncio.wait_for(trunk.stop(), 10)


@pytest.fixture
async def far_end() -> AsyncIterator[FarEnd]:
    loop = asyncio.get_running_loop()
    protocol = FarEnd()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", 0)
    )
    yield protocol
    transport.close()


@pytest.fixture
async def rtp_peers() -> AsyncIterator[Callable[[], Awaitable[RtpPeer]]]:
    transports: list[asyncio.DatagramTransport] = []

    async def make() -> RtpPeer:
        peer, transport = await open_rtp_peer()
        transports.append(transport)
        return peer

    yield make
    for transport in transports:
        transport.close()
