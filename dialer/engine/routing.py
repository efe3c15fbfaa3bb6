"""Who takes an answered call: the case's owner, then the owner's team, then anyone ready
with the skills the case needs; the longest-idle eligible collector wins each step.

Each step opens after a short wait (per campaign), so an owner who is about to be free gets
the call; the engine never waits beyond the connect grace, after which the call is abandoned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from dialer.domain.agents import Collector
from dialer.domain.model import Case


class Stage(IntEnum):
    OWNER = 0
    TEAM = 1
    ANYONE = 2


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    owner_wait: float = 0.5  # seconds only the owner may take the call
    team_wait: float = 0.5  # then seconds only the owner's team may

    def __post_init__(self) -> None:
        if self.owner_wait < 0 or self.team_wait < 0:
            raise ValueError("routing waits must be >= 0")


def case_team(case: Case, collectors: Mapping[str, Collector]) -> str | None:
    if case.team is not None:
        return case.team
    owner = collectors.get(case.owner) if case.owner else None
    return owner.team if owner else None


def stage_at(policy: RoutingPolicy, case: Case, team: str | None, waited: float) -> Stage:
    """The widest step open for a call that has waited `waited` seconds since answer."""
    elapsed = waited
    if case.owner is not None:
        if elapsed < policy.owner_wait:
            return Stage.OWNER
        elapsed -= policy.owner_wait
    if team is not None and elapsed < policy.team_wait:
        return Stage.TEAM
    return Stage.ANYONE


def next_stage_in(
    policy: RoutingPolicy, case: Case, team: str | None, waited: float
) -> float | None:
    """Seconds until the next step opens, or None when all are open."""
    boundary = 0.0
    if case.owner is not None:
        boundary += policy.owner_wait
        if waited < boundary:
            return boundary - waited
    if team is not None:
        boundary += policy.team_wait
        if waited < boundary:
            return boundary - waited
    return None


def eligible(collector: Collector, case: Case, team: str | None, stage: Stage) -> bool:
    if collector.collector_id == case.owner:
        return True
    if stage is Stage.OWNER:
        return False
    if not case.skills <= collector.skills:
        return False
    if stage is Stage.TEAM:
        return team is not None and collector.team == team
    return True


def choose(
    ready_longest_idle_first: Mapping[str, Collector], case: Case, team: str | None, stage: Stage
) -> Collector | None:
    """The collector to take the call now, or None: the owner if ready, else the longest-idle
    eligible collector (`ready_longest_idle_first` iterates in idle order)."""
    if case.owner is not None:
        owner = ready_longest_idle_first.get(case.owner)
        if owner is not None:
            return owner
        if stage is Stage.OWNER:
            return None
    for collector in ready_longest_idle_first.values():
        if eligible(collector, case, team, stage):
            return collector
    return None
