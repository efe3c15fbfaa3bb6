"""Repositories round-trip values and select hopper candidates correctly."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.domain.model import (
    Bucket,
    CaseFlag,
    CaseStatus,
    ContactOutcome,
    NumberType,
    PhoneNumber,
)
from dialer.store.db import session_factory
from dialer.store.records import DispositionKind, NewCase
from dialer.store.repositories import (
    AssignmentRepository,
    AttemptRepository,
    AuditRepository,
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
    DispositionRepository,
    LedgerRepository,
    TeamRepository,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
A, B, C = "+12125550101", "+12125550102", "+13125550103"

Factory = async_sessionmaker[AsyncSession]


def new_case(ref: str, *numbers: PhoneNumber, **changes: object) -> NewCase:
    values: dict[str, object] = {
        "debtor_ref": ref,
        "display_name_masked": "J*** S****",
        "balance": Decimal("123.45"),
        "days_past_due": 45,
        "bucket": Bucket.M2,
        "numbers": numbers or (PhoneNumber(A),),
        "timezone": "America/New_York",
    }
    values.update(changes)
    return NewCase(**values)  # type: ignore[arg-type]


@pytest.fixture
def factory(migrated_engine: AsyncEngine) -> Factory:
    return session_factory(migrated_engine)


@pytest.fixture
async def campaign_id(factory: Factory) -> int:
    async with factory() as session, session.begin():
        return await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")


async def ids(factory: Factory, campaign_id: int, *refs: str) -> list[int]:
    async with factory() as session:
        repo = CaseRepository(session)
        found = [await repo.id_for_ref(campaign_id, ref) for ref in refs]
    assert all(case_id is not None for case_id in found)
    return [case_id for case_id in found if case_id is not None]


async def test_organisation_upserts_by_name(factory: Factory) -> None:
    async with factory() as session, session.begin():
        campaigns = CampaignRepository(session)
        first = await campaigns.upsert("c1", compliance_profile="us_tsr_regf")
        again = await campaigns.upsert(
            "c1",
            compliance_profile="uk_ofcom",
            pacing_mode="predictive",
            pacing_params={"target": 0.02},
            calling_window_start=time(9, 0),
        )
        collectors = CollectorRepository(session)
        alice = await collectors.upsert("alice", team="north", skills=["es", "es", "late"])
        same = await collectors.upsert("alice", display_name="Alice", team="north", is_senior=True)
        team_id = await TeamRepository(session).upsert("north")
    assert (first, alice) == (again, same)
    async with factory() as session:
        info = await CampaignRepository(session).get_by_name("c1")
        collector = await CollectorRepository(session).get("alice")
        listed = await CampaignRepository(session).list_all()
        teams = await TeamRepository(session).ids_by_name(["north", "south"])
    assert info is not None and info.compliance_profile == "uk_ofcom"
    assert (info.pacing_params, info.calling_window_start) == ({"target": 0.02}, time(9, 0))
    assert collector is not None and collector.team == "north" and collector.is_senior
    assert collector.display_name == "Alice" and collector.skills == frozenset()
    assert [c.name for c in listed] == ["c1"] and teams == {"north": team_id}


async def test_cases_round_trip(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        await CollectorRepository(session).upsert("bob", team="south")
        owner = await CollectorRepository(session).ids_by_username(["bob"])
        bob_id, south_id = owner["bob"]
        numbers = (PhoneNumber(B, NumberType.WORK), PhoneNumber(A, consent=False))
        case = new_case("R1", *numbers, owner_collector_id=bob_id, team_id=south_id)
        result = await CaseRepository(session).upsert_many(campaign_id, [case])
    assert (result.inserted, result.updated) == (1, 0)
    (case_id,) = await ids(factory, campaign_id, "R1")
    async with factory() as session:
        detail = await CaseRepository(session).get(case_id)
        missing = await CaseRepository(session).get(case_id + 1000)
        by_status = await CaseRepository(session).count_by_status(campaign_id)
        by_campaign = await CaseRepository(session).count_by_campaign()
    assert missing is None and detail is not None
    assert (detail.debtor_ref, detail.status, detail.bucket) == ("R1", CaseStatus.OPEN, Bucket.M2)
    assert detail.display_name_masked == "J*** S****" and detail.created_at.tzinfo is UTC
    core = detail.case
    assert core.ref == str(case_id) and core.numbers == numbers
    assert (core.owner, core.team, core.balance) == ("bob", "south", Decimal("123.45"))
    assert by_status == {CaseStatus.OPEN: 1} and by_campaign == {"demo": 1}


async def test_reupsert_updates_and_keeps_safety_marks(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        bob = await CollectorRepository(session).upsert("bob")
        first = new_case("R1", PhoneNumber(A), PhoneNumber(B), do_not_call=True)
        first = dataclasses.replace(first, owner_collector_id=bob)
        await CaseRepository(session).upsert_many(campaign_id, [first])
    (case_id,) = await ids(factory, campaign_id, "R1")
    async with factory() as session, session.begin():
        repo = CaseRepository(session)
        await repo.set_number_dnc(case_id, B)
        await repo.set_status(case_id, CaseStatus.PROMISED)
        again = new_case("R1", PhoneNumber(B), PhoneNumber(C), balance=Decimal("99.00"))
        result = await repo.upsert_many(campaign_id, [again, new_case("R2")])
    assert (result.inserted, result.updated) == (1, 1)
    async with factory() as session:
        detail = await CaseRepository(session).get(case_id)
        counts = await CaseRepository(session).count_by_campaign()
    assert detail is not None and counts == {"demo": 2}
    assert detail.case.balance == Decimal("99.00") and detail.status is CaseStatus.PROMISED
    assert [n.e164 for n in detail.case.numbers] == [B, C]  # replaced, in file order
    assert detail.case.numbers[0].dnc  # the DNC mark on B survived the re-import
    assert CaseFlag.DO_NOT_CALL in detail.case.flags  # a flag is never lowered by an import
    assert detail.case.owner == "bob"  # a row without an owner leaves the owner alone


async def test_candidates_filter_and_order(factory: Factory, campaign_id: int) -> None:
    refs = ["low", "high", "tie", "paid", "flagged", "later", "leased", "nodial", "dncfirst"]
    async with factory() as session, session.begin():
        await CaseRepository(session).upsert_many(
            campaign_id,
            [new_case(ref) for ref in refs[:7]]
            + [
                new_case("nodial", PhoneNumber(A, consent=False), PhoneNumber(B, dnc=True)),
                new_case("dncfirst", PhoneNumber(A, dnc=True), PhoneNumber(C)),
            ],
        )
    low, high, tie, paid, flagged, later, leased, nodial, dncfirst = await ids(
        factory, campaign_id, *refs
    )
    async with factory() as session, session.begin():
        repo = CaseRepository(session)
        for case_id, priority in ((high, 5.0), (tie, 5.0), (low, 1.0), (dncfirst, 3.0)):
            await repo.set_priority(case_id, priority)
        await repo.set_status(paid, CaseStatus.PAID)
        await repo.set_flags(flagged, disputed=True)
        await repo.set_next_attempt(later, NOW + timedelta(minutes=1))
        await repo.set_next_attempt(low, NOW)  # due exactly now: callable
        await repo.set_lease(leased, "daemon-2", NOW + timedelta(seconds=30))
    async with factory() as session:
        targets = await CaseRepository(session).candidates(campaign_id, NOW, limit=10)
        top_two = await CaseRepository(session).candidates(campaign_id, NOW, limit=2)
    assert [int(t.case.ref) for t in targets] == [high, tie, dncfirst, low]
    assert [int(t.case.ref) for t in top_two] == [high, tie]
    assert {int(t.case.ref): t.number for t in targets}[dncfirst] == C
    assert nodial not in {int(t.case.ref) for t in targets}


async def test_candidates_carry_recent_history(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        await CaseRepository(session).upsert_many(campaign_id, [new_case("R1")])
    (case_id,) = await ids(factory, campaign_id, "R1")
    async with factory() as session, session.begin():
        attempts = AttemptRepository(session)
        for call_id, days_ago, outcome in (
            ("old", 9, ContactOutcome.CONVERSATION),
            ("busy", 3, ContactOutcome.BUSY),
            ("talk", 1, ContactOutcome.CONVERSATION),
        ):
            at = NOW - timedelta(days=days_ago)
            await attempts.start(call_id, case_id, campaign_id, A, at)
            await attempts.finish(call_id, outcome, ended_at=at + timedelta(seconds=20))
        await attempts.start("ringing", case_id, campaign_id, A, NOW - timedelta(seconds=5))
    async with factory() as session:
        (target,) = await CaseRepository(session).candidates(campaign_id, NOW, limit=5)
    assert [(r.at, r.outcome) for r in target.history] == [
        (NOW - timedelta(days=3), ContactOutcome.BUSY),
        (NOW - timedelta(days=1), ContactOutcome.CONVERSATION),
        (NOW - timedelta(seconds=5), ContactOutcome.INTERRUPTED),  # open: its worst case
    ]


async def test_attempt_lifecycle(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        await CaseRepository(session).upsert_many(campaign_id, [new_case("R1")])
        bob = await CollectorRepository(session).upsert("bob")
    (case_id,) = await ids(factory, campaign_id, "R1")
    async with factory() as session, session.begin():
        attempts = AttemptRepository(session)
        await attempts.start("c-1", case_id, campaign_id, A, NOW)
        found = await attempts.finish(
            "c-1",
            ContactOutcome.CONVERSATION,
            answered_at=NOW + timedelta(seconds=12),
            bridged_at=NOW + timedelta(seconds=13),
            ended_at=NOW + timedelta(seconds=73),
            sip_code=200,
            collector_id=bob,
        )
        await attempts.start("c-2", case_id, campaign_id, A, NOW + timedelta(minutes=1))
        await attempts.finish("c-2", ContactOutcome.ABANDONED, ended_at=NOW + timedelta(minutes=2))
        unknown = await attempts.finish("nope", ContactOutcome.BUSY, ended_at=NOW)
    assert found and not unknown
    async with factory() as session:
        attempts = AttemptRepository(session)
        info = await attempts.get("c-1")
        abandoned = await attempts.get("c-2")
        total = await attempts.count(case_id=case_id)
        since = await attempts.count(campaign_id=campaign_id, since=NOW + timedelta(seconds=1))
        talks = await attempts.count(outcomes=[ContactOutcome.CONVERSATION])
        history = await attempts.history(case_id, NOW - timedelta(days=1))
    assert info is not None and info.collector_id == bob and info.sip_code == 200
    assert (info.ring_seconds, info.talk_seconds) == (12.0, 60.0) and not info.abandoned
    assert abandoned is not None and abandoned.abandoned and abandoned.talk_seconds is None
    assert (total, since, talks) == (2, 1, 1)
    assert [r.outcome for r in history] == [ContactOutcome.CONVERSATION, ContactOutcome.ABANDONED]


async def test_ledger_rolling_window_and_expiry(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        ledger = LedgerRepository(session)
        await ledger.record(campaign_id, NOW - timedelta(days=31), live_answers=50, abandons=9)
        await ledger.record(campaign_id, NOW - timedelta(days=2), live_answers=100, abandons=2)
        await ledger.record(campaign_id, NOW - timedelta(hours=1), live_answers=1, abandons=1)
    async with factory() as session, session.begin():
        ledger = LedgerRepository(session)
        month = await ledger.rate(campaign_id, NOW - timedelta(days=30))
        day = await ledger.rate(campaign_id, NOW - timedelta(hours=24))
        other = await ledger.rate(campaign_id + 1, NOW - timedelta(days=30))
        expired = await ledger.expire(NOW - timedelta(days=30))
        after = await ledger.rate(campaign_id, NOW - timedelta(days=365))
    assert month == (101, 3) and month.rate == pytest.approx(3 / 101)
    assert day == (1, 1) and other == (0, 0) and other.rate == 0.0
    assert expired == 1 and after == (101, 3)


async def test_dispositions_assignments_audit(factory: Factory, campaign_id: int) -> None:
    async with factory() as session, session.begin():
        await CaseRepository(session).upsert_many(campaign_id, [new_case("R1")])
        bob = await CollectorRepository(session).upsert("bob")
        carol = await CollectorRepository(session).upsert("carol")
    (case_id,) = await ids(factory, campaign_id, "R1")
    async with factory() as session, session.begin():
        dispositions = DispositionRepository(session)
        await dispositions.add(
            case_id,
            DispositionKind.PROMISE_TO_PAY,
            collector_id=bob,
            amount=Decimal("50.00"),
            promise_date=date(2026, 3, 9),
            at=NOW,
        )
        with pytest.raises(ValueError, match="amount"):
            await dispositions.add(case_id, DispositionKind.PROMISE_TO_PAY)
        moves = AssignmentRepository(session)
        first = await moves.move(case_id, bob, "initial", "importer", NOW)
        second = await moves.move(case_id, carol, "bob logged off", "reassigner", NOW)
        repeat = await moves.move(case_id, carol, "again", "reassigner", NOW)
        await AuditRepository(session).record(
            "admin", "case.move", f"case:{case_id}", old={"owner": "bob"}, new={"owner": "carol"}
        )
    assert first is not None and second is not None and repeat is None
    async with factory() as session:
        stored = await DispositionRepository(session).for_case(case_id)
        history = await AssignmentRepository(session).for_case(case_id)
        detail = await CaseRepository(session).get(case_id)
    assert [(d.kind, d.amount, d.promise_date) for d in stored] == [
        (DispositionKind.PROMISE_TO_PAY, Decimal("50.00"), date(2026, 3, 9))
    ]
    assert [(f, t, reason) for f, t, reason, _ in history] == [
        (None, bob, "initial"),
        (bob, carol, "bob logged off"),
    ]
    assert detail is not None and detail.case.owner == "carol"
