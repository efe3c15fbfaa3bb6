"""What a manager does about the collectors of their campaign, shared by the manager page
and the JSON API: the roster (who is logged in, their state and for how long, whether
their console is there) and a forced pause or logout, each written to the campaign's audit
log like a pacing change (who, when, the old and the new state).

A collector with a call in hand (on it, or reserved for one being dialed) is never cut off
from the debtor by a manager's click: the pause or logout waits for the end of that call,
as a collector's own logout always did (the engine's `after_call`); a logout with
`end_call` hangs the call up now and takes them out as it ends (for a call nobody is on).
A forced logout takes the collector out of the campaign, not out of the web: their session
stays (the Accounts page ends sessions). Their console says who did it
(dialer.web.presence `note`).

Refused with a clear 4xx: 403 not the manager's campaign, 404 no such collector in it, 409
already logged out, already paused, or already due to leave when the call ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.events import CollectorLoggedOut, CollectorPaused
from dialer.engine import Engine
from dialer.logs import event
from dialer.web.campaign_ops import audit_campaign
from dialer.web.collector_ops import clock_text, iso
from dialer.web.context import Principal, WebContext, WebError
from dialer.web.facade import CampaignHandle
from dialer.web.presence import MANAGER, Forced

log = logging.getLogger(__name__)
_S = CollectorState
_IN_HAND = frozenset({_S.RESERVED, _S.ON_CALL})
# The states' values, read once: an enum member's `.value` is slow to read 500 times a second.
_PAUSED, _ON_CALL, _RESERVED = _S.PAUSED.value, _S.ON_CALL.value, _S.RESERVED.value


@dataclass(frozen=True, slots=True)
class RosterLine:
    """One logged-in collector as the manager sees them."""

    collector_id: str
    state: str
    pause_reason: str | None
    since: float
    elapsed_seconds: float  # real seconds in the state
    console: str  # "connected", "gone" or "none" (not on the web: a simulated collector)
    silent_seconds: float | None  # real seconds since the console was last heard
    pending: str | None  # "logout" or "pause (reason)" when the call in hand ends
    case_id: int | None = None  # the case of the call in hand (a reference, never a name)
    talk_seconds: float | None = None  # real seconds on the current call
    talk_started_at: float | None = None  # engine seconds
    team: str | None = None

    @property
    def elapsed_text(self) -> str:
        return clock_text(self.elapsed_seconds)

    @property
    def talk_text(self) -> str:
        return clock_text(self.talk_seconds or 0.0)

    @property
    def may_pause(self) -> bool:
        return self.state != _PAUSED and not (self.pending or "").startswith(
            ("logout", f"pause ({MANAGER})")
        )

    @property
    def may_log_out(self) -> bool:
        return self.pending != "logout"

    @property
    def on_call(self) -> bool:
        return self.state == _ON_CALL

    @property
    def call_in_hand(self) -> bool:
        """On a call, or reserved for one being dialed: a pause or logout waits for it."""
        return self.state in (_ON_CALL, _RESERVED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collector": self.collector_id,
            "state": self.state,
            "pause_reason": self.pause_reason,
            "since": iso(self.since),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "console": self.console,
            "console_silent_seconds": (
                None if self.silent_seconds is None else round(self.silent_seconds, 1)
            ),
            "after_call": self.pending,
            "case_id": self.case_id,
            "talk_seconds": None if self.talk_seconds is None else round(self.talk_seconds, 1),
            "team": self.team,
        }


def roster(ctx: WebContext, name: str) -> list[RosterLine]:
    """The campaign's logged-in collectors, by name."""
    engine = ctx.runner(name).engine
    now = ctx.now()
    presence = ctx.presence
    lines = []
    for collector in sorted(engine.collectors.values(), key=lambda c: c.collector_id):
        if collector.state is _S.LOGGED_OUT:
            continue
        cid = collector.collector_id
        connected = presence.connected(cid)
        console = "none" if connected is None else ("connected" if connected else "gone")
        pending = engine.after_call(cid)
        talk = collector.talk_started_at if collector.state is _S.ON_CALL else None
        lines.append(
            RosterLine(
                cid,
                collector.state.value,
                collector.pause_reason,
                collector.since,
                ctx.dialer.clock.real_seconds(now - collector.since),
                console,
                presence.silent_for(cid),
                None if pending is None else _pending_text(pending),
                case_in_hand(engine, collector),
                None if talk is None else ctx.dialer.clock.real_seconds(now - talk),
                talk,
                collector.team,
            )
        )
    return lines


