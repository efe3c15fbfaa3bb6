"""An inbound call on the collector's console: marked as such, the case on screen with the
right-party data rules of outbound (clear only to the routed collector, audited), the other
matching cases listed; an unknown caller gets a plain screen with the masked number.

The daemon runs on the simulated trunk (its callers off): the test plays the daemon's
inbound desk (`Daemon.inbound`, its screen pop) and the engine's `Bridge` and
`InboundFinished` to the collector, through the runner's step observers like every step.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from test_web_sse import _events, _next
from webkit import Running, login, running, state_of, until, write_settings

from dialer.domain.commands import Bridge, Command, InboundFinished
from dialer.domain.inbound import InboundCall, InboundOutcome
from dialer.pacing.blending import ErlangReservation
from dialer.pacing.reserving import ReservingPacer
from dialer.store.identity_repo import IdentityRepository
from dialer.store.inbound_repo import InboundRecord, InboundRepository
from dialer.store.org_repo import CampaignRepository
from dialer.store.tables import CaseRow
from dialer.web.facade import InboundPop


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


class Desk:
    """The daemon's inbound desk as the web sees it: one open call's screen pop."""

    def __init__(self, call_id: str, pop: InboundPop) -> None:
        self.calls = {call_id: pop}

    def screen_pop(self, call_id: str) -> InboundPop | None:
        return self.calls.get(call_id)

    async def drain(self, timeout: float = 0.0) -> None:  # the daemon waits for its records
        return None


def step(live: Running, *commands: Command) -> None:
    runner = live.daemon.runners["c1"]
    for observe in runner.step_observers:
        observe(runner, None, list(commands))


async def ready_and_idle(live: Running, client: object) -> None:
    live.daemon.runners["c1"].engine.paused = True  # no outbound call gets in the way
    await login(client, "alice")  # type: ignore[arg-type]
    await client.post("/api/v1/me/ready", json={"campaign": "c1"})  # type: ignore[attr-defined]
    await until(lambda: state_of(live.daemon, "alice") == "ready", what="ready")


async def test_a_return_call_pops_its_case_marked_inbound_with_the_other_cases(
    live: Running,
) -> None:
    async with live.daemon.sessions() as session:
        ids = list(await session.scalars(select(CaseRow.id).order_by(CaseRow.id).limit(3)))
        row = await session.get(CaseRow, ids[0])
    assert row is not None and row.debtor_name
    live.daemon.inbound = Desk("in-1", InboundPop(ids[0], (ids[1], ids[2]), "+1212***0123"))  # type: ignore[assignment]
    async with live.client() as alice, live.client() as bob:
        await ready_and_idle(live, alice)
        step(live, Bridge("in-1", "alice"))
        page = (await alice.get("/console")).text
        assert 'data-testid="inbound"' in page and "Inbound: the debtor called back" in page
        assert "+1212***0123" in page
        assert f"#{ids[1]}, #{ids[2]}" in page  # the other cases on the number
        assert 'data-testid="identity-name"' in page and row.debtor_name in page
        call = (await alice.get("/api/v1/me")).json()["collector"]["call"]
        assert (call["inbound"], call["case_id"], call["other_case_ids"]) == (
            True,
            ids[0],
            [ids[1], ids[2]],
        )
        async with live.daemon.sessions() as session:
            audit = await IdentityRepository(session).audit_of(ids[0])
        assert [(a.actor, a.reason) for a in audit] == [("alice", "routed_call")]
        await login(bob, "bob")
        refused = await bob.get(f"/api/v1/cases/{ids[0]}")
        assert refused.status_code == 403 and row.debtor_name not in refused.text

        ended = InboundCall("in-1", "+12125550123", str(ids[0]), outcome=InboundOutcome.ANSWERED,
                            ended_at=live.daemon.clock.now())  # fmt: skip
        step(live, InboundFinished(ended))
        after = (await alice.get("/console")).text
        assert 'data-testid="call-status">Call ended' in after and "Inbound:" in after


async def test_an_unknown_caller_gets_a_plain_screen_with_the_masked_number(
    live: Running,
) -> None:
    live.daemon.inbound = Desk("in-2", InboundPop(None, (), "+1312***0999"))  # type: ignore[assignment]
    async with live.client() as alice:
        await ready_and_idle(live, alice)
        step(live, Bridge("in-2", "alice"))
        page = (await alice.get("/console")).text
        assert "Inbound: an unknown caller" in page and "+1312***0999" in page
        assert 'data-testid="disposition-form"' not in page  # no case to record against
        assert 'data-testid="hangup"' in page
        call = (await alice.get("/api/v1/me")).json()["collector"]["call"]
        assert (call["inbound"], call["case_id"]) == (True, None)


async def test_the_manager_sees_the_inbound_figures_and_an_under_target_service_level(
    live: Running,
) -> None:
    """Three calls in the window: one answered in 5 s, one in 40 s, one abandoned: 1/3
    answered within 20 s, under the 80% target."""
    now = datetime.fromtimestamp(live.daemon.clock.now(), UTC)
    async with live.daemon.sessions() as session, session.begin():
        campaign = await CampaignRepository(session).get_by_name("c1")
        assert campaign is not None
        repo = InboundRepository(session)
        for call_id, wait, outcome in (
            ("in-a", 5.0, InboundOutcome.ANSWERED),
            ("in-b", 40.0, InboundOutcome.ANSWERED),
            ("in-c", 12.0, InboundOutcome.ABANDONED),
        ):
            await repo.record(
                InboundRecord(
                    call_id, campaign.id, "+12125550123", None, (), None,
                    now - timedelta(minutes=5), now - timedelta(minutes=4), wait, outcome,
                )
            )  # fmt: skip
    async with live.client() as boss:
        await login(boss, "boss")
        panel = (await boss.get("/manager/campaigns/c1/panel")).text
    row = re.search(r'data-testid="inbound-figures" data-under-target="(\w+)">([^<]*)', panel)
    assert row is not None and row.group(1) == "yes"
    assert "offered 3 · answered 2 · abandoned 1" in row.group(2)
    assert 'data-testid="inbound-service-level">33%<' in panel and "target 80%" in panel
    assert "wait median 22 s, longest 40 s" in panel


async def test_the_event_streams_push_the_inbound_call(live: Running) -> None:
    """The JSON stream carries the call marked inbound (an unknown caller: no case), the
    console's stream swaps in the inbound screen."""
    live.daemon.inbound = Desk("in-3", InboundPop(None, (), "+1312***0999"))  # type: ignore[assignment]
    async with live.client() as alice:
        await ready_and_idle(live, alice)
        async with (
            alice.stream("GET", "/api/v1/me/events") as api,
            alice.stream("GET", "/console/events") as page,
        ):
            api_events, page_events = _events(api).__aiter__(), _events(page).__aiter__()
            await _next(api_events, "state")
            await _next(page_events, "state")
            step(live, Bridge("in-3", "alice"))
            call = json.loads(await _next(api_events, "call"))
            assert (call["inbound"], call["case_id"], call["case"]) == (True, None, None)
            assert call["caller_masked"] == "+1312***0999"
            fragment = await _next(page_events, "call")
            assert "Inbound: an unknown caller" in fragment


