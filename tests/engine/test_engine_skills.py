"""The engine dials only cases a present collector could take: the pacer counts available
collectors, so a case whose skills none of them has (and whose owner is away) would be
dialed for nobody and abandoned. Such cases go back to the store for a while instead."""

from __future__ import annotations

from enginekit import Driver, login, make_engine, supply

from dialer.domain.commands import Bridge, CaseDeferred, Originate
from dialer.domain.events import CallAnswered, CollectorPaused
from dialer.engine import NO_SKILLED_COLLECTOR
from dialer.engine.routing import RoutingPolicy
from dialer.settings import RoutingSettings


def _originated(d: Driver) -> list[str]:
    return [c.case_ref for c in d.of(Originate)]  # type: ignore[attr-defined]


def _deferred(d: Driver) -> list[str]:
    return [c.case_ref for c in d.of(CaseDeferred)]  # type: ignore[attr-defined]


def test_cases_needing_a_skill_nobody_present_has_are_not_dialed() -> None:
    d = Driver(make_engine("ratio:3"))
    login(d, "english", now=0.0)
    supply(d, 2, now=0.0, skills=["es"])
    supply(d, 3, now=0.0, start=3)
    assert _originated(d) == ["case-3", "case-4", "case-5"]
    assert _deferred(d) == ["case-1", "case-2"]
    deferral = d.of(CaseDeferred)[0]
    assert deferral.reasons == (NO_SKILLED_COLLECTOR,)  # type: ignore[attr-defined]
    assert deferral.not_before == 300.0  # type: ignore[attr-defined]
    assert d.engine.queued_refs == frozenset({"case-3", "case-4", "case-5"})


def test_a_collector_with_the_skill_makes_such_cases_dialable() -> None:
    d = Driver(make_engine("ratio:3"))
    login(d, "english", now=0.0)
    login(d, "spanish", now=0.0, skills=["es", "late_stage"])
    supply(d, 2, now=0.0, skills=["es"])
    assert _originated(d) == ["case-1", "case-2"]
    assert _deferred(d) == []


def test_paused_collectors_do_not_count() -> None:
    d = Driver(make_engine("ratio:3"))
    login(d, "english", now=0.0)
    login(d, "spanish", now=0.0, skills=["es"])
    d.send(CollectorPaused("spanish", "lunch"), 0.5)
    supply(d, 1, now=1.0, skills=["es"])
    assert _originated(d) == []
    assert _deferred(d) == ["case-1"]


def test_an_available_owner_can_take_their_case_whatever_the_skills() -> None:
    d = Driver(make_engine("ratio:3"))
    login(d, "owner", now=0.0)
    supply(d, 1, now=0.0, owner="owner", skills=["es"])
    assert _originated(d) == ["case-1"]


def test_preview_reserves_a_collector_who_can_take_the_case() -> None:
    d = Driver(make_engine("preview"))
    login(d, "english", now=0.0)  # longest idle, but without the skill
    login(d, "spanish", now=1.0, skills=["es"])
    supply(d, 1, now=1.0, skills=["es"])
    call = d.of(Originate)[0]
    assert d.engine.calls[call.call_id].collector_id == "spanish"  # type: ignore[attr-defined]
    d.send(CallAnswered(call.call_id), 5.0)  # type: ignore[attr-defined]
    assert d.of(Bridge)[-1].collector_id == "spanish"  # type: ignore[attr-defined]


def test_default_routing_waits_are_half_a_second() -> None:
    assert RoutingSettings().owner_wait == RoutingPolicy().owner_wait == 0.5
    assert RoutingSettings().team_wait == RoutingPolicy().team_wait == 0.5
