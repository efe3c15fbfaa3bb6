"""Priority: each component scores what it says, the explanation names it, answers per
local hour teach the best hour, and the store's order follows the recomputed scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orchkit import NOON, add_cases, make_store, new_case, profile
from sqlalchemy import insert, select

from dialer.domain.model import ContactOutcome
from dialer.domain.priority_inputs import HourStats, PriorityInputs
from dialer.orchestration.orchestrator import Orchestrator
from dialer.orchestration.priority import PriorityModel, order
from dialer.orchestration.settings import OrchestrationSettings, PriorityWeights
from dialer.store.followup_repo import FollowupRepository
from dialer.store.tables import CallAttempt, CaseRow

W = PriorityWeights()
MODEL = PriorityModel(W, prior=0.3)


def case(case_id: int, **kw: object) -> PriorityInputs:
    values: dict[str, object] = {"days_past_due": 30, "balance": Decimal("1000"), "bucket": "M1"}
    values.update(kw)
    return PriorityInputs(case_id=case_id, **values)  # type: ignore[arg-type]


def points(inputs: PriorityInputs, name: str, now: datetime = NOON) -> float:
    score = MODEL.score(inputs, now)
    return next(c.points for c in score.components if c.name == name)


def test_each_component_scores_its_input() -> None:
    assert points(case(1, days_past_due=90), "days_past_due") == W.days_past_due / 2
    assert points(case(1, days_past_due=400), "days_past_due") == W.days_past_due
    assert points(case(1, balance=Decimal(0)), "balance") == 0
    assert points(case(1, balance=Decimal("50000")), "balance") == W.balance
    assert 0 < points(case(1), "balance") < W.balance
    assert points(case(1, bucket="M3"), "bucket") == W.bucket["M3"]
    due = {"followup_at": NOON - timedelta(minutes=1)}
    assert points(case(1, followup_kind="callback", **due), "callback_due") == W.callback_due
    soon = {"followup_at": NOON + timedelta(minutes=1)}
    assert points(case(1, followup_kind="callback", **soon), "callback_due") == 0
    assert points(case(1, followup_kind="promise", **due), "promise_due") == W.promise_due
    assert (
        points(case(1, followup_kind="broken_promise", **due), "promise_broken") == W.promise_broken
    )
    assert points(case(1), "since_contact") == W.since_contact, "never reached: full points"
    recent = case(1, last_contact_at=NOON - timedelta(days=W.since_contact_days / 2))
    assert points(recent, "since_contact") == W.since_contact / 2


def test_best_hour_is_learned_from_answers_per_local_hour() -> None:
    evening = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 18:00 in New York
    morning = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York
    records = [(evening + timedelta(days=d), ContactOutcome.CONVERSATION) for d in range(6)]
    records += [(morning + timedelta(days=d), ContactOutcome.NO_ANSWER) for d in range(6)]
    hours = HourStats.learn(records, "America/New_York")
    assert hours.attempts[18] == hours.answers[18] == 6 and hours.attempts[9] == 6
    learned = case(1, timezone="America/New_York", hours=hours)
    at_best = MODEL.score(learned, datetime(2026, 3, 5, 23, 0, tzinfo=UTC))
    at_worst = MODEL.score(learned, datetime(2026, 3, 5, 14, 0, tzinfo=UTC))
    best = next(c for c in at_best.components if c.name == "best_hour")
    worst = next(c for c in at_worst.components if c.name == "best_hour")
    assert best.value == 1.0 and "best hour 18h" in best.detail
    unseen = MODEL.score(learned, datetime(2026, 3, 5, 17, 0, tzinfo=UTC))  # noon, no data
    middle = next(c for c in unseen.components if c.name == "best_hour")
    assert worst.value < middle.value < best.value, "no answers at 9h: worse than unknown"
    unknown = next(c for c in MODEL.score(case(2), NOON).components if c.name == "best_hour")
    assert unknown.value == 1.0, "no history: every hour is as good as the campaign's"


def test_order_and_explanation() -> None:
    due = NOON - timedelta(minutes=5)
    cases = [
        case(1, days_past_due=10),
        case(2, days_past_due=170, balance=Decimal("40000"), bucket="M6"),
        case(3, followup_kind="callback", followup_at=due),
        case(4, followup_kind="broken_promise", followup_at=due),
        case(5, followup_kind="promise", followup_at=due),
    ]
    ranked = [s.case_id for s in order(MODEL.scores(cases, NOON))]
    assert ranked == [3, 4, 5, 2, 1]
    text = MODEL.score(cases[2], NOON).explain()
    assert text.splitlines()[1].split() == [
        "+100.0",
        "callback_due:",
        "callback",
        "due",
        "at",
        "2026-03-03",
        "15:55Z",
    ]
    assert "days_past_due: 30 days past due" in text
    as_dict = MODEL.score(cases[2], NOON).as_dict()
    assert {c["name"] for c in as_dict["components"]} >= {"callback_due", "best_hour"}  # type: ignore[union-attr]


def test_weights_are_configurable() -> None:
    heavy_balance = PriorityModel(PriorityWeights(balance=500.0, callback_due=1.0))
    due = NOON - timedelta(minutes=5)
    big = case(1, balance=Decimal("45000"))
    callback = case(2, balance=Decimal("10"), followup_kind="callback", followup_at=due)
    assert [s.case_id for s in order(heavy_balance.scores([big, callback], NOON))] == [1, 2]


async def test_recomputed_priorities_order_the_hopper(db_url: str) -> None:
    store = await make_store(db_url)
    try:
        rows = [
            new_case(1, dpd=10),
            new_case(2, dpd=150, balance="30000"),
            new_case(3, dpd=60),
            new_case(4, dpd=5),
        ]
        await add_cases(store, rows)
        async with store.sessions() as s, s.begin():
            await FollowupRepository(s).set(4, "callback", NOON + timedelta(hours=1))
            # Case 3 answered twice at this hour, 8 and 9 days ago: a good hour for it.
            for day in (8, 9):
                await s.execute(
                    insert(CallAttempt).values(
                        case_id=3,
                        campaign_id=store.campaign_id,
                        number_e164="+12125550003",
                        call_id=f"x{day}",
                        dialed_at=NOON - timedelta(days=day),
                        abandoned=False,
                        outcome="conversation",
                    )
                )
        settings = OrchestrationSettings()
        clock = [NOON]
        orchestrator = Orchestrator(settings, store.sessions, owner="d1", now=lambda: clock[0])
        hopper = orchestrator.hopper("c1", store.campaign_id, profile())
        await orchestrator.recompute_priorities(NOON, full=True)
        async with store.sessions() as s:
            stored = dict((await s.execute(select(CaseRow.id, CaseRow.priority))).tuples().all())
        assert stored[2] == max(stored.values()), "150 DPD, 30,000 owed: first"
        assert min(stored.values()) > 0
        # The callback comes due: the callbacks job raises it (and the hopper serves it first).
        later = NOON + timedelta(hours=1, minutes=1)
        await orchestrator.fire_callbacks(later)
        async with store.sessions() as s:
            stored = dict((await s.execute(select(CaseRow.id, CaseRow.priority))).tuples().all())
        assert stored[4] > stored[2], "a due callback outranks everything"
        refs = [t.case.ref for t in await hopper.supply(4, frozenset(), later)]
        by_priority = sorted((1, 2, 3), key=lambda i: (-stored[i], -i))
        assert refs == ["4", *map(str, by_priority)], "the due callback first, then by priority"
    finally:
        await store.dispose()


async def test_ended_attempts_mark_cases_for_recompute(db_url: str) -> None:
    store = await make_store(db_url, 3)
    try:
        orchestrator = Orchestrator(
            OrchestrationSettings(), store.sessions, owner="d1", now=lambda: NOON
        )
        orchestrator._dirty.update({1, 2})
        await orchestrator.recompute_priorities(NOON, full=False)
        async with store.sessions() as s:
            stored = dict((await s.execute(select(CaseRow.id, CaseRow.priority))).tuples().all())
        expected = MODEL.score(
            case(1, days_past_due=30, bucket="M1", timezone="America/New_York"), NOON
        ).total
        assert stored[1] == stored[2] == expected
        assert stored[3] == 3.0, "not marked: left alone until the hourly job"
    finally:
        await store.dispose()
