"""Is each campaign dialing, and if not, why: what /healthz reports (dialer.web.app).

A campaign that launches no new calls has one or more reasons. Some are meant (a manager
paused it, its calling window is closed, the daemon is stopping, nobody is logged in, the
campaign has nothing callable now); the others are faults, where the campaign should dial
and cannot (the store cannot take writes, or another engine hold; the trunk is down; the
hopper's refills fail, as they did on PostgreSQL for an instance name longer than the
lease-owner column). A fault makes /healthz answer 503, so a monitor sees a daemon that
runs but cannot dial.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from dialer.domain.agents import CollectorState
from dialer.engine import RunningCampaign
from dialer.orchestration.jobs import window_open
from dialer.orchestration.settings import CallingWindow
from dialer.privacy import mask_text
from dialer.web.facade import CampaignHealth, NotDialing

UNREACHABLE = (CollectorState.PAUSED, CollectorState.LOGGED_OUT)
MAX_ERROR = 200  # characters of a refill's error shown
EMPTY = {  # dialer.orchestration.supply's reasons for an empty refill
    "no_cases": "the campaign has no callable case",
    "not_due": "every callable case waits for its next attempt",
    "all_leased": "other daemons hold every ready case",
    "all_queued": "every callable case is queued or on a call already",
    "no_dialable_number": "the cases found have no dialable number",
}


class HopperState(Protocol):
    """What health reads of a campaign's hopper (dialer.orchestration.supply.Hopper)."""

    @property
    def reason(self) -> str | None: ...

    @property
    def error(self) -> str | None: ...


def assess(
    runners: Mapping[str, RunningCampaign],
    hoppers: Mapping[str, HopperState],
    windows: Mapping[str, CallingWindow],
    *,
    trunk_problem: str | None,
    store_problem: str | None,
    stopping: bool,
    now: datetime,
) -> dict[str, CampaignHealth]:
    """Each campaign's health; `windows` are the calling windows the jobs keep."""
    out: dict[str, CampaignHealth] = {}
    for name, runner in runners.items():
        window = windows.get(name)
        hopper = hoppers.get(name)
        reasons = list(_meant(runner, window, stopping, now))
        reasons += _faults(runner, trunk_problem, store_problem)
        if hopper is not None and not runner.engine.hopper_size and hopper.reason is not None:
            if hopper.reason == "refill_failed":
                error = mask_text(hopper.error or "unknown error")[:MAX_ERROR]
                reasons.append(NotDialing("hopper_failing", f"hopper refills fail: {error}", True))
            else:
                why = EMPTY.get(hopper.reason, f"compliance blocks the rest ({hopper.reason})")
                reasons.append(NotDialing("hopper_empty", f"nothing to dial: {why}", False))
        out[name] = CampaignHealth(tuple(reasons))
    return out


def _meant(
    runner: RunningCampaign, window: CallingWindow | None, stopping: bool, now: datetime
) -> list[NotDialing]:
    engine = runner.engine
    reasons: list[NotDialing] = []
    if stopping or engine.draining:
        reasons.append(NotDialing("draining", "stopping: live calls finish, none is placed", False))
    if engine.paused:
        if window is not None and not window_open(window, now):
            hours = f"{window.start:%H:%M}-{window.end:%H:%M} {window.days} {window.timezone}"
            reasons.append(NotDialing("outside_window", f"outside its window ({hours})", False))
        else:
            reasons.append(NotDialing("paused", "paused by a manager", False))
    states = [c.state for c in engine.collectors.values()]
    if all(state in UNREACHABLE for state in states):
        if any(state is CollectorState.PAUSED for state in states):
            reasons.append(NotDialing("no_collectors_ready", "every collector is paused", False))
        else:
            reasons.append(NotDialing("no_collectors", "no collector is logged in", False))
    return reasons


def _faults(
    runner: RunningCampaign, trunk_problem: str | None, store_problem: str | None
) -> list[NotDialing]:
    holds = runner.engine.holds
    reasons = [NotDialing(code, why, True) for code, why in holds.items()]
    if store_problem is not None and "store_unavailable" not in holds:
        reasons.append(NotDialing("store_unavailable", store_problem, True))
    if trunk_problem is not None and "trunk_down" not in holds:
        reasons.append(NotDialing("trunk_down", f"the trunk is down: {trunk_problem}", True))
    return reasons
