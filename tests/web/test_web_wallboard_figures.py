"""The wallboard's parts that need no browser: the day of a campaign and its collectors'
time in it (rolled at midnight), the bounded time series, and today's figures combined
from the store's counts and the engine's time (AHT, occupancy, team totals), from given
rows and from a real store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.clock import ManualClock
from dialer.domain.agents import Collector
from dialer.domain.model import Bucket, ContactOutcome, PhoneNumber
from dialer.settings import Settings, SettingsError, load_settings
from dialer.store.db import session_factory
from dialer.store.floor_repo import CollectorDay
from dialer.store.records import DispositionKind, NewCase
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
    DispositionRepository,
)
from dialer.web import floor_figures
from dialer.web.context import new_context
from dialer.web.day_tally import DayTally, DayTime, day_span
from dialer.web.floor_figures import combine
from dialer.web.wallboard_series import CampaignSeries, FloorSampler

NY = ZoneInfo("America/New_York")
# 23:00 in New York on 2 March 2026 (04:00 UTC on the 3rd).
LATE = datetime(2026, 3, 3, 4, 0, tzinfo=UTC).timestamp()


def test_the_day_is_the_campaigns_local_day() -> None:
    span = day_span(NY, LATE)
    assert span.day == date(2026, 3, 2)
    assert span.start == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert span.end == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert day_span(ZoneInfo("UTC"), LATE).day == date(2026, 3, 3)


def test_todays_time_starts_from_the_days_first_sample() -> None:
    alice = Collector("alice")
    alice.log_in(LATE)
    alice.connect("call-1", LATE + 600)  # 10 min ready, then talking
    tally = DayTally()
    tally.roll(date(2026, 3, 2), {"alice": alice}, LATE + 900)
    # The daemon's first day: everything since its start.
    assert tally.today(alice, LATE + 900) == DayTime(300.0, 0.0, 900.0)

    midnight = LATE + 3600
    tally.roll(date(2026, 3, 3), {"alice": alice}, midnight)  # a new day: from zero
    alice.hang_up(midnight + 120)
    alice.ready(midnight + 180)
    spent = tally.today(alice, midnight + 240)
    assert spent == DayTime(120.0, 60.0, 240.0)
    assert spent.occupancy == 0.75
    bob = Collector("bob")  # first seen after the roll: all his time is today's
    bob.log_in(midnight + 100)
    assert tally.today(bob, midnight + 200) == DayTime(0.0, 0.0, 100.0)
    tally.roll(date(2026, 3, 3), {"alice": alice, "bob": bob}, midnight + 300)  # same day
    assert tally.today(bob, midnight + 400).logged_in == 300.0


def _runner(collectors: dict[str, Collector], guard: Any = None, threshold: Any = None) -> Any:
    pacer = SimpleNamespace(threshold=threshold) if threshold is not None else SimpleNamespace()
    stats = SimpleNamespace(abandoned=1, live_answers=40)
    engine = SimpleNamespace(collectors=collectors, cap_guard=guard, pacer=pacer, stats=stats)
    return SimpleNamespace(name="c1", engine=engine)


def test_the_series_is_sampled_every_interval_and_bounded() -> None:
    now = [LATE]
    sampler = FloorSampler(lambda: now[0], lambda _c, _t: date(2026, 3, 2), every=5.0,
                           keep_seconds=60.0)  # fmt: skip
    alice = Collector("alice")
    alice.log_in(LATE)
    guard = SimpleNamespace(cap=0.03, totals=lambda _now: (200, 4),
                            abandons_left=lambda _now: 2.0)  # fmt: skip
    runner = _runner({"alice": alice}, guard, threshold=0.0123)
    for step in range(100):  # a step every second for 100 s
        now[0] = LATE + step
        if step == 50:
            alice.connect("call-1", now[0])
        sampler.observe(runner, None, [])
    series = sampler.series["c1"]
    assert len(series.samples) == 12, "60 s kept at one sample per 5 s"
    assert [s.seq for s in series.samples] == list(range(9, 21))
    assert [s.at - LATE for s in series.samples][:2] == [40.0, 45.0]
    last = series.samples[-1]
    assert (last.abandon_rate, last.cap, last.abandons_left, last.threshold) == (
        0.02, 0.03, 2.0, 0.0123,
    )  # fmt: skip
    # Occupancy over each interval: ready before the call, on it after.
    assert series.samples[0].occupancy == 0.0 and last.occupancy == 1.0
    assert [s.seq for s in series.newer_than(18)] == [19, 20]
    assert series.newer_than(20) == []
    assert len(series.newer_than(0)) == 12, "a client far behind gets what is kept"


def test_without_a_guard_the_rate_is_since_start_and_a_broken_runner_does_not_raise() -> None:
    series = CampaignSeries(3)
    runner = _runner({})
    sampler = FloorSampler(lambda: LATE, lambda _c, _t: date(2026, 3, 2))
    sample = sampler.sample(runner, LATE)
    assert (sample.abandon_rate, sample.cap, sample.threshold) == (0.025, None, None)
    sampler.observe(SimpleNamespace(name="broken", engine=None), None, [])  # logged, no raise
    assert not series.samples


def test_todays_figures_combine_the_store_and_the_engine() -> None:
    stored = [
        CollectorDay("alice", "east", 4, 3, 2, Decimal("35.50"), 400.0),
        CollectorDay("bob", "east", 2, 1, 1, Decimal("10.00"), 100.0),
        CollectorDay("zoe", None, 1, 0, 0, Decimal("0.00"), 30.0),  # logged out before today's roll
    ]
    live = {
        "alice": ("east", DayTime(talk=420.0, wrap=80.0, logged_in=1000.0)),
        "bob": ("east", DayTime(talk=100.0, wrap=20.0, logged_in=600.0)),
        "carol": ("west", DayTime(talk=0.0, wrap=0.0, logged_in=300.0)),  # no call yet
    }
    lines, teams = combine(stored, live)
    by = {line.name: line.as_dict() for line in lines}
    assert by["alice"] == {
        "name": "alice", "team": "east", "contacts": 4, "right_party": 3, "promises": 2,
        "promised_amount": "35.50", "handle_seconds": 120.0, "occupancy": 0.5,
    }  # fmt: skip
    assert by["bob"]["handle_seconds"] == 60.0 and by["bob"]["occupancy"] == 0.2
    assert by["carol"]["contacts"] == 0 and by["carol"]["handle_seconds"] is None
    assert by["carol"]["occupancy"] == 0.0
    assert by["zoe"]["occupancy"] is None and by["zoe"]["handle_seconds"] == 30.0
    team = {t.name: t.as_dict() for t in teams}
    assert list(team) == ["(no team)", "east", "west"]
    assert team["east"]["team"] is None  # the team's own line names no team beside it
    assert team["east"]["contacts"] == 6 and team["east"]["promised_amount"] == "45.50"
    assert team["east"]["handle_seconds"] == round((500 + 100) / 6, 1)
    assert team["east"]["occupancy"] == round(620 / 1600, 4)


async def test_todays_figures_from_a_real_store_and_the_engines_time(
    migrated_engine: AsyncEngine,
) -> None:
    """alice: two conversations today (60 s and 30 s of talk), one promise of 40.00, 30 s
    of wrap-up; 300 s logged in. AHT (90 + 30) / 2 = 60 s, occupancy 120 / 300 = 0.4."""
    sessions = session_factory(migrated_engine)
    noon = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 12:00 in New York
    async with sessions() as db, db.begin():
        campaign_id = await CampaignRepository(db).upsert("c1", compliance_profile="us_tsr_regf")
        alice_row = await CollectorRepository(db).upsert("alice", team="east")
        row = NewCase("D1", "J*** S****", Decimal("500.00"), 40, Bucket.M2,
                      (PhoneNumber("+12125550101"),), timezone="America/New_York")  # fmt: skip
        await CaseRepository(db).upsert_many(campaign_id, [row])
        case_id = await CaseRepository(db).id_for_ref(campaign_id, "D1")
        assert case_id is not None
        attempts = AttemptRepository(db)
        for n, talk in enumerate((60, 30)):
            at = noon + timedelta(minutes=n)
            attempt_id = await attempts.start(f"call-{n}", case_id, campaign_id, "+1212", at)
            await attempts.finish(f"call-{n}", ContactOutcome.CONVERSATION, bridged_at=at,
                                  answered_at=at, ended_at=at + timedelta(seconds=talk),
                                  collector_id=alice_row)  # fmt: skip
        await DispositionRepository(db).add(
            case_id, DispositionKind.PROMISE_TO_PAY, collector_id=alice_row,
            attempt_id=attempt_id, amount=Decimal("40.00"), promise_date=date(2026, 3, 9), at=noon,
        )  # fmt: skip

    start = noon.timestamp()
    alice = Collector("alice", team="east")
    alice.log_in(start)
    alice.connect("call-0", start + 10)
    alice.hang_up(start + 70)
    alice.ready(start + 80)
    alice.connect("call-1", start + 120)
    alice.hang_up(start + 150)
    alice.ready(start + 170)  # wrap 10 + 20 s; at +300: 90 s talk, 30 s wrap, 300 s in
    runner = SimpleNamespace(
        name="c1", campaign_id=campaign_id, engine=SimpleNamespace(collectors={"alice": alice})
    )
    settings = Settings.model_validate(
        {"web": {"session_secret": "test"},
         "orchestration": {"windows": {"c1": {"start": "08:00", "end": "21:00",
                                              "timezone": "America/New_York"}}}}
    )  # fmt: skip
    dialer = SimpleNamespace(
        settings=settings,
        clock=ManualClock(start + 300),
        sessions=sessions,
        runners={"c1": runner},
        inbound_pop=lambda _call_id: None,  # no inbound calls on this floor
    )
    ctx = new_context(dialer)  # type: ignore[arg-type]
    assert (ctx.floor.every, ctx.floor.size) == (5.0, 2880), "the defaults: 4 h of 5-s samples"
    figures = await floor_figures.today(ctx, "c1")
    assert (figures["day"], figures["zone"]) == ("2026-03-02", "America/New_York")
    assert figures["collectors"] == [
        {"name": "alice", "team": "east", "contacts": 2, "right_party": 2, "promises": 1,
         "promised_amount": "40.00", "handle_seconds": 60.0, "occupancy": 0.4},
    ]  # fmt: skip
    assert figures["teams"][0]["name"] == "east" and figures["teams"][0]["occupancy"] == 0.4
    assert await floor_figures.today(ctx, "c1") is figures, "cached: the store asked once"
    assert ctx.floor_cache.computed == 1


def test_the_series_settings_apply_and_a_bad_one_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text("web:\n  wallboard_sample_seconds: 10\n  wallboard_history_hours: 1\n")
    web = load_settings(path).web
    sampler = FloorSampler(lambda: LATE, lambda _c, _t: date(2026, 3, 2),
                           every=web.wallboard_sample_seconds,
                           keep_seconds=web.wallboard_history_hours * 3600)  # fmt: skip
    assert (sampler.every, sampler.size) == (10.0, 360)
    path.write_text("web:\n  wallboard_history_hours: 0\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: web.wallboard_history_hours: ")
