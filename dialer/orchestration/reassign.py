"""Real-time case reassignment: rules that move cases between collectors while dialing
goes on, each move written to the assignments history with its reason.

Rules (`orchestration.reassign` in the settings):
- logoff / paused: a collector logs off, or stays paused longer than `paused_minutes`:
  their callbacks and promises due within `due_horizon_minutes` go to teammates with
  capacity (present ones first, then the least loaded);
- rebalance: within a team, collectors whose open cases exceed the team's mean by more
  than `rebalance_tolerance` (and `rebalance_min_cases`) give cases without pending
  follow-ups to those below the mean;
- broken_promise: a promise still unpaid at its follow-up reopens the case and escalates
  it to a senior collector of its team, else to `escalation_team`;
- team_change / skill_change: a collector's team or skills changed: cases of another team,
  or needing skills they lack, go to a fitting member of the case's team.
A case on a live call, or in any daemon's hopper, is never moved: the engines say which
case refs they hold (`live_refs`), and the store's lease says the same for every daemon
(re-checked in the UPDATE that moves it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.logs import event
from dialer.metrics import Metrics
from dialer.orchestration.settings import ReassignSettings
from dialer.store.reassign_repo import Movable, Move, Person, ReassignRepository

log = logging.getLogger(__name__)

LOGOFF, PAUSED, REBALANCE = "logoff", "paused", "rebalance"
BROKEN_PROMISE, TEAM_CHANGE, SKILL_CHANGE = "broken_promise", "team_change", "skill_change"
RULES = (LOGOFF, PAUSED, REBALANCE, BROKEN_PROMISE, TEAM_CHANGE, SKILL_CHANGE)
PRESENT_STATES = frozenset({"ready", "reserved", "on_call", "wrap_up"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule run did."""

    rule: str
    planned: int = 0
    moved: int = 0
    live: int = 0  # skipped: on a call or in a hopper
    no_recipient: int = 0
    seconds: float = 0.0
    moves: tuple[Move, ...] = ()


@dataclass(slots=True)
class _Pool:
    """Recipients for a rule: least loaded first, present collectors before absent ones,
    never beyond `max_cases`."""

    people: list[Person]
    loads: dict[int, int]
    present: frozenset[str]
    _fits: dict[tuple[frozenset[str], int | None], list[Person]] = field(default_factory=dict)

    def pick(
        self,
        skills: frozenset[str],
        *,
        team: int | None = None,
        exclude: int | None = None,
        cap: int | None = None,
    ) -> Person | None:
        """The best recipient needing `skills` (in `team`, if given); counts the case."""
        fits = self._fits.get((skills, team))
        if fits is None:
            fits = [
                p
                for p in self.people
                if p.active and skills <= p.skills and (team is None or p.team_id == team)
            ]
            self._fits[(skills, team)] = fits
        best: Person | None = None
        best_key: tuple[int, int, int] | None = None
        for p in fits:
            load = self.loads.get(p.id, 0)
            limit = p.max_cases if cap is None else min(cap, p.max_cases or cap)
            if p.id == exclude or (limit is not None and load >= limit):
                continue
            key = (0 if p.username in self.present else 1, load, p.id)
            if best_key is None or key < best_key:
                best, best_key = p, key
        if best is not None:
            self.loads[best.id] = self.loads.get(best.id, 0) + 1
        return best


