"""Each reassignment rule moves the right cases to the right people and writes every move
to the assignments history with its reason; a case on a live call (or leased by any
daemon) is never moved."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
from orchkit import NOON, Store, add_cases, make_store, new_case
from sqlalchemy import select, update

from dialer.domain.events import CollectorLoggedIn, CollectorPaused
from dialer.engine import Engine, EngineConfig
from dialer.metrics import Metrics
from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.reassign import Reassigner
from dialer.orchestration.settings import OrchestrationSettings, ReassignSettings
from dialer.pacing.policies import make_pacer
from dialer.store.followup_repo import FollowupRepository
from dialer.store.org_repo import CollectorRepository
from dialer.store.tables import Assignment, CaseRow, Collector

SETTINGS = ReassignSettings(
    paused_minutes=15,
    due_horizon_minutes=60,
    rebalance_tolerance=0.2,
    rebalance_min_cases=2,
    escalation_team="recovery",
)


async def team_store(url: str) -> Store:
    """Team east: ann, bob (max 3 cases), cat (senior); team west: wes; team recovery: rex."""
    store = await make_store(url)
    async with store.sessions() as s, s.begin():
        people = CollectorRepository(s)
        store.collectors = {
            "ann": await people.upsert("ann", team="east", skills=["es"]),
            "bob": await people.upsert("bob", team="east", skills=["es"], max_cases=3),
            "cat": await people.upsert("cat", team="east", skills=["es"], is_senior=True),
            "wes": await people.upsert("wes", team="west", skills=["es"]),
            "rex": await people.upsert("rex", team="recovery", skills=["es"]),
        }
    return store


async def give(store: Store, owner: str, first: int, count: int, **kw: object) -> list[int]:
    """`count` new cases (numbered from `first`) owned by `owner`, in the owner's team."""
    owner_id = store.collectors[owner]
    async with store.sessions() as s:
        team_id = await s.scalar(select(Collector.team_id).where(Collector.id == owner_id))
    rows = [new_case(i, owner=owner_id, team=team_id, **kw) for i in range(first, first + count)]
    await add_cases(store, rows)
    return list(range(first, first + count))


async def owners(store: Store) -> dict[int, int | None]:
    async with store.sessions() as s:
        return dict(
            (await s.execute(select(CaseRow.id, CaseRow.owner_collector_id))).tuples().all()
        )


async def history(store: Store) -> list[tuple[int, int | None, int | None, str, str]]:
    async with store.sessions() as s:
        rows = await s.execute(
            select(
                Assignment.case_id,
                Assignment.from_collector_id,
                Assignment.to_collector_id,
                Assignment.reason,
                Assignment.moved_by,
            ).order_by(Assignment.id)
        )
        return list(rows.tuples())


async def due_callbacks(store: Store, case_ids: list[int], minutes: int = 10) -> None:
    async with store.sessions() as s, s.begin():
        for case_id in case_ids:
            await FollowupRepository(s).set(case_id, "callback", NOON + timedelta(minutes=minutes))


def reassigner(store: Store, live: frozenset[str] = frozenset(), **kw: object) -> Reassigner:
    return Reassigner(store.sessions, SETTINGS, moved_by="test", live_refs=lambda: live, **kw)  # type: ignore[arg-type]


