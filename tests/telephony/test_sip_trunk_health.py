"""A dead or refusing carrier is told from debtors who do not answer.

Each test puts a real SIP trunk in front of a carrier that fails one way: nothing listens
on its port (ICMP port unreachable), it never answers, it refuses our credentials. The
calls end as trunk failures (never the debtor's no-answer), the breaker opens and tells the
daemon (`on_health`), queued calls never leave, and a probe answered closes it again
through one trial call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from dialogkit import wait_until
from sipkit import FarEnd, TrunkFactory, free_udp_port, next_event, trunk_settings

from dialer.domain.calls import CallOutcome
from dialer.domain.events import CallFailed, CallRinging
from dialer.telephony.sip_message import SipMessage

FAST = {"breaker_backoff": 0.3, "breaker_backoff_max": 1.0, "probe_timeout": 0.5}


class Health:
    """What the trunk told the daemon, in order: the changes from up (where it starts)."""

    def __init__(self) -> None:
        self.changes: list[tuple[bool, str | None]] = []

    def __call__(self, up: bool, why: str | None) -> None:
        if up != (self.changes[-1][0] if self.changes else True):
            self.changes.append((up, why))

    @property
    def ups(self) -> list[bool]:
        return [up for up, _ in self.changes]


async def far_end_on(port: int) -> tuple[FarEnd, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    far = FarEnd()
    transport, _ = await loop.create_datagram_endpoint(lambda: far, local_addr=("127.0.0.1", port))
    return far, transport


async def answer_options(far: FarEnd, messages: list[SipMessage]) -> None:
    """Answer every OPTIONS 200 (a live proxy); keep the other requests for the test."""
    while True:
        message, addr, _ = await far.messages.get()
        if message.method == "OPTIONS":
            far.respond(message, addr, 200)
        else:
            messages.append(message)


@pytest.fixture
async def background() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_carrier_port_that_refuses_opens_the_breaker_and_a_live_one_closes_it(
    trunks: TrunkFactory, background: list[asyncio.Task[None]]
) -> None:
    port = free_udp_port()  # nothing listens: the kernel answers ICMP port unreachable
    health = Health()
    trunk, events = await trunks(trunk_settings(port, **FAST), on_health=health)
    await trunk.originate("c1", "15550001", 25)
    failed = await next_event(events, 3)  # not 32 s of timer B: the probe was refused
    assert failed == CallFailed("c1", CallOutcome.TRUNK_FAILED, 487)
    assert health.changes and health.changes[0][0] is False
    assert "ICMP" in (health.changes[0][1] or "")
    assert "ICMP" in (trunk.down_reason or "")

    await trunk.originate("c2", "15550002", 25)  # the daemon holds; a stray one never leaves
    assert await next_event(events, 1) == CallFailed("c2", CallOutcome.TRUNK_FAILED, 503)

    far, transport = await far_end_on(port)  # the carrier is back
    try:
        seen: list[SipMessage] = []
        background.append(asyncio.create_task(answer_options(far, seen)))
        await wait_until(lambda: health.ups == [False, True], 5)  # the probe was answered
        await trunk.originate("c3", "15550003", 25)  # the trial call
        await wait_until(lambda: any(m.method == "INVITE" for m in seen), 5)
        invite = next(m for m in seen if m.method == "INVITE")
        far.respond(invite, (trunk.local_address[0], trunk.local_address[1]), 180, to_tag="t")
        assert await next_event(events, 3) == CallRinging("c3")
        assert trunk.down_reason is None
        await trunk.cancel("c3")
    finally:
        transport.close()


async def test_a_carrier_that_never_answers_is_found_before_timer_b(
    trunks: TrunkFactory, far_end: FarEnd
) -> None:
    """No response to INVITEs nor to OPTIONS: a black hole (a dropped route, a firewall)."""
    health = Health()
    settings = trunk_settings(far_end.port, timer_t1=0.1, **FAST)  # timer B: 6.4 s
    trunk, events = await trunks(settings, on_health=health)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(3):
        await trunk.originate(f"c{i}", f"1555000{i}", 25)
    failures = [await next_event(events, 5) for _ in range(3)]
    took = loop.time() - started
    assert {(e.outcome, e.sip_code) for e in failures if isinstance(e, CallFailed)} == {
        (CallOutcome.TRUNK_FAILED, 487)
    }
    assert took < settings.timer_b / 2  # 4 T1 for the hint, then the probe's timeout
    assert health.ups == [False] and "OPTIONS" in (health.changes[0][1] or "")


async def test_refused_credentials_stop_dialing_after_a_few_calls_not_the_whole_hopper(
    trunks: TrunkFactory, far_end: FarEnd, background: list[asyncio.Task[None]]
) -> None:
    """A wrong password: every INVITE is challenged and our answer refused. Three calls
    fail at the carrier, the breaker opens, the rest never leave; the proxy answers
    OPTIONS, so one trial call goes, fails the same way, and the breaker opens again."""
    health = Health()
    settings = trunk_settings(
        far_end.port,
        username="alice",
        password="wrong",
        calls_per_second=20,
        breaker_failures=3,
        **FAST,
    )
    trunk, events = await trunks(settings, on_health=health)
    seen: list[SipMessage] = []
    nonce = 0

    async def carrier() -> None:
        nonlocal nonce
        while True:
            message, addr, _ = await far_end.messages.get()
            if message.method == "OPTIONS":
                far_end.respond(message, addr, 200)
            elif message.method == "INVITE":
                seen.append(message)
                nonce += 1
                challenge = f'Digest realm="t", nonce="n{nonce}", qop="auth", algorithm=MD5'
                far_end.respond(
                    message,
                    addr,
                    407,
                    to_tag=f"x{nonce}",
                    extra=[("Proxy-Authenticate", challenge)],
                )

    background.append(asyncio.create_task(carrier()))
    for i in range(8):
        await trunk.originate(f"c{i}", f"1555000{i}", 25)
    failures = [await next_event(events, 5) for _ in range(8)]
    assert all(isinstance(e, CallFailed) for e in failures)
    assert {e.outcome for e in failures if isinstance(e, CallFailed)} == {CallOutcome.TRUNK_FAILED}
    reached_carrier = {m.call_id for m in seen}
    assert len(reached_carrier) <= 4  # 3 to open it (one more may have been on its way)
    assert health.ups[0] is False and "credentials" in (health.changes[0][1] or "")

    await wait_until(lambda: health.ups[:2] == [False, True], 5)  # probe answered: a trial
    await trunk.originate("t1", "15550100", 25)
    trial = await next_event(events, 5)
    assert trial == CallFailed("t1", CallOutcome.TRUNK_FAILED, 407)
    await wait_until(lambda: health.ups[:3] == [False, True, False], 5)
    await trunk.originate("t2", "15550101", 25)  # down again: nothing leaves
    assert await next_event(events, 1) == CallFailed("t2", CallOutcome.TRUNK_FAILED, 503)
