"""What a manager sees and steers, shared by the manager page and the JSON API: a
campaign's live figures, starting and pausing it, its pacing (mode, target abandon rate,
max lines per collector) applied to the running engine at once and written to the audit
log, the latest pacing decisions and the audit trail.

Pacing changes last until the daemon restarts (the settings file stays the source of
truth); the audit log keeps every change with who made it, when, the old and new values.

Whatever is accepted runs under the engine's abandon-cap guard (dialer.engine.cap_guard),
which no setting switches off. A change whose mode may put more calls in flight than the
ready collectors (ratio above 1, adaptive, predictive) is accepted, and when the budget
cannot cover what it may ask for it is accepted *clamped*: the response says so and why
(`cap_verdict`), and the guard holds it to what the budget absorbs, one call per ready
collector when the budget is spent. A change that breaks the profile outright (a target
above the cap), or a fixed ratio above the max lines per collector (it would not be the
ratio dialed), is refused with 422; a risky one is applied with a warning in plain words
(dialer.web.pacing_checks).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dialer.compliance import check_campaign_config
from dialer.engine import window_words
from dialer.logs import event
from dialer.pacing.base import Pacer
from dialer.pacing.budget import budget_remaining
from dialer.pacing.policies import make_pacer
from dialer.pacing.reserving import ReservingPacer
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.history_repo import AuditRepository
from dialer.store.web_repo import AuditEntry, WebRepository
from dialer.web import pacing_checks
from dialer.web.collector_ops import iso
from dialer.web.context import Pacing, Principal, WebContext, WebError
from dialer.web.facade import CampaignHandle
from dialer.web.inbound_figures import inbound_figures
from dialer.web.pacing_words import plain_reason

log = logging.getLogger(__name__)
COLLECTOR_STATES = ("ready", "reserved", "on_call", "wrap_up", "paused")
CALL_STATES = ("dialing", "ringing", "answered", "bridged", "abandoned")
Mode = Literal["preview", "progressive", "ratio", "adaptive", "predictive"]


class PacingIn(BaseModel):
    """A pacing change: any subset of the settings; the rest stay as they are."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode | None = None
    ratio: float | None = Field(default=None, ge=1.0, le=10.0, allow_inf_nan=False)
    target_abandon_rate: float | None = Field(default=None, gt=0.0, lt=1.0, allow_inf_nan=False)
    max_lines_per_collector: float | None = Field(
        default=None, ge=1.0, le=10.0, allow_inf_nan=False
    )


def current_pacing(ctx: WebContext, name: str) -> Pacing:
    """The pacing in force: the last change made here, else the settings."""
    found = ctx.pacing.get(name)
    if found is not None:
        return found
    p = ctx.campaign_settings(name).pacing
    return Pacing(p.mode, p.ratio, p.target_abandon_rate, p.max_lines_per_collector)


def pacer_target(pacer: Pacer) -> float | None:
    """The abandon rate the running pacer aims at, where it has one."""
    controller = getattr(pacer, "controller", None)
    if controller is not None and isinstance(getattr(controller, "target", None), float):
        return float(controller.target)
    cap = getattr(pacer, "abandon_cap", None)
    return float(cap) if isinstance(cap, int | float) else None


def applied(runner: CampaignHandle) -> dict[str, Any]:
    """What the running engine actually uses."""
    engine = runner.engine
    return {
        "pacer": engine.pacer.name,
        "ratio": getattr(engine.pacer, "ratio", None),
        "target_abandon_rate": pacer_target(engine.pacer),
        "max_lines_per_collector": engine.config.max_lines_per_collector,
        "paused": engine.paused,
    }


def _abandon_terms(ctx: WebContext, name: str, target: float) -> tuple[float, float]:
    rule = ctx.dialer.profiles[name].abandonment
    return (target, 86400.0) if rule is None else (rule.max_rate, float(rule.window_seconds))


