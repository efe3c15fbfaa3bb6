"""Owner-first routing: owner, then the owner's team after a wait, then anyone with the
skills; never beyond the connect deadline."""

from __future__ import annotations

from enginekit import Driver, login, make_engine, supply

from dialer.domain.commands import Bridge, Originate, PlaySafeHarbor
from dialer.domain.events import CallAnswered, CallHungUp, CollectorReady
from dialer.engine.routing import RoutingPolicy


def _engine(**kw: object) -> Driver:
    return Driver(make_engine("ratio:3", connect_grace=2.0, routing=RoutingPolicy(0.5, 0.5), **kw))


def _busy(d: Driver, collector: str, call_id: str, now: float) -> None:
    d.send(CallAnswered(call_id), now)
    assert d.of(Bridge)[-1].collector_id == collector  # type: ignore[attr-defined]


def test_owner_ready_takes_the_call_even_if_not_longest_idle() -> None:
    d = _engine()
    login(d, "x", now=0.0, team="t1")
    login(d, "owner", now=1.0, team="t1")
    supply(d, 6, now=1.0, owner="owner")
    call = d.of(Originate)[0].call_id  # type: ignore[attr-defined]
    d.send(CallAnswered(call), 5.0)
    assert d.of(Bridge)[-1].collector_id == "owner"  # type: ignore[attr-defined]


def test_stages_open_in_order() -> None:
    d = _engine()
    login(d, "owner", now=0.0, team="t1")
    login(d, "mate", now=0.0, team="t1")
    login(d, "other", now=0.0, team="t2")
    supply(d, 9, now=0.0, owner="owner")
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    _busy(d, "owner", calls[0], 1.0)
    d.commands.clear()
    d.send(CallAnswered(calls[1]), 2.0)  # owner busy: only the owner may take it until 2.5
    assert d.of(Bridge) == []
    assert d.engine.next_wakeup(2.0) == 2.5
    d.tick(2.4)
    assert d.of(Bridge) == []
    d.tick(2.5)  # the team step opens: the team-mate takes it
    assert [(b.call_id, b.collector_id) for b in d.of(Bridge)] == [(calls[1], "mate")]  # type: ignore[attr-defined]
    d.send(CallAnswered(calls[2]), 3.0)  # owner and mate busy
    d.tick(3.5)
    assert len(d.of(Bridge)) == 1, "other team waits for the anyone step"
    d.tick(4.0)
    assert d.of(Bridge)[-1].collector_id == "other"  # type: ignore[attr-defined]


def test_owner_freed_during_wait_gets_the_call() -> None:
    d = _engine()
    login(d, "owner", now=0.0, team="t1")
    login(d, "mate", now=0.0, team="t1")
    supply(d, 6, now=0.0, owner="owner")
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    _busy(d, "owner", calls[0], 1.0)
    d.send(CallAnswered(calls[1]), 2.0)
    d.send(CallHungUp(calls[0]), 2.1)
    d.send(CollectorReady("owner"), 2.2)
    assert d.of(Bridge)[-1].collector_id == "owner"  # type: ignore[attr-defined]


def test_skills_are_required_beyond_the_team() -> None:
    d = _engine()
    login(d, "owner", now=0.0, team="t1")
    login(d, "english", now=0.0, team="t2")
    login(d, "spanish", now=0.5, team="t2", skills=["es"])
    supply(d, 9, now=0.5, owner="owner", skills=["es"])
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    _busy(d, "owner", calls[0], 1.0)
    d.send(CallAnswered(calls[1]), 2.0)
    d.tick(3.0)  # owner and (empty) team steps over
    assert d.of(Bridge)[-1].collector_id == "spanish"  # type: ignore[attr-defined]


def test_abandon_at_deadline_when_only_ineligible_collectors_are_free() -> None:
    d = _engine()
    login(d, "owner", now=0.0, team="t1")
    login(d, "english", now=0.0, team="t2")
    supply(d, 6, now=0.0, owner="owner", skills=["es"])
    calls = [c.call_id for c in d.of(Originate)]  # type: ignore[attr-defined]
    _busy(d, "owner", calls[0], 1.0)
    d.send(CallAnswered(calls[1]), 2.0)
    d.tick(3.0)
    d.tick(3.99)
    assert d.of(PlaySafeHarbor) == []
    d.tick(4.0)
    assert [c.call_id for c in d.of(PlaySafeHarbor)] == [calls[1]]  # type: ignore[attr-defined]