def test_a_callback_after_a_return_call_does_not_count_that_call_as_an_attempt() -> None:
    """The call just made, when the store does not hold it yet, is counted by the callback
    check; a return call counts as a conversation, never as one of the 7 in 7 (a profile
    with the attempt cap and no lockout shows the difference)."""
    from types import SimpleNamespace

    from dialer.compliance import evaluate, load_profile
    from dialer.domain.model import Case, ContactOutcome, ContactRecord, PhoneNumber
    from dialer.web.callback_check import current_call

    us = load_profile("us_tsr_regf")
    no_lockout = us.model_copy(
        update={"lockouts": us.lockouts.model_copy(update={"post_conversation_days": None})}
    )
    case = Case("1", (PhoneNumber("+12125550123"),), timezone="America/New_York")
    detail = SimpleNamespace(case=case)
    day = datetime(2026, 3, 2, 15, tzinfo=UTC)
    placed = [
        ContactRecord(day - timedelta(days=d), "+12125550123", ContactOutcome.NO_ANSWER)
        for d in range(6)  # six placed in the window that ends tomorrow
    ]
    bridged = day.timestamp()
    later = day + timedelta(days=1)
    inbound = current_call(detail, bridged, inbound=True)  # type: ignore[arg-type]
    outbound = current_call(detail, bridged)  # type: ignore[arg-type]
    assert (inbound.outcome, inbound.inbound) == (ContactOutcome.CONVERSATION, True)
    assert (
        "attempt_cap"
        in evaluate(no_lockout, case, "+12125550123", [*placed, outbound], later).reasons
    )
    assert evaluate(no_lockout, case, "+12125550123", [*placed, inbound], later).allowed


async def test_a_blended_campaign_keeps_its_reservation_whatever_the_mode(
    tmp_path: Path,
) -> None:
    """Progressive, ratio, predictive and back: the same reservation (and what it has
    learnt) holds collectors free for return calls in every mode."""
    blended = "    inbound: {service_level: 0.9, answer_within_seconds: 10}\n"
    async with running(write_settings(tmp_path, blended)) as r:
        engine = r.daemon.runners["c1"].engine
        assert isinstance(engine.pacer, ReservingPacer) and engine.pacer.name == "progressive"
        reservation = engine.pacer.inbound
        assert isinstance(reservation, ErlangReservation)
        reservation.observe_wait(60.0, False, 0.0)  # something learnt: a caller missed
        credit = reservation.credit
        async with r.client() as boss:
            await login(boss, "boss")
            for change, name in (
                ({"mode": "ratio", "ratio": 1.5}, "ratio"),
                ({"mode": "predictive"}, "predictive"),
                ({"mode": "adaptive", "target_abandon_rate": 0.02}, "adaptive"),
            ):
                response = await boss.patch("/api/v1/campaigns/c1/pacing", json=change)
                assert response.status_code == 200, response.text
                assert engine.pacer.name == name
                assert getattr(engine.pacer, "inbound", None) is reservation
            assert engine.pacer.abandon_cap == 0.02  # type: ignore[attr-defined]
            assert reservation.credit == credit
            ready = engine.inputs(r.daemon.clock.now())
            decision = engine.pacer.decide(replace(ready, ready=3), engine, engine.rng)
            assert "kept free for inbound" in decision.reason
            assert decision.detail["inbound"]["mode"] == "erlang_c"
