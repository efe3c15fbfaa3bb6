"""Registration in the background, with digest auth, against a sipp registrar."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sipkit import SippFactory, TrunkFactory, trunk_settings

pytestmark = pytest.mark.sip


async def wait_until(predicate: Callable[[], bool], timeout: float = 5) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_registers_with_digest_and_unregisters_on_stop(
    sipp: SippFactory, trunks: TrunkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALER_TEST_SIP_PASSWORD", "s3cret")
    registrar = await sipp(1, scenario="register.xml")
    settings = trunk_settings(
        registrar.port, register=True, username="alice", password_env="DIALER_TEST_SIP_PASSWORD"
    )
    trunk, _ = await trunks(settings)
    await wait_until(lambda: trunk.registered)
    await asyncio.wait_for(trunk.stop(), 5)
    assert trunk.registered is False
    await registrar.assert_all_calls_passed()


async def test_wrong_password_is_not_registered(sipp: SippFactory, trunks: TrunkFactory) -> None:
    registrar = await sipp(1, scenario="register.xml")
    settings = trunk_settings(registrar.port, register=True, username="alice", password="nope")
    trunk, _ = await trunks(settings)
    assert registrar.proc is not None
    await wait_until(lambda: registrar.proc is not None and registrar.proc.returncode is not None)
    assert trunk.registered is False
