"""Collectors' nailed-up legs (dialer.daemon.collector_legs) against a real engine and a fake trunk:
no collector reaches the engine before their leg is up; a lost leg pauses them (counted); a
logout that waited for the end of a call hangs the leg up; with legs, a collector whose
console is gone keeps their call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from dialer.daemon.collector_legs import CollectorLegs, LegAwareRunner
from dialer.domain.agents import PHONE_LOST, CollectorState
from dialer.domain.commands import Bridge, Command, Originate
from dialer.domain.events import (
    CallAnswered,
    CallHungUp,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorReady,
    Event,
)
from dialer.domain.model import Case, DialTarget, PhoneNumber
from dialer.engine import Engine, EngineConfig
from dialer.metrics import Metrics
from dialer.pacing.policies import make_pacer


class FakeTrunk:
    """Records what the legs ask; a phone answers when the test resolves its login."""

    def __init__(self) -> None:
        self.logins: dict[str, asyncio.Future[None]] = {}
        self.addresses: dict[str, str | None] = {}
        self.logouts: list[str] = []
        self.hangups: list[str] = []

    async def collector_login(self, collector_id: str, address: str | None) -> None:
        self.addresses[collector_id] = address
        future = asyncio.get_running_loop().create_future()
        self.logins[collector_id] = future
        await future

    async def collector_logout(self, collector_id: str) -> None:
        self.logouts.append(collector_id)

    async def hangup(self, call_id: str) -> None:
        self.hangups.append(call_id)


class Runner:
    """Stands in for a LegAwareRunner: the same push/deliver/observer contract, run inline
    on a real engine."""

    def __init__(self, legs: CollectorLegs) -> None:
        config = EngineConfig(campaign="t", ring_timeout=25)
        self.engine = Engine(config, make_pacer("progressive"), np.random.default_rng(1))
        self.name = "t"
        self.metrics = Metrics()
        self.step_observers: list[Callable[..., None]] = []
        self.legs: CollectorLegs | None = None
        self.commands: list[Command] = []
        self.now = 0.0
        legs.attach(self)  # type: ignore[arg-type]

    push = LegAwareRunner.push

    def deliver(self, event: Event) -> None:
        self.now += 0.1
        commands = self.engine.handle(event, self.now)
        self.commands += commands
        for observer in self.step_observers:
            observer(self, event, commands)

    def state(self, collector_id: str) -> CollectorState:
        collector = self.engine.collectors.get(collector_id)
        return CollectorState.LOGGED_OUT if collector is None else collector.state


async def until(condition: Callable[[], bool]) -> None:
    """Let the legs' tasks run until `condition` holds (bounded: no timing involved)."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


@pytest.fixture
def trunk() -> FakeTrunk:
    return FakeTrunk()


def sip_legs(trunk: FakeTrunk) -> CollectorLegs:
    return CollectorLegs(trunk, nailed_up=True, addresses={"alice": "sip:1001@pbx"})  # type: ignore[arg-type]


async def logged_in(trunk: FakeTrunk, runner: Runner, collector_id: str) -> None:
    runner.push(CollectorLoggedIn(collector_id))
    await until(lambda: collector_id in trunk.logins)
    trunk.logins.pop(collector_id).set_result(None)
    await until(lambda: runner.state(collector_id) is CollectorState.READY)