async def test_logoff_moves_due_followups_to_teammates_with_capacity(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        due = await give(store, "ann", 1, 6)
        later = await give(store, "ann", 7, 2)
        plain = await give(store, "ann", 9, 3)
        await due_callbacks(store, due, minutes=10)
        await due_callbacks(store, later, minutes=180)  # beyond the 60-minute horizon
        metrics = Metrics()
        r = reassigner(
            store,
            presence=lambda: {"bob": "ready"},
            metrics=metrics,
            campaigns={store.campaign_id: "c1"},
        )
        outcome = await r.collector_away("ann", NOON)
        assert (outcome.planned, outcome.moved) == (6, 6)
        now_owned = await owners(store)
        ids = store.collectors
        got = Counter(now_owned[c] for c in due)
        assert got == {ids["bob"]: 3, ids["cat"]: 3}, "present bob first, up to his max_cases"
        assert all(now_owned[c] == ids["ann"] for c in later + plain), "the rest stays"
        moves = await history(store)
        assert len(moves) == 6
        for case_id, src, dst, reason, by in moves:
            assert case_id in due and src == ids["ann"] and dst in (ids["bob"], ids["cat"])
            assert reason.startswith("logoff: ann logged off") and by == "test"
        value = metrics.registry.get_sample_value(
            "dialer_reassignments_total", {"campaign": "c1", "reason": "logoff"}
        )
        assert value == 6
    finally:
        await store.dispose()


async def test_a_case_on_a_live_call_or_leased_is_never_moved(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        due = await give(store, "ann", 1, 4)
        await due_callbacks(store, due)
        async with store.sessions() as s, s.begin():  # case 2 is in another daemon's hopper
            await s.execute(
                update(CaseRow)
                .where(CaseRow.id == 2)
                .values(lease_owner="other", lease_expires_at=NOON + timedelta(minutes=5))
            )
        outcome = await reassigner(store, live=frozenset({"1"})).collector_away("ann", NOON)
        assert outcome.moved == 2 and outcome.live == 1
        now_owned = await owners(store)
        assert now_owned[1] == now_owned[2] == store.collectors["ann"], "on a call / leased"
        assert {c for c, *_ in await history(store)} == {3, 4}
    finally:
        await store.dispose()


async def test_paused_too_long_moves_due_followups(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        due = await give(store, "ann", 1, 2)
        await due_callbacks(store, due)
        settings = OrchestrationSettings(reassign=SETTINGS)
        orchestrator = Orchestrator(settings, store.sessions, owner="d1", now=lambda: NOON)
        engine = Engine(
            EngineConfig(campaign="c1"), make_pacer("progressive"), np.random.default_rng(1)
        )
        t0 = NOON.timestamp() - 20 * 60
        for name in ("ann", "bob"):
            engine.handle(CollectorLoggedIn(name, "east", frozenset({"es"})), t0)
        engine.handle(CollectorPaused("ann", "break"), t0 + 10 * 60)  # paused 10 min by NOON
        orchestrator.attach({"c1": _Runner(engine)})  # type: ignore[dict-item]
        await orchestrator.check_presence(NOON)
        assert await history(store) == [], "not yet: 10 minutes < 15"
        await orchestrator.check_presence(NOON + timedelta(minutes=6))
        moves = await history(store)
        assert [(c, dst) for c, _, dst, *_ in moves] == [
            (1, store.collectors["bob"]),
            (2, store.collectors["bob"]),
        ]
        assert all(reason.startswith("paused: ann paused") for *_, reason, _ in moves)
        await orchestrator.check_presence(NOON + timedelta(minutes=7))
        assert len(await history(store)) == 2, "once per pause"
    finally:
        await store.dispose()


async def test_rebalance_evens_out_a_team_and_keeps_followups(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        async with store.sessions() as s, s.begin():  # no caps for this one
            await CollectorRepository(s).upsert("bob", team="east", skills=["es"])
        heavy = await give(store, "ann", 1, 30)
        await give(store, "bob", 31, 6)
        await give(store, "cat", 37, 6)
        await due_callbacks(store, heavy[:4], minutes=600)
        outcome = await reassigner(store).rebalance(NOON)
        now_owned = await owners(store)
        ids = store.collectors
        load = Counter(now_owned.values())
        assert load[ids["ann"]] == 14 and load[ids["bob"]] + load[ids["cat"]] == 28
        assert abs(load[ids["bob"]] - load[ids["cat"]]) <= 1
        assert all(now_owned[c] == ids["ann"] for c in heavy[:4]), "follow-ups stay with ann"
        moves = await history(store)
        assert len(moves) == outcome.moved == 16
        assert all(r.startswith("rebalance: ann over team mean 14") for *_, r, _ in moves)
        assert load[ids["wes"]] == 0, "only within the team"
    finally:
        await store.dispose()


async def test_broken_promise_escalates_to_a_senior_or_the_escalation_team(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        east = await give(store, "ann", 1, 2)
        west = await give(store, "wes", 3, 1)
        kept = await give(store, "ann", 4, 1)
        async with store.sessions() as s, s.begin():
            for case_id in east + west + kept:
                await FollowupRepository(s).set(case_id, "promise", NOON - timedelta(hours=1))
            await s.execute(
                update(CaseRow).where(CaseRow.id.in_(east + west)).values(status="promised")
            )
            await s.execute(update(CaseRow).where(CaseRow.id.in_(kept)).values(status="paid"))
        outcome = await reassigner(store).escalate_broken_promises(NOON)
        assert outcome.moved == 3
        ids = store.collectors
        now_owned = await owners(store)
        assert [now_owned[c] for c in east] == [ids["cat"], ids["cat"]], "the team's senior"
        assert now_owned[3] == ids["rex"], "no senior in west: the escalation team"
        async with store.sessions() as s:
            found = await s.execute(
                select(CaseRow.id, CaseRow.status, CaseRow.followup_kind, CaseRow.team_id)
            )
            rows = {case_id: rest for case_id, *rest in found.tuples()}
            recovery = rows[3][2]
        assert rows[1][:2] == ["open", "broken_promise"], "reopened, marked broken"
        assert rows[4][:2] == ["paid", None], "a kept promise is settled, not escalated"
        assert recovery != rows[1][2], "the escalated case joined the recovery team"
        assert rows[3][:2] == ["open", "broken_promise"]
        reasons = {c: r for c, _, _, r, _ in await history(store)}
        assert set(reasons) == {1, 2, 3}
        assert reasons[1] == "broken_promise: promise unpaid at follow-up; to senior of the team"
        assert reasons[3] == "broken_promise: promise unpaid at follow-up; to escalation team"
        again = await reassigner(store).escalate_broken_promises(NOON + timedelta(hours=1))
        assert again.moved == 0, "escalated once"
    finally:
        await store.dispose()


async def test_team_and_skill_changes_reevaluate_the_collectors_cases(db_url: str) -> None:
    store = await team_store(db_url)
    try:
        spanish = await give(store, "ann", 1, 2, skills=["es"])
        plain = await give(store, "ann", 3, 2)
        async with store.sessions() as s, s.begin():
            await CollectorRepository(s).upsert("ann", team="east", skills=[])  # lost "es"
        outcome = await reassigner(store).collector_changed("ann", NOON)
        ids = store.collectors
        now_owned = await owners(store)
        assert all(now_owned[c] in (ids["bob"], ids["cat"]) for c in spanish)
        assert all(now_owned[c] == ids["ann"] for c in plain), "no skill needed: stays"
        assert outcome.moved == 2
        assert {r for *_, r, _ in await history(store)} == {"skill_change: ann: skills missing"}
        async with store.sessions() as s, s.begin():
            await CollectorRepository(s).upsert("ann", team="west", skills=["es"])  # moved team
        await reassigner(store).collector_changed("ann", NOON)
        now_owned = await owners(store)
        assert all(now_owned[c] in (ids["bob"], ids["cat"]) for c in plain), (
            "east's cases stay east"
        )
        reasons = [r for *_, r, _ in await history(store)]
        assert reasons[-2:] == ["team_change: ann: case belongs to another team"] * 2
    finally:
        await store.dispose()


class _Runner:
    """What the orchestrator reads of a campaign runner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.step_observers: list[object] = []