def case_in_hand(engine: Engine, collector: Collector) -> int | None:
    """The case id of the call the collector is on or reserved for, outbound or a return
    call (None: no call, or an unknown caller's)."""
    if collector.call_id is None:
        return None
    call = engine.calls.get(collector.call_id)
    inbound = engine.inbound_calls.get(collector.call_id)
    ref = call.case_ref if call is not None else inbound.case_ref if inbound else None
    return int(ref) if ref is not None and ref.isdigit() else None


def _pending_text(pending: tuple[str, str | None]) -> str:
    action, reason = pending
    return action if reason is None else f"{action} ({reason})"


def _logged_in(ctx: WebContext, who: Principal, name: str, collector_id: str) -> Collector:
    ctx.require_campaign(who, name)
    collector = ctx.runner(name).engine.collectors.get(collector_id)
    if collector is None:
        raise WebError(404, f"no collector {collector_id!r} in campaign {name}")
    if collector.state is _S.LOGGED_OUT:
        raise WebError(409, f"{collector_id} is already logged out of campaign {name}")
    return collector


async def force_pause(
    ctx: WebContext, who: Principal, name: str, collector_id: str
) -> dict[str, Any]:
    """Pause a collector (reason `manager`): now, or when the call in hand ends."""
    collector = _logged_in(ctx, who, name, collector_id)
    runner = ctx.runner(name)
    pending = runner.engine.after_call(collector_id)
    if collector.state is _S.PAUSED:
        raise WebError(409, f"{collector_id} is already paused ({collector.pause_reason})")
    if pending is not None and (pending[0] == "logout" or pending[1] == MANAGER):
        raise WebError(
            409, f"{collector_id} is already due to {_pending_text(pending)} when the call ends"
        )
    when = "after_call" if collector.state in _IN_HAND else "now"
    old = _state_of(collector)
    runner.push(CollectorPaused(collector_id, MANAGER, after_call=True))
    ctx.presence.forced[collector_id] = Forced("pause", who.username, ctx.now(), name)
    new = {"collector": collector_id, "state": "paused", "pause_reason": MANAGER, "when": when}
    await audit_campaign(ctx, who, name, "collector.pause", old, new)
    return {"campaign": name, "collector": collector_id, "requested": "paused", "when": when}


async def force_logout(
    ctx: WebContext, who: Principal, name: str, collector_id: str, *, end_call: bool = False
) -> dict[str, Any]:
    """Take a collector out of the campaign: now, or when the call in hand ends (with
    `end_call`, a call they are on is hung up first)."""
    collector = _logged_in(ctx, who, name, collector_id)
    runner = ctx.runner(name)
    pending = runner.engine.after_call(collector_id)
    call_id = collector.call_id if collector.state is _S.ON_CALL else None
    if pending is not None and pending[0] == "logout" and not (end_call and call_id):
        raise WebError(409, f"{collector_id} is already due to leave when the call ends")
    when = "after_call" if collector.state in _IN_HAND else "now"
    old = _state_of(collector)
    runner.push(CollectorLoggedOut(collector_id, after_call=True))
    ended = await _end_call(runner, call_id) if end_call else None
    ctx.presence.forced[collector_id] = Forced("logout", who.username, ctx.now(), name)
    new = {"collector": collector_id, "state": "logged_out", "when": when, "ended_call": ended}
    await audit_campaign(ctx, who, name, "collector.logout", old, new)
    return {
        "campaign": name,
        "collector": collector_id,
        "requested": "logged_out",
        "when": when,
        "ended_call": ended,
    }


async def _end_call(runner: CampaignHandle, call_id: str | None) -> str | None:
    """Hang up the call; if the trunk fails to, the logout still waits for its end."""
    if call_id is None:
        return None
    try:
        await runner.hang_up(call_id)
    except Exception as exc:
        event(log, "web.hangup_failed", logging.ERROR, call_id=call_id, error=str(exc))
        return None
    return call_id


def _state_of(collector: Collector) -> dict[str, Any]:
    return {
        "collector": collector.collector_id,
        "state": collector.state.value,
        "pause_reason": collector.pause_reason,
    }