async def test_a_login_reaches_the_engine_only_once_the_leg_is_up(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    runner.push(CollectorLoggedIn("alice", "t1"))
    runner.push(CollectorLoggedIn("alice", "t1"))  # a second click while the phone rings
    await until(lambda: "alice" in trunk.logins)
    assert runner.state("alice") is CollectorState.LOGGED_OUT
    assert trunk.addresses == {"alice": "sip:1001@pbx"}
    runner.push(CollectorReady("alice"))  # not logged in yet: held back, not rejected
    trunk.logins.pop("alice").set_result(None)
    await until(lambda: runner.state("alice") is CollectorState.READY)
    assert legs.up == {"alice"} and trunk.logins == {}
    assert runner.engine.collectors["alice"].team == "t1"


async def test_a_phone_that_does_not_answer_leaves_the_collector_out(trunk: FakeTrunk) -> None:
    runner = Runner(sip_legs(trunk))
    runner.push(CollectorLoggedIn("bob"))
    await until(lambda: "bob" in trunk.logins)
    trunk.logins.pop("bob").set_exception(RuntimeError("collector bob's phone answered 486"))
    await until(lambda: runner.legs is not None and not runner.legs._dialing)
    assert runner.state("bob") is CollectorState.LOGGED_OUT
    assert trunk.addresses == {"bob": None}  # the trunk looks the phone up itself
    await logged_in(trunk, runner, "bob")  # trying again calls the phone again


async def test_without_legs_events_pass_straight_through(trunk: FakeTrunk) -> None:
    runner = Runner(CollectorLegs(trunk, nailed_up=False))  # type: ignore[arg-type]
    runner.push(CollectorLoggedIn("alice"))
    assert runner.state("alice") is CollectorState.READY
    runner.push(CollectorLoggedOut("alice"))
    assert runner.state("alice") is CollectorState.LOGGED_OUT
    assert trunk.logins == {} and trunk.logouts == []


async def test_a_lost_leg_pauses_and_ready_calls_the_phone_again(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    await logged_in(trunk, runner, "alice")
    legs.leg_lost("alice")
    assert runner.state("alice") is CollectorState.PAUSED
    assert runner.engine.collectors["alice"].pause_reason == PHONE_LOST
    lost = runner.metrics.registry.get_sample_value(
        "dialer_collector_presence_lost_total", {"campaign": "t", "reason": PHONE_LOST}
    )
    assert lost == 1.0
    runner.push(CollectorReady("alice"))
    await until(lambda: "alice" in trunk.logins)
    assert runner.state("alice") is CollectorState.PAUSED  # until the phone answers
    trunk.logins.pop("alice").set_result(None)
    await until(lambda: runner.state("alice") is CollectorState.READY)
    assert legs.up == {"alice"}


async def test_a_lost_leg_on_a_call_hangs_the_call_up_then_pauses(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    await logged_in(trunk, runner, "alice")
    number = "+12125550110"
    case = Case("1", (PhoneNumber(number),))
    runner.push(CasesSupplied((DialTarget(case, number),)))
    ticked = runner.engine.tick(runner.now)  # the pacer dials for the ready collector
    originate = next(c for c in [*runner.commands, *ticked] if isinstance(c, Originate))
    runner.push(CallAnswered(originate.call_id))
    assert any(isinstance(c, Bridge) for c in runner.commands)
    assert runner.state("alice") is CollectorState.ON_CALL

    legs.leg_lost("alice")
    await until(lambda: trunk.hangups == [originate.call_id])
    assert runner.state("alice") is CollectorState.ON_CALL  # the pause waits for the hang-up
    runner.push(CallHungUp(originate.call_id))
    assert runner.state("alice") is CollectorState.PAUSED
    assert runner.engine.collectors["alice"].pause_reason == PHONE_LOST


async def test_logging_out_hangs_the_leg_up(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    await logged_in(trunk, runner, "alice")
    runner.push(CollectorLoggedOut("alice"))
    assert runner.state("alice") is CollectorState.LOGGED_OUT
    await until(lambda: trunk.logouts == ["alice"])
    assert legs.up == frozenset()
    legs.leg_lost("alice")  # the BYE's echo, say: nothing left to pause
    assert runner.state("alice") is CollectorState.LOGGED_OUT


async def test_leaving_while_the_phone_rings_cancels_the_login(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    runner.push(CollectorLoggedIn("alice"))
    await until(lambda: "alice" in trunk.logins)
    runner.push(CollectorLoggedOut("alice"))  # never reached the engine: no rejection
    await until(lambda: trunk.logouts == ["alice"])
    await legs.close()
    assert runner.state("alice") is CollectorState.LOGGED_OUT and legs.up == frozenset()
    assert trunk.logins["alice"].cancelled()


async def test_a_leg_dropped_as_it_came_up_does_not_log_in(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    runner.push(CollectorLoggedIn("alice"))
    await until(lambda: "alice" in trunk.logins)
    legs.leg_lost("alice")  # the phone answered and hung up before the login returned
    trunk.logins.pop("alice").set_result(None)
    await until(lambda: not legs._dialing)
    assert runner.state("alice") is CollectorState.LOGGED_OUT


async def test_leaving_while_a_lost_leg_is_called_again_logs_out(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    await logged_in(trunk, runner, "alice")
    legs.leg_lost("alice")
    runner.push(CollectorReady("alice"))
    await until(lambda: "alice" in trunk.logins)
    runner.push(CollectorLoggedOut("alice"))  # paused in the engine: it must hear of it
    assert runner.state("alice") is CollectorState.LOGGED_OUT
    await until(lambda: trunk.logouts == ["alice"])
    await legs.close()
    assert trunk.logins["alice"].cancelled() and legs.up == frozenset()


async def _on_a_call(trunk: FakeTrunk, runner: Runner) -> str:
    await logged_in(trunk, runner, "alice")
    number = "+12125550110"
    runner.push(CasesSupplied((DialTarget(Case("1", (PhoneNumber(number),)), number),)))
    ticked = runner.engine.tick(runner.now)
    originate = next(c for c in [*runner.commands, *ticked] if isinstance(c, Originate))
    runner.push(CallAnswered(originate.call_id))
    assert runner.state("alice") is CollectorState.ON_CALL
    return originate.call_id


async def test_a_logout_after_the_call_hangs_the_leg_up_when_it_ends(trunk: FakeTrunk) -> None:
    legs = sip_legs(trunk)
    runner = Runner(legs)
    call_id = await _on_a_call(trunk, runner)
    runner.push(CollectorLoggedOut("alice", after_call=True))
    assert runner.state("alice") is CollectorState.ON_CALL
    await asyncio.sleep(0)
    assert trunk.logouts == [], "the leg carries the call: it stays"
    runner.push(CallHungUp(call_id))
    assert runner.state("alice") is CollectorState.LOGGED_OUT
    await until(lambda: trunk.logouts == ["alice"])
    assert legs.up == frozenset()


async def test_with_legs_a_gone_console_keeps_the_call_without_legs_it_ends(
    trunk: FakeTrunk,
) -> None:
    from dialer.domain.commands import Hangup
    from dialer.domain.events import CollectorSeen

    runner = Runner(sip_legs(trunk))
    assert runner.engine.config.hang_up_when_absent is False
    runner.push(CollectorSeen("alice", 1.0))
    await _on_a_call(trunk, runner)
    runner.now += 5.0
    kept = runner.engine.tick(runner.now)
    assert runner.state("alice") is CollectorState.ON_CALL
    assert not any(isinstance(c, Hangup) for c in kept)

    plain = Runner(CollectorLegs(trunk, nailed_up=False))  # type: ignore[arg-type]
    assert plain.engine.config.hang_up_when_absent is True
    plain.push(CollectorSeen("bob", 1.0))
    plain.push(CollectorLoggedIn("bob"))
    number = "+12125550111"
    plain.push(CasesSupplied((DialTarget(Case("2", (PhoneNumber(number),)), number),)))
    originate = next(c for c in plain.commands if isinstance(c, Originate))
    plain.push(CallAnswered(originate.call_id))
    plain.now += 5.0
    ended = plain.engine.tick(plain.now)
    assert Hangup(originate.call_id) in ended
