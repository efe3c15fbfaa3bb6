"""Ring time runs from the INVITE the trunk actually sent, not from the engine's dial: a
trunk that paces INVITEs (calls per second) never has a call cancelled before the ring
timeout (the TSR's minimum ring time) has passed since its own INVITE."""

from __future__ import annotations

from enginekit import Driver, login, make_engine, supply
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.domain.commands import Cancel, Originate
from dialer.domain.events import CallInviteSent, CallRinging


@settings(max_examples=60, deadline=None)
@given(
    delays=st.lists(st.floats(min_value=0.0, max_value=14.5), min_size=1, max_size=6),
    ring_timeout=st.floats(min_value=15.0, max_value=40.0),
)
def test_no_call_is_cancelled_before_the_ring_timeout_from_its_invite(
    delays: list[float], ring_timeout: float
) -> None:
    d = Driver(make_engine("progressive", ring_timeout=ring_timeout))
    supply(d, len(delays))
    login(d, *(f"a{i}" for i in range(len(delays))))
    calls = [c.call_id for c in d.of(Originate)]
    assert len(calls) == len(delays)
    # The trunk sends each INVITE `delay` seconds after the dial (its pacing queue, shorter
    # than the ring timeout); ticks run every 0.25 s; no call is ever answered.
    events = sorted((t, call_id) for call_id, t in zip(calls, delays, strict=True))
    invite_at: dict[str, float] = {}
    cancelled: dict[str, float] = {}
    now = 0.0
    while now < max(delays) + ring_timeout + 2.0:
        while events and events[0][0] <= now:
            _, call_id = events.pop(0)
            invite_at[call_id] = now
            d.send(CallInviteSent(call_id), now)
            d.send(CallRinging(call_id), now)
        for command in d.tick(now):
            if isinstance(command, Cancel):
                cancelled.setdefault(command.call_id, now)
        now += 0.25
    assert set(cancelled) == set(calls), "every unanswered call is cancelled in the end"
    for call_id, at in cancelled.items():
        assert at >= invite_at[call_id] + ring_timeout - 1e-9, (call_id, at, invite_at[call_id])
        assert at <= invite_at[call_id] + ring_timeout + 0.25 + 1e-9, "and not much later"


def test_the_call_records_where_its_ring_time_starts() -> None:
    d = Driver(make_engine("progressive"))
    supply(d, 1)
    login(d, "a1")
    (originate,) = d.of(Originate)
    call = d.engine.calls[originate.call_id]
    assert call.rang_from == 0.0, "the dial until the trunk reports the INVITE"
    d.send(CallInviteSent(originate.call_id), 4.0)
    assert call.rang_from == 4.0