class Reassigner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: ReassignSettings,
        *,
        moved_by: str,
        live_refs: Callable[[], frozenset[str]] = frozenset,
        presence: Callable[[], Mapping[str, str]] = dict,
        campaigns: Mapping[int, str] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.moved_by = moved_by
        self.live_refs = live_refs  # case refs on calls or in hoppers, from the engines
        self.presence = presence  # username -> collector state, from the engines
        self.campaigns = dict(campaigns or {})
        self.metrics = metrics
        self.history: list[Outcome] = []

    # ----- the rules ----------------------------------------------------------------------

    async def collector_away(self, username: str, now: datetime, rule: str = LOGOFF) -> Outcome:
        """`username` logged off or stays paused: their due follow-ups go to teammates."""
        started = time.perf_counter()
        until = now + timedelta(minutes=self.settings.due_horizon_minutes)
        async with self.sessions() as session:
            repo = ReassignRepository(session)
            person = await repo.person(username)
            if person is None or person.team_id is None:
                return self._done(Outcome(rule), started)
            cases = await repo.due_followups(person.id, until, now)
            pool = await self._pool(repo, [person.team_id])
        detail = f"{username} {'logged off' if rule == LOGOFF else 'paused'}; due follow-up"
        return await self._plan_and_apply(rule, cases, pool, detail, now, started)

    async def rebalance(self, now: datetime, team_ids: Sequence[int] | None = None) -> Outcome:
        """Even out open cases within each team (all teams when none given)."""
        started = time.perf_counter()
        s = self.settings
        moves: list[Move] = []
        live = frozenset(self.live_refs())
        async with self.sessions() as session:
            repo = ReassignRepository(session)
            people = [p for p in await repo.people(team_ids=team_ids) if p.active]
            teams: dict[int, list[Person]] = defaultdict(list)
            for p in people:
                if p.team_id is not None:
                    teams[p.team_id].append(p)
            loads = await repo.loads(p.id for p in people)
            for members in teams.values():
                if len(members) < 2:
                    continue
                mean = sum(loads[p.id] for p in members) / len(members)
                slack = max(s.rebalance_tolerance * mean, float(s.rebalance_min_cases))
                donors = [p for p in members if loads[p.id] - mean > slack]
                pool = _Pool(members, dict(loads), self._present())
                for donor in sorted(donors, key=lambda p: -loads[p.id]):
                    excess = loads[donor.id] - int(mean)
                    cases = await repo.owned(donor.id, now, excess, without_followups=True)
                    for case in cases:
                        if str(case.case_id) in live or len(moves) >= s.max_moves_per_run:
                            continue
                        to = pool.pick(case.skills, exclude=donor.id, cap=int(mean) + 1)
                        if to is None:
                            continue
                        why = f"{donor.username} over team mean {mean:.0f}"
                        moves.append(
                            Move(case.case_id, case.campaign_id, donor.id, to.id, REBALANCE, why)
                        )
        return await self._apply(Outcome(REBALANCE, planned=len(moves)), moves, now, started)

    async def escalate_broken_promises(self, now: datetime, limit: int | None = None) -> Outcome:
        """Reopen promises unpaid at their follow-up and give them to a senior collector."""
        started = time.perf_counter()
        limit = limit or self.settings.max_moves_per_run
        live = frozenset(self.live_refs())
        async with self.sessions() as session, session.begin():
            repo = ReassignRepository(session)
            await repo.settle_kept_promises(now)
            broken = [
                c for c in await repo.broken_promises(now, limit) if str(c.case_id) not in live
            ]
            await repo.mark_broken([c.case_id for c in broken])
        if not broken:
            return self._done(Outcome(BROKEN_PROMISE), started)
        async with self.sessions() as session:
            repo = ReassignRepository(session)
            people = await repo.people()
            escalation = None
            if self.settings.escalation_team:
                escalation = await repo.team_id(self.settings.escalation_team)
            loads = await repo.loads(p.id for p in people)
        shared = dict(loads)
        seniors = _Pool([p for p in people if p.is_senior], shared, self._present())
        team_pool = _Pool([p for p in people if p.team_id == escalation], shared, self._present())
        moves: list[Move] = []
        no_recipient = 0
        for case in broken:
            to = None
            to_team = None
            if case.team_id is not None:
                to = seniors.pick(case.skills, team=case.team_id, exclude=case.owner_id)
            if to is None and escalation is not None:
                to = team_pool.pick(case.skills, exclude=case.owner_id)
                to_team = escalation
            if to is None:
                no_recipient += 1
                continue
            where = "senior of the team" if to_team is None else "escalation team"
            moves.append(
                Move(
                    case.case_id,
                    case.campaign_id,
                    case.owner_id,
                    to.id,
                    BROKEN_PROMISE,
                    f"promise unpaid at follow-up; to {where}",
                    to_team,
                )
            )
        outcome = Outcome(BROKEN_PROMISE, planned=len(moves), no_recipient=no_recipient)
        return await self._apply(outcome, moves, now, started)

    async def collector_changed(self, username: str, now: datetime) -> Outcome:
        """`username`'s team or skills changed: re-evaluate the cases they own."""
        started = time.perf_counter()
        async with self.sessions() as session:
            repo = ReassignRepository(session)
            person = await repo.person(username)
            if person is None:
                return self._done(Outcome(TEAM_CHANGE), started)
            owned = await repo.owned(person.id, now, self.settings.max_moves_per_run)
            wrong_team = [c for c in owned if c.team_id is not None and c.team_id != person.team_id]
            moved_away = {c.case_id for c in wrong_team}
            wrong_skills = [
                c for c in owned if c.case_id not in moved_away and not c.skills <= person.skills
            ]
            teams = {c.team_id for c in owned if c.team_id is not None}
            if person.team_id is not None:
                teams.add(person.team_id)
            pool = await self._pool(repo, teams)
        moves: list[Move] = []
        no_recipient = 0
        for rule, cases in ((TEAM_CHANGE, wrong_team), (SKILL_CHANGE, wrong_skills)):
            for case in cases:
                team = case.team_id if case.team_id is not None else person.team_id
                to = pool.pick(case.skills, team=team, exclude=person.id)
                if to is None:
                    no_recipient += 1
                    continue
                why = "case belongs to another team" if rule == TEAM_CHANGE else "skills missing"
                moves.append(
                    Move(
                        case.case_id, case.campaign_id, person.id, to.id, rule, f"{username}: {why}"
                    )
                )
        outcome = Outcome(TEAM_CHANGE, planned=len(moves), no_recipient=no_recipient)
        return await self._apply(outcome, moves, now, started)

    # ----- shared steps -------------------------------------------------------------------

    def _present(self) -> frozenset[str]:
        return frozenset(u for u, state in self.presence().items() if state in PRESENT_STATES)

    async def _pool(self, repo: ReassignRepository, team_ids: Sequence[int] | set[int]) -> _Pool:
        people = await repo.people(team_ids=team_ids)
        return _Pool(people, await repo.loads(p.id for p in people), self._present())

    async def _plan_and_apply(
        self,
        rule: str,
        cases: list[Movable],
        pool: _Pool,
        detail: str,
        now: datetime,
        started: float,
    ) -> Outcome:
        moves: list[Move] = []
        no_recipient = 0
        for case in cases[: self.settings.max_moves_per_run]:
            to = pool.pick(case.skills, team=case.team_id, exclude=case.owner_id)
            if to is None:
                no_recipient += 1
                continue
            moves.append(Move(case.case_id, case.campaign_id, case.owner_id, to.id, rule, detail))
        outcome = Outcome(rule, planned=len(moves), no_recipient=no_recipient)
        return await self._apply(outcome, moves, now, started)

    async def _apply(
        self, outcome: Outcome, moves: list[Move], now: datetime, started: float
    ) -> Outcome:
        live = frozenset(self.live_refs())
        kept = [m for m in moves if str(m.case_id) not in live]
        moved: set[int] = set()
        if kept:
            async with self.sessions() as session, session.begin():
                moved = await ReassignRepository(session).apply(kept, self.moved_by, now)
        done = tuple(m for m in kept if m.case_id in moved)
        skipped = len(moves) - len(done)  # live here, or leased / moved by another daemon
        outcome = Outcome(
            outcome.rule,
            outcome.planned,
            len(done),
            outcome.live + skipped,
            outcome.no_recipient,
            0.0,
            done,
        )
        self._count(done)
        return self._done(outcome, started)

    def _count(self, moves: Sequence[Move]) -> None:
        if self.metrics is None:
            return
        counts = Counter((self.campaigns.get(m.campaign_id, "other"), m.rule) for m in moves)
        for (campaign, rule), n in counts.items():
            self.metrics.reassignments.labels(campaign, rule).inc(n)

    def _done(self, outcome: Outcome, started: float) -> Outcome:
        outcome = Outcome(
            outcome.rule,
            outcome.planned,
            outcome.moved,
            outcome.live,
            outcome.no_recipient,
            time.perf_counter() - started,
            outcome.moves,
        )
        self.history = [*self.history[-49:], outcome]
        if outcome.planned or outcome.no_recipient:
            event(
                log,
                "reassign.run",
                rule=outcome.rule,
                planned=outcome.planned,
                moved=outcome.moved,
                skipped=outcome.live,
                no_recipient=outcome.no_recipient,
                seconds=round(outcome.seconds, 3),
            )
        return outcome
