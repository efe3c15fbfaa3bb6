"""Inbound calls in the store: caller identification through the blind index, the record
(number sealed), the manager's figures, and compliance's view of an inbound conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.compliance import evaluate, load_profile
from dialer.domain.inbound import InboundOutcome
from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.store.case_reads import history_of
from dialer.store.db import session_factory
from dialer.store.inbound_repo import InboundRecord, InboundRepository
from dialer.store.records import NewCase
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    contact_history,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SHARED, OTHER = "+12125550101", "+12125550199"
Factory = async_sessionmaker[AsyncSession]


def new_case(ref: str, *numbers: str) -> NewCase:
    return NewCase(
        debtor_ref=ref,
        display_name_masked="J*** S****",
        balance=Decimal("10.00"),
        days_past_due=40,
        bucket=Bucket.M2,
        numbers=tuple(PhoneNumber(n) for n in numbers),
        timezone="America/New_York",
    )


@pytest.fixture
def factory(migrated_engine: AsyncEngine) -> Factory:
    return session_factory(migrated_engine)


async def setup(factory: Factory) -> tuple[int, int, dict[str, int]]:
    async with factory() as session, session.begin():
        campaigns = CampaignRepository(session)
        ours = await campaigns.upsert("ours", compliance_profile="us_tsr_regf")
        theirs = await campaigns.upsert("theirs", compliance_profile="us_tsr_regf")
        cases = CaseRepository(session)
        await cases.upsert_many(
            ours, [new_case("old", SHARED), new_case("recent", OTHER, SHARED), new_case("x", OTHER)]
        )
        await cases.upsert_many(theirs, [new_case("elsewhere", SHARED)])
        ids = {ref: await cases.id_for_ref(ours, ref) for ref in ("old", "recent", "x")}
    return ours, theirs, {ref: i for ref, i in ids.items() if i is not None}


def record(campaign: int, case_id: int | None, **kw: object) -> InboundRecord:
    values: dict[str, object] = {
        "call_id": "in-1",
        "campaign_id": campaign,
        "number": SHARED,
        "case_id": case_id,
        "other_case_refs": ("old",),
        "collector_id": None,
        "arrived_at": NOW,
        "ended_at": NOW + timedelta(minutes=3),
        "wait_seconds": 4.0,
        "outcome": InboundOutcome.ANSWERED,
        "bridged_at": NOW + timedelta(seconds=4),
        "talk_seconds": 176.0,
    }
    values.update(kw)
    return InboundRecord(**values)  # type: ignore[arg-type]


async def test_a_caller_is_the_most_recently_contacted_case_of_the_campaign_the_rest_listed(
    factory: Factory,
) -> None:
    ours, _, ids = await setup(factory)
    async with factory() as session, session.begin():
        repo = InboundRepository(session)
        never = await repo.identify(ours, SHARED)
        assert (never.case_id, never.others) == (ids["old"], (ids["recent"],))  # the oldest
        attempts = AttemptRepository(session)
        await attempts.start("c-1", ids["old"], ours, SHARED, NOW - timedelta(days=3))
        await attempts.start("c-2", ids["recent"], ours, OTHER, NOW - timedelta(days=1))
    async with factory() as session:
        match = await InboundRepository(session).identify(ours, SHARED)
    assert (match.case_id, match.others) == (ids["recent"], (ids["old"],))
    assert (match.case_ref, match.other_refs) == (str(ids["recent"]), (str(ids["old"]),))


async def test_an_unknown_or_withheld_caller_matches_no_case(factory: Factory) -> None:
    ours, _, _ = await setup(factory)
    async with factory() as session:
        repo = InboundRepository(session)
        assert (await repo.identify(ours, "+12125550000")).case_id is None
        assert (await repo.identify(ours, "")).case_ref is None


async def test_the_record_round_trips_with_the_number_sealed_at_rest(factory: Factory) -> None:
    ours, _, ids = await setup(factory)
    async with factory() as session, session.begin():
        await InboundRepository(session).record(
            record(ours, ids["recent"], voicemail_path="var/voicemail/in-1.wav")
        )
    async with factory() as session:
        got = await InboundRepository(session).get("in-1")
        raw = (await session.execute(text("SELECT number_e164 FROM inbound_calls"))).scalar()
    assert got == record(ours, ids["recent"], voicemail_path="var/voicemail/in-1.wav")
    assert isinstance(raw, str) and SHARED not in raw and raw.startswith("v1.")


async def test_bad_outcomes_are_refused_before_the_database(factory: Factory) -> None:
    ours, _, ids = await setup(factory)
    async with factory() as session:
        with pytest.raises(ValueError, match="is not a valid InboundOutcome"):
            await InboundRepository(session).record(record(ours, ids["old"], outcome="talked"))


async def test_figures_count_offered_answered_in_target_and_abandoned(factory: Factory) -> None:
    ours, theirs, ids = await setup(factory)
    calls = [
        record(ours, ids["old"], call_id="a", wait_seconds=5.0),
        record(ours, ids["old"], call_id="b", wait_seconds=35.0),
        record(ours, None, call_id="c", outcome=InboundOutcome.ABANDONED, bridged_at=None),
        record(ours, None, call_id="d", outcome=InboundOutcome.CALLBACK_REQUESTED),
        record(ours, None, call_id="early", arrived_at=NOW - timedelta(hours=2)),
        record(theirs, None, call_id="theirs"),
    ]
    async with factory() as session, session.begin():
        for call in calls:
            await InboundRepository(session).record(call)
    async with factory() as session:
        figures = await InboundRepository(session).figures(ours, NOW - timedelta(hours=1), 20.0)
    assert (figures.offered, figures.answered, figures.answered_in_target) == (4, 2, 1)
    assert figures.abandoned == 1 and sorted(figures.waits) == [5.0, 35.0]
    assert figures.service_level == pytest.approx(0.25)


async def test_an_inbound_conversation_locks_the_case_out_but_is_not_an_attempt(
    factory: Factory,
) -> None:
    """Reg F: a conversation (whoever called) starts the 7-day lockout; the 7-in-7 cap
    counts calls placed, so an inbound call never counts toward it."""
    ours, _, ids = await setup(factory)
    async with factory() as session, session.begin():
        await InboundRepository(session).record(record(ours, ids["recent"]))
        await InboundRepository(session).record(
            record(
                ours, ids["old"], call_id="in-2", outcome=InboundOutcome.ABANDONED, bridged_at=None
            )
        )
    since = NOW - timedelta(days=8)
    async with factory() as session:
        history = await contact_history(session, [ids["recent"], ids["old"]], since)
        reads = await history_of(session, [ids["recent"]], since)
        detail = await CaseRepository(session).get(ids["recent"])
        attempts = await AttemptRepository(session).count(case_id=ids["recent"])
    assert [(r.outcome, r.inbound) for r in history[ids["recent"]]] == [
        (ContactOutcome.CONVERSATION, True)
    ]
    assert ids["old"] not in history  # not bridged: no conversation took place
    assert reads[ids["recent"]] == history[ids["recent"]]
    assert attempts == 0
    assert detail is not None
    profile = load_profile("us_tsr_regf")
    decision = evaluate(
        profile, detail.case, OTHER, history[ids["recent"]], NOW + timedelta(days=2)
    )
    assert "post_conversation_lockout" in decision.reasons
    assert "attempt_cap" not in decision.reasons
