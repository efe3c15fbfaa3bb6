"""The wallboard's daily figures from a real store: per collector, one grouped query over
the day's attempts and promises of one campaign (other days, other campaigns, calls
bridged to nobody left out)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.store.db import session_factory
from dialer.store.floor_repo import CollectorDay, FloorRepository
from dialer.store.records import DispositionKind, NewCase
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
    DispositionRepository,
)

DAY_START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # midnight in New York
DAY_END = DAY_START + timedelta(days=1)
Factory = async_sessionmaker[AsyncSession]


@pytest.fixture
def factory(migrated_engine: AsyncEngine) -> Factory:
    return session_factory(migrated_engine)


class Floor:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.calls = 0
        self.collectors: dict[str, int] = {}

    async def case(self, campaign_id: int, ref: str) -> int:
        row = NewCase(ref, "J*** S****", Decimal("500.00"), 40, Bucket.M2,
                      (PhoneNumber("+12125550101"),), timezone="America/New_York")  # fmt: skip
        await CaseRepository(self.db).upsert_many(campaign_id, [row])
        found = await CaseRepository(self.db).id_for_ref(campaign_id, ref)
        assert found is not None
        return found

    async def attempt(
        self,
        campaign_id: int,
        case_id: int,
        collector: str | None,
        at: datetime,
        outcome: ContactOutcome,
        talk: float | None = None,
    ) -> int:
        self.calls += 1
        call_id = f"call-{self.calls}"
        collector_id = self.collectors[collector] if collector else None
        repo = AttemptRepository(self.db)
        attempt_id = await repo.start(call_id, case_id, campaign_id, "+12125550101", at)
        bridged = at + timedelta(seconds=5) if talk is not None else None
        ended = at + timedelta(seconds=20)
        if bridged is not None and talk is not None:
            ended = bridged + timedelta(seconds=talk)
        await repo.finish(call_id, outcome, ended_at=ended, answered_at=bridged,
                          bridged_at=bridged, collector_id=collector_id)  # fmt: skip
        return attempt_id

    async def dispose(
        self,
        case_id: int,
        attempt_id: int,
        collector: str,
        kind: DispositionKind,
        at: datetime,
        amount: str | None = None,
    ) -> None:
        await DispositionRepository(self.db).add(
            case_id,
            kind,
            collector_id=self.collectors[collector],
            attempt_id=attempt_id,
            amount=None if amount is None else Decimal(amount),
            promise_date=date(2026, 3, 9) if amount else None,
            at=at,
        )


async def test_the_days_figures_per_collector_in_one_query(factory: Factory) -> None:
    conv, no_answer = ContactOutcome.CONVERSATION, ContactOutcome.NO_ANSWER
    t = DAY_START + timedelta(hours=14)
    async with factory() as db, db.begin():
        floor = Floor(db)
        campaigns = CampaignRepository(db)
        c1 = await campaigns.upsert("c1", compliance_profile="us_tsr_regf")
        c2 = await campaigns.upsert("c2", compliance_profile="us_tsr_regf")
        for name, team in (("alice", "east"), ("bob", "east"), ("carol", "west"), ("dave", None)):
            floor.collectors[name] = await CollectorRepository(db).upsert(name, team=team)
        k1, k2, k3, k4 = [await floor.case(c1, f"D{i}") for i in range(4)]
        other = await floor.case(c2, "X1")

        # alice: three conversations, one of them with the wrong person; two promises.
        a1 = await floor.attempt(c1, k1, "alice", t, conv, talk=60)
        await floor.dispose(k1, a1, "alice", DispositionKind.PROMISE_TO_PAY, t, "25.00")
        a2 = await floor.attempt(c1, k2, "alice", t + timedelta(minutes=5), conv, talk=30)
        await floor.dispose(k2, a2, "alice", DispositionKind.WRONG_PARTY, t)
        a3 = await floor.attempt(c1, k3, "alice", t + timedelta(minutes=9), conv, talk=45)
        await floor.dispose(k3, a3, "alice", DispositionKind.PROMISE_TO_PAY, t, "10.50")
        # bob: one refusal today; yesterday's conversation and promise do not count.
        b1 = await floor.attempt(c1, k4, "bob", t, conv, talk=20)
        await floor.dispose(k4, b1, "bob", DispositionKind.REFUSED, t)
        old = DAY_START - timedelta(hours=1)
        b0 = await floor.attempt(c1, k4, "bob", old, conv, talk=100)
        await floor.dispose(k4, b0, "bob", DispositionKind.PROMISE_TO_PAY, old, "99.00")
        # Nobody's: no answer, dialed for no collector; and tomorrow's call.
        await floor.attempt(c1, k1, None, t, no_answer)
        await floor.attempt(c1, k2, "alice", DAY_END, conv, talk=300)
        # carol worked the other campaign only.
        x1 = await floor.attempt(c2, other, "carol", t, conv, talk=70)
        await floor.dispose(other, x1, "carol", DispositionKind.PROMISE_TO_PAY, t, "70.00")

    async with factory() as db:
        rows = await FloorRepository(db).day(c1, DAY_START, DAY_END)
    assert rows == [
        CollectorDay("alice", "east", 3, 2, 2, Decimal("35.50"), 135.0),
        CollectorDay("bob", "east", 1, 1, 0, Decimal("0.00"), 20.0),
    ]
    async with factory() as db:
        (carol,) = await FloorRepository(db).day(c2, DAY_START, DAY_END)
    assert (carol.username, carol.team, carol.promises, carol.promised_amount) == (
        "carol", "west", 1, Decimal("70.00"),
    )  # fmt: skip