async def figures(ctx: WebContext, name: str) -> dict[str, Any]:
    """Live figures of one campaign."""
    runner = ctx.runner(name)
    engine = runner.engine
    now = ctx.now()
    counts = engine.counts()
    stats = engine.stats
    pacing = current_pacing(ctx, name)
    cap, window = _abandon_terms(ctx, name, pacing.target_abandon_rate)
    async with ctx.sessions() as db:
        since = datetime.fromtimestamp(now - window, UTC)
        totals = await LedgerRepository(db).rate(runner.campaign_id, since)
        inbound = await inbound_figures(db, runner.campaign_id, ctx.dialer.settings.inbound, now)
    allowance = cap * totals.live_answers
    return {
        "campaign": name,
        "running": not engine.paused,
        "draining": engine.draining,
        "pacing": pacing.as_dict(),
        "applied": applied(runner),
        "collectors": {state: counts.get(state, 0) for state in COLLECTOR_STATES},
        "calls": {state: counts.get("call_" + state, 0) for state in CALL_STATES},
        "dials": stats.dials,
        "live_answers": stats.live_answers,
        "bridged": stats.bridged,
        "abandoned": stats.abandoned,
        "abandon_rate": stats.abandoned / stats.live_answers if stats.live_answers else 0.0,
        "window": {
            "seconds": window,
            "words": window_words(window),
            "live_answers": totals.live_answers,
            "abandons": totals.abandons,
            "abandon_rate": totals.rate,
            "cap": cap,
            "budget_remaining": budget_remaining(totals.abandons, totals.live_answers, cap),
            "abandons_left": max(0, math.floor(allowance + 1e-9) - totals.abandons),
        },
        "cap_guard": guard_status(runner, now),
        "occupancy": engine.occupancy(now),
        "hopper": engine.hopper_size,
        "hopper_empty_reason": (None if engine.hopper_size else ctx.dialer.hopper_reason(name)),
        "inbound": inbound,  # debtors calling back (dialer.web.inbound_figures)
    }


def guard_status(runner: CampaignHandle, now: float) -> dict[str, Any] | None:
    """The abandon-cap guard's state: clamping or not, budget left, why (None: no guard)."""
    guard = runner.engine.cap_guard
    return None if guard is None else guard.status(now).as_dict()


def overdial_ask(pacing: Pacing, collectors: int) -> int:
    """The most calls beyond the ready collectors the mode may ask for when all
    `collectors` are ready: ratio K ceil(K n) - n, adaptive its ceiling L = 3, predictive
    its line limit; 0 for preview and progressive."""
    if pacing.mode == "ratio":
        return max(0, math.ceil(pacing.ratio * collectors - 1e-9) - collectors)
    if pacing.mode == "adaptive":
        return 2 * collectors
    if pacing.mode == "predictive":
        return max(0, int(pacing.max_lines_per_collector * collectors + 1e-9) - collectors)
    return 0


