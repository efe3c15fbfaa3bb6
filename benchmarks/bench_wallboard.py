"""The wallboard's cost with a large floor, against 50 collectors measured in the same run.

    python benchmarks/bench_wallboard.py [--collectors 500] [--baseline 50] [--rounds 200]

1. One update: the board of a campaign (every collector's row from the roster, the
   summary, the latest decisions) and its compact JSON diff against the previous board,
   after a second in which 5% of the collectors changed state (a busy floor). This is
   what the wallboard stream does once a second per campaign per open wallboard.
   Beside it, what the diff spares: the first (whole) update, and re-rendering the
   manager page's HTML roster (_collectors.html) for every collector.
2. Today's figures: the one grouped query (dialer.store.floor_repo) on a SQLite store
   holding both floors, N collectors x 40 attempts today each (a third of them
   conversations, a tenth of those with a promise) and some from the day before; beside
   it, a bare count of the day's attempts per collector (the least any such figure costs).

Figures are medians in milliseconds; ratios are against the baseline floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.clock import ManualClock
from dialer.compliance import Profile, load_profile
from dialer.domain.agents import CollectorState
from dialer.domain.calls import Call
from dialer.domain.events import CollectorLoggedIn, Event
from dialer.engine import Engine, EngineConfig, StepObserver
from dialer.metrics import Metrics
from dialer.pacing.policies import make_pacer
from dialer.settings import Settings
from dialer.store.crypto import Keyring, install, new_key_id, new_master_key
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.floor_repo import FloorRepository
from dialer.store.tables import CallAttempt, Campaign, CaseRow, Collector, Disposition, Team
from dialer.web import collector_control, wallboard
from dialer.web.context import WebContext, new_context
from dialer.web.facade import CampaignHealth

START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()
DAY_START = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
ATTEMPTS_PER_COLLECTOR = 40
CHANGED_SHARE = 0.05


class Runner:
    """A campaign's engine as the web sees it (the daemon's runner, without its loop)."""

    def __init__(self, name: str, engine: Engine, campaign_id: int) -> None:
        self._name, self._engine, self._campaign_id = name, engine, campaign_id
        self.step_observers: list[StepObserver] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def campaign_id(self) -> int:
        return self._campaign_id

    def push(self, event: Event) -> None:
        raise NotImplementedError

    def register_collector(self, collector_id: str, row_id: int) -> None:
        pass

    async def hang_up(self, call_id: str) -> None:
        pass


class Facade:
    """The members of dialer.web.facade.DialerFacade the wallboard reads."""

    def __init__(self, runners: Mapping[str, Runner], sessions: Any) -> None:
        self.settings = Settings(web={"session_secret": "bench"})
        self.clock = ManualClock(START)
        self.metrics = Metrics()
        self.sessions = sessions
        self.runners = runners
        self.profiles: dict[str, Profile] = {n: load_profile("us_tsr_regf") for n in runners}
        self.trunk_registered, self.trunk_problem, self.store_problem = True, None, None
        self.stopping = False

    async def flush_writes(self) -> None:
        pass

    def hopper_reason(self, campaign: str) -> str | None:
        return None

    def health(self) -> Mapping[str, CampaignHealth]:
        return {}


def floor_engine(name: str, collectors: int, rng: np.random.Generator) -> Engine:
    """An engine with `collectors` logged in: 40% on a call, 20% in wrap-up, 10% paused."""
    config = EngineConfig(campaign=name, abandon_cap=0.03, abandon_window=30 * 86400.0)
    engine = Engine(config, make_pacer("predictive", abandon_cap=0.03), rng)
    engine.paused = True
    for i in range(collectors):
        engine.handle(CollectorLoggedIn(f"agent{i:04d}", team=f"team{i % 10}"), START - 3600)
    for i, collector in enumerate(engine.collectors.values()):
        move(engine, collector.collector_id, i % 10, START - 1800 + i)
    return engine


def move(engine: Engine, cid: str, kind: int, now: float) -> None:
    """Put a collector in a state directly (a read benchmark: no pacing wanted)."""
    collector = engine.collectors[cid]
    if collector.state is CollectorState.ON_CALL:
        assert collector.call_id is not None
        engine.calls.pop(collector.call_id, None)
        collector.hang_up(now)
    if collector.state is CollectorState.WRAP_UP and kind >= 6:
        collector.ready(now)
    if kind < 4 and collector.state is CollectorState.READY:
        call_id = f"{cid}-{now:.0f}"
        engine.calls[call_id] = Call(call_id, str(1000 + kind), "+12125550100")
        collector.connect(call_id, now)
    elif kind < 6 and collector.state is CollectorState.ON_CALL:
        collector.hang_up(now)
    elif kind == 9 and collector.state is CollectorState.READY:
        collector.pause("break", now)
    elif collector.state is CollectorState.PAUSED:
        collector.ready(now)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def update_cost(
    ctx: WebContext, name: str, rounds: int, rng: np.random.Generator
) -> dict[str, float]:
    engine = ctx.runner(name).engine
    clock = ctx.dialer.clock
    assert isinstance(clock, ManualClock)
    ids = list(engine.collectors)
    changed = max(1, int(len(ids) * CHANGED_SHARE))
    figures: dict[str, Any] = {"day": "2026-03-03", "collectors": [], "teams": []}
    old = wallboard.board(ctx, name, figures)
    times: dict[str, list[float]] = {"update": [], "build": [], "whole": [], "html": []}
    sizes = []
    template = ctx.templates.get_template("_collectors.html")
    for _ in range(rounds):
        clock.advance(1.0)
        for cid in rng.choice(ids, size=changed, replace=False):
            move(engine, str(cid), int(rng.integers(0, 10)), clock.now())
        started = time.perf_counter()
        new = wallboard.board(ctx, name, figures)
        built = time.perf_counter()
        body = json.dumps(wallboard.update(ctx, old, new), separators=(",", ":"))
        done = time.perf_counter()
        times["update"].append(done - started)
        times["build"].append(built - started)
        sizes.append(len(body))
        old = new
        started = time.perf_counter()
        json.dumps(wallboard.update(ctx, None, new), separators=(",", ":"))
        times["whole"].append(time.perf_counter() - started)
        roster = collector_control.roster(ctx, name)
        started = time.perf_counter()
        template.render(who=None, csrf="x", name=name, roster=roster, timeout=15.0)
        times["html"].append(time.perf_counter() - started)
    whole = json.dumps(wallboard.update(ctx, None, old), separators=(",", ":"))
    figures_ms = {key: median_ms(values) for key, values in times.items()}
    return {**figures_ms, "diff_bytes": statistics.median(sizes), "whole_bytes": len(whole)}


async def seed(sessions: async_sessionmaker[AsyncSession], name: str, collectors: int) -> int:
    """A campaign whose `collectors` made 40 attempts each today (and some yesterday)."""
    async with sessions() as db, db.begin():
        campaign_id = await db.scalar(
            insert(Campaign).values(name=name, pacing_mode="predictive", pacing_params={},
                                    compliance_profile="us_tsr_regf", active=True)
            .returning(Campaign.id)
        )  # fmt: skip
        assert campaign_id is not None
        team_ids = []
        for t in range(10):
            team = await db.scalar(insert(Team).values(name=f"{name}-team{t}").returning(Team.id))
            team_ids.append(team)
        collector_ids = []
        for i in range(collectors):
            row = await db.scalar(
                insert(Collector).values(username=f"{name}-agent{i:04d}", display_name="x",
                                         team_id=team_ids[i % 10], skills=[], is_senior=False,
                                         active=True).returning(Collector.id)
            )  # fmt: skip
            collector_ids.append(row)
        cases = [
            {"campaign_id": campaign_id, "debtor_ref": f"{name}-D{i}",
             "display_name_masked": "J***", "balance": Decimal("100.00"), "currency": "USD",
             "days_past_due": 40, "bucket": "M2", "status": "open", "skills": []}
            for i in range(collectors * 4)
        ]  # fmt: skip
        result = await db.execute(insert(CaseRow).returning(CaseRow.id), cases)
        case_ids = [r[0] for r in result.all()]
        attempts, n = [], 0
        for c, collector_id in enumerate(collector_ids):
            for k in range(ATTEMPTS_PER_COLLECTOR + 5):
                n += 1
                dialed = DAY_START + timedelta(seconds=600 * k + c)
                if k >= ATTEMPTS_PER_COLLECTOR:
                    dialed = DAY_START - timedelta(hours=k - ATTEMPTS_PER_COLLECTOR + 1)
                talked = k % 3 == 0
                attempts.append({
                    "case_id": case_ids[(c * 4 + k) % len(case_ids)], "campaign_id": campaign_id,
                    "number_e164": "+12125550100", "call_id": f"{name}-{n}",
                    "collector_id": collector_id if talked else None, "dialed_at": dialed,
                    "bridged_at": dialed + timedelta(seconds=8) if talked else None,
                    "ended_at": dialed + timedelta(seconds=90), "abandoned": False,
                    "outcome": "conversation" if talked else "no_answer",
                    "talk_seconds": 82.0 if talked else None,
                })  # fmt: skip
        result = await db.execute(
            insert(CallAttempt).returning(CallAttempt.id, CallAttempt.case_id,
                                          CallAttempt.collector_id, CallAttempt.dialed_at),
            attempts,
        )  # fmt: skip
        dispositions = [
            {"attempt_id": attempt_id, "case_id": case_id, "collector_id": collector_id,
             "kind": "promise_to_pay" if attempt_id % 10 == 0 else "refused",
             "amount": Decimal("50.00") if attempt_id % 10 == 0 else None,
             "promise_date": date(2026, 3, 10) if attempt_id % 10 == 0 else None,
             "created_at": dialed_at + timedelta(seconds=120)}
            for attempt_id, case_id, collector_id, dialed_at in (tuple(r) for r in result.all())
            if collector_id is not None
        ]  # fmt: skip
        await db.execute(insert(Disposition), dispositions)
    return campaign_id


async def timed(run: Callable[[], Awaitable[Any]], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


async def figures_cost(
    sessions: async_sessionmaker[AsyncSession], campaign_id: int, rounds: int
) -> dict[str, float]:
    end = DAY_START + timedelta(days=1)

    async def grouped() -> Any:
        async with sessions() as db:
            return await FloorRepository(db).day(campaign_id, DAY_START, end)

    async def bare() -> Any:  # the least any per-collector figure costs: count the attempts
        async with sessions() as db:
            span = (
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.dialed_at >= DAY_START,
                CallAttempt.dialed_at < end,
            )
            query = select(CallAttempt.collector_id, func.count()).where(*span)
            return (await db.execute(query.group_by(CallAttempt.collector_id))).all()

    rows = await grouped()
    return {
        "rows": len(rows),
        "grouped_ms": await timed(grouped, rounds),
        "bare_ms": await timed(bare, rounds),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collectors", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    key_id = new_key_id()
    install(Keyring({key_id: new_master_key()}, current=key_id, index_key_id=key_id))
    rng = np.random.default_rng(1)
    sizes = {"baseline": args.baseline, "floor": args.collectors}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await migrate(url)
        db_engine = create_engine(url)
        sessions = session_factory(db_engine)
        ids = {label: await seed(sessions, label, n) for label, n in sizes.items()}
        runners = {
            label: Runner(label, floor_engine(label, n, rng), ids[label])
            for label, n in sizes.items()
        }
        ctx = new_context(Facade(runners, sessions))
        for runner in runners.values():
            ctx.floor.sample(runner, ctx.now())
        update = {label: update_cost(ctx, label, args.rounds, rng) for label in sizes}
        figures = {
            label: await figures_cost(sessions, ids[label], max(5, args.rounds // 10))
            for label in sizes
        }
        await db_engine.dispose()
    base, big = update["baseline"], update["floor"]
    n, b = args.collectors, args.baseline
    print(f"wallboard update, median of {args.rounds} (5% of the collectors change a second):")
    for label in ("baseline", "floor"):
        u = update[label]
        print(
            f"  {sizes[label]:>5} collectors: one update {u['update']:.2f} ms"
            f" (board {u['build']:.2f} ms + diff and JSON), {u['diff_bytes']:.0f} B;"
            f" whole board as JSON {u['whole']:.2f} ms, {u['whole_bytes']:.0f} B;"
            f" HTML roster rendered {u['html']:.2f} ms"
        )
    print(
        f"  ratio {n}/{b}: one update {big['update'] / base['update']:.1f}x,"
        f" HTML roster {big['html'] / base['html']:.1f}x; at {n} the update sends"
        f" {big['whole_bytes'] / big['diff_bytes']:.0f}x fewer bytes than the whole board"
        f" and costs {big['update'] / big['html']:.2f} of rendering the HTML roster"
    )
    print(f"today's figures ({ATTEMPTS_PER_COLLECTOR} attempts per collector today):")
    for label in ("baseline", "floor"):
        f = figures[label]
        print(
            f"  {sizes[label]:>5} collectors: one grouped query {f['grouped_ms']:.1f} ms"
            f" ({f['rows']:.0f} rows); counting the day's attempts by collector"
            f" {f['bare_ms']:.1f} ms ({f['grouped_ms'] / f['bare_ms']:.1f}x)"
        )
    ratio = figures["floor"]["grouped_ms"] / figures["baseline"]["grouped_ms"]
    print(
        f"  ratio {n}/{b}: {ratio:.1f}x (asked at most once per 5 s per campaign, however many"
        " wallboards are open)"
    )


if __name__ == "__main__":
    asyncio.run(main())
