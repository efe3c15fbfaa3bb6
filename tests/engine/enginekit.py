"""Helpers to drive the engine with scripted events and times."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dialer.domain.commands import Command
from dialer.domain.events import CasesSupplied, CollectorLoggedIn, Event
from dialer.domain.model import Case, DialTarget, PhoneNumber
from dialer.engine import Engine, EngineConfig
from dialer.pacing.policies import make_pacer


def target(
    ref: str, owner: str | None = None, team: str | None = None, skills: Iterable[str] = ()
) -> DialTarget:
    number = f"+1212555{int(ref.strip('case-') or 0) % 10000:04d}"
    case = Case(ref, (PhoneNumber(number),), owner=owner, team=team, skills=frozenset(skills))
    return DialTarget(case, number)


class Driver:
    """Feeds events at given times and keeps every command issued."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.commands: list[Command] = []

    def send(self, event: Event, now: float) -> list[Command]:
        out = self.engine.handle(event, now)
        self.commands.extend(out)
        return out

    def tick(self, now: float) -> list[Command]:
        out = self.engine.tick(now)
        self.commands.extend(out)
        return out

    def of(self, kind: type) -> list[Command]:
        return [c for c in self.commands if isinstance(c, kind)]


def make_engine(pacer: str = "progressive", **config: object) -> Engine:
    cfg = EngineConfig(campaign="t", **config)  # type: ignore[arg-type]
    return Engine(cfg, make_pacer(pacer), np.random.default_rng(1))


def supply(driver: Driver, n: int, now: float = 0.0, start: int = 1, **kw: object) -> None:
    driver.send(
        CasesSupplied(tuple(target(f"case-{i}", **kw) for i in range(start, start + n))), now
    )  # type: ignore[arg-type]


def login(
    driver: Driver, *ids: str, now: float = 0.0, team: str | None = None, skills: Iterable[str] = ()
) -> None:
    for collector_id in ids:
        driver.send(CollectorLoggedIn(collector_id, team, frozenset(skills)), now)