def cap_verdict(ctx: WebContext, name: str) -> dict[str, Any]:
    """Whether the pacing in force is clamped by the abandon-cap guard, and why."""
    runner = ctx.runner(name)
    engine = runner.engine
    guard = engine.cap_guard
    pacing = current_pacing(ctx, name)
    if guard is None:
        return {"clamped": False, "reason": "this engine runs without the abandon-cap guard"}
    now = ctx.now()
    counts = engine.counts()
    collectors = sum(counts.get(state, 0) for state in ("ready", "reserved", "on_call", "wrap_up"))
    unresolved = counts.get("call_dialing", 0) + counts.get("call_ringing", 0)
    covered = guard.covers(engine.stats, unresolved, now)
    left = guard.abandons_left(now)
    budget = (
        f"the abandon budget ({left:.1f} abandons left under the {guard.cap:.1%} cap over "
        f"{window_words(guard.window_seconds)}) covers {covered} now"
    )
    ask = overdial_ask(pacing, collectors)
    what = f"ratio {pacing.ratio:g}" if pacing.mode == "ratio" else pacing.mode
    if ask == 0:
        if pacing.mode in ("preview", "progressive"):
            reason = f"{what} never dials more calls than ready collectors"
        else:
            reason = f"{what} asks for no call beyond the {_n(collectors, 'collector')} logged in"
        return {"clamped": False, "reason": reason, "covered": covered, "asks": 0}
    if pacing.mode == "predictive":
        clamped = covered == 0
        reason = (
            f"predictive spends the budget itself; the abandon-cap guard backs it: {budget}"
            + ("; until it recovers, one call per ready collector" if clamped else "")
        )
        return {"clamped": clamped, "reason": reason, "covered": covered, "asks": ask}
    clamped = ask > covered
    if clamped:
        holds = (
            f"to {covered} {'call' if covered == 1 else 'calls'} beyond the ready collectors"
            if covered
            else "to one call per ready collector"
        )
        reason = (
            f"{what} may put up to {_n(ask, 'call')} beyond the {_n(collectors, 'collector')} "
            "in flight; "
            f"{budget}: accepted clamped, the abandon-cap guard holds it {holds} while the "
            "budget is short"
        )
    else:
        reason = (
            f"{what} may put up to {_n(ask, 'call')} beyond the {_n(collectors, 'collector')} "
            "in flight; "
            f"{budget}; the abandon-cap guard cuts it if the budget runs short"
        )
    return {"clamped": clamped, "reason": reason, "covered": covered, "asks": ask}


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def decisions(ctx: WebContext, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest pacing decisions, newest first, with their reasons."""
    records = list(ctx.runner(name).engine.decisions)[-limit:]
    out = []
    for r in reversed(records):
        i = r.inputs
        out.append(
            {
                "at": iso(r.at),
                "launch": r.decision.launch,
                "launched": r.launched,
                "reason": r.decision.reason,
                "inputs": {
                    "ready": i.ready,
                    "on_call": i.on_call,
                    "wrap_up": i.wrap_up,
                    "paused": i.paused,
                    "in_flight": i.in_flight,
                    "max_in_flight": i.max_in_flight,
                },
                "detail": plain(r.decision.detail),
            }
        )
        out[-1]["plain"] = plain_reason(out[-1])
    return out


def plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays become numbers and lists, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


async def audit(ctx: WebContext, name: str, limit: int = 20) -> list[AuditEntry]:
    async with ctx.sessions() as db:
        return await WebRepository(db).audit(f"campaign:{name}", limit)


async def set_running(ctx: WebContext, who: Principal, name: str, running: bool) -> bool:
    """Start (True) or pause (False) dialing; live calls go on. Returns the new state."""
    ctx.require_campaign(who, name)
    engine = ctx.runner(name).engine
    old = not engine.paused
    if old != running:
        engine.paused = not running
        await audit_campaign(ctx, who, name, "campaign.run", {"running": old}, {"running": running})
    return running


async def set_pacing(ctx: WebContext, who: Principal, name: str, change: PacingIn) -> Pacing:
    """Apply a pacing change to the running engine, after the profile's checks."""
    settings = ctx.require_campaign(who, name)
    runner = ctx.runner(name)
    old = current_pacing(ctx, name)
    given = change.model_dump(exclude_none=True)
    new = dataclasses.replace(old, **given)
    profile = ctx.dialer.profiles[name]
    refusals = check_campaign_config(
        profile,
        connect_grace=settings.connect_grace,
        ring_timeout=settings.ring_timeout,
        target_abandon_rate=new.target_abandon_rate,
        caller_id=settings.caller_id,
        safe_harbor_message_configured=True,
    )
    refused = pacing_checks.refusal(new)
    if refused is not None:
        refusals.append(refused)
    if refusals:
        raise WebError(422, "; ".join(refusals))
    cap = profile.abandonment.max_rate if profile.abandonment else new.target_abandon_rate
    try:
        _apply(runner, old, new, cap)
    except (ValueError, ImportError) as exc:
        raise WebError(422, f"pacing not changed: {exc}") from None
    guard = runner.engine.cap_guard
    if guard is not None and profile.abandonment is None:
        guard.cap = cap  # no legal cap: the guard holds the campaign's target
    ctx.pacing[name] = new
    ctx.dialer.metrics.abandon_target.labels(name).set(new.target_abandon_rate)
    if new != old:
        await audit_campaign(ctx, who, name, "campaign.pacing", old.as_dict(), new.as_dict())
    return new


def _apply(runner: CampaignHandle, old: Pacing, new: Pacing, cap: float) -> None:
    engine = runner.engine
    pacer = engine.pacer
    if new.spec != old.spec or pacer.name != new.mode:
        abandon_cap = cap if new.mode == "predictive" else new.target_abandon_rate
        options: dict[str, Any] = {}
        if new.mode == "predictive" and engine.config.machine_false_positive_rate:
            # UK Ofcom with AMD: the new budget counts the false positives as the old did.
            options["machine_false_positive_rate"] = engine.config.machine_false_positive_rate
        # A blended campaign keeps what its reservation has learnt, whatever the mode.
        reservation = getattr(pacer, "inbound", None)
        if new.mode == "predictive" and reservation is not None:
            options["inbound"] = reservation
        pacer = make_pacer(new.spec, abandon_cap=abandon_cap, **options)
        if new.mode != "predictive" and reservation is not None:
            pacer = ReservingPacer(pacer, reservation)
    if new.mode == "predictive":
        pacer.configure(
            target_abandon_rate=new.target_abandon_rate,
            max_lines_per_collector=new.max_lines_per_collector,
        )
    elif new.mode == "adaptive":
        rule = pacer.pacer if isinstance(pacer, ReservingPacer) else pacer
        rule.abandon_cap = new.target_abandon_rate  # type: ignore[attr-defined]
    if pacer is not engine.pacer:
        engine.configure_pacer(pacer)
    engine.config = dataclasses.replace(
        engine.config, max_lines_per_collector=new.max_lines_per_collector
    )


async def audit_campaign(
    ctx: WebContext,
    who: Principal,
    name: str,
    action: str,
    old: dict[str, Any],
    new: dict[str, Any],
) -> None:
    """A manager's change to a campaign (its pacing, running, collectors), in the audit log."""
    async with ctx.sessions() as db, db.begin():
        await AuditRepository(db).record(
            who.username, action, f"campaign:{name}", old=old, new=new, at=ctx.utcnow()
        )
    event(log, "web.audit", campaign=name, action=action, user=who.username, old=old, new=new)
