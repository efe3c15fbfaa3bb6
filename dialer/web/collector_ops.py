"""What a collector does through the web, shared by the console pages and the JSON API:
their state, going ready (logging in to a campaign first), pausing with a reason, leaving
the campaign, hanging up, and which cases they may open.

Changes go to the campaign's runner as domain events; the engine applies them in order
with everything else, and the events hub reports the resulting state to the console.
A request the collector's current state does not allow is refused with 409 and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dialer.domain.agents import CollectorState
from dialer.domain.events import (
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
)
from dialer.privacy import mask_phone
from dialer.store.identity_repo import MANAGER_VIEW, ROUTED_CALL, IdentityRepository
from dialer.store.web_repo import CallbackLine, CaseScreen, WebRepository
from dialer.web import local_time
from dialer.web.context import Principal, WebContext, WebError
from dialer.web.events_hub import RoutedCall

_S = CollectorState
PAUSABLE = frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP})
READYABLE = frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP})
LEAVABLE = frozenset({_S.READY, _S.PAUSED, _S.WRAP_UP})


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def clock_text(seconds: float) -> str:
    hours, rest = divmod(int(max(0.0, seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True, slots=True)
class CollectorView:
    """A collector's own state, as the console and `GET /api/v1/me` show it."""

    username: str
    collector_id: str
    campaign: str | None
    state: str
    pause_reason: str | None
    since: float | None
    call_id: str | None
    wrap_seconds_left: float | None  # real seconds until the wrap-up ends by itself, if it does
    routed: RoutedCall | None
    campaigns: tuple[str, ...]
    pause_reasons: tuple[str, ...]
    elapsed_seconds: float | None = None  # real seconds in the current state
    note: str | None = None  # why they take no calls (dialer.web.presence), in plain words
    wrap_by_click: bool = True  # wrap-up ends with Ready (else by itself: wrap_up_seconds)

    @property
    def logged_in(self) -> bool:
        return self.state != _S.LOGGED_OUT.value

    @property
    def elapsed_text(self) -> str:
        """The time in the current state, 'm:ss' (or 'h:mm:ss'); the console's script
        counts on from it."""
        return clock_text(self.elapsed_seconds or 0.0)

    @property
    def may_dispose(self) -> bool:
        """The last routed call has ended: its disposition may be recorded."""
        return self.routed is not None and self.routed.ended_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "collector_id": self.collector_id,
            "campaign": self.campaign,
            "state": self.state,
            "pause_reason": self.pause_reason,
            "since": iso(self.since),
            "call_id": self.call_id,
            "wrap_seconds_left": self.wrap_seconds_left,
            "call": None if self.routed is None else _routed_dict(self.routed),
            "campaigns": list(self.campaigns),
            "pause_reasons": list(self.pause_reasons),
            "elapsed_seconds": self.elapsed_seconds,
            "note": self.note,
        }


def _routed_dict(routed: RoutedCall) -> dict[str, Any]:
    return {
        "campaign": routed.campaign,
        "call_id": routed.call_id,
        "case_id": routed.case_id,
        "inbound": routed.inbound,  # case_id None: an unknown caller
        "other_case_ids": list(routed.other_case_ids),
        "caller_masked": routed.caller_masked,
        "bridged_at": iso(routed.bridged_at),
        "ended_at": iso(routed.ended_at),
        "active": routed.ended_at is None,
        "recorded": list(routed.recorded),
    }


def collector_id_of(who: Principal) -> str:
    if who.role != "collector" or who.user.collector is None:
        raise WebError(403, "collectors only")
    return who.user.collector


def view(ctx: WebContext, who: Principal) -> CollectorView:
    collector_id = collector_id_of(who)
    ctx.hub.track(collector_id)
    campaigns = tuple(c.name for c in ctx.dialer.settings.campaigns if c.name in ctx.dialer.runners)
    found = ctx.locate(collector_id)
    campaign = found[0] if found else None
    reasons_from = campaign or (campaigns[0] if campaigns else None)
    reasons = tuple(ctx.campaign_settings(reasons_from).pause_reasons) if reasons_from else ()
    if found is None:
        return CollectorView(
            who.username, collector_id, None, _S.LOGGED_OUT.value, None, None, None, None,
            ctx.hub.routed.get(collector_id), campaigns, reasons,
            note=ctx.presence.note(collector_id, _S.LOGGED_OUT.value, None),
        )  # fmt: skip
    name, collector = found
    engine = ctx.runner(name).engine
    wrap_left = None
    ends_at = engine.wrap_ends_at(collector)  # wrap_up_seconds, or the max_wrap_seconds limit
    if ends_at is not None:
        wrap_left = max(0.0, ctx.dialer.clock.real_seconds(ends_at - ctx.now()))
    elapsed = ctx.dialer.clock.real_seconds(ctx.now() - collector.since)
    state, reason = collector.state.value, collector.pause_reason
    note = ctx.presence.note(collector_id, state, reason, engine.after_call(collector_id))
    return CollectorView(
        who.username,
        collector_id,
        name,
        collector.state.value,
        collector.pause_reason,
        collector.since,
        collector.call_id,
        wrap_left,
        ctx.hub.routed.get(collector_id),
        campaigns,
        reasons,
        elapsed,
        note,
        engine.config.auto_ready_after_wrap is None,
    )


def go_ready(ctx: WebContext, who: Principal, campaign: str | None) -> str:
    """Log in to `campaign` (default: the first) if not logged in anywhere, else be ready
    again after a pause or wrap-up. Returns the campaign."""
    collector_id = collector_id_of(who)
    ctx.hub.track(collector_id)
    found = ctx.locate(collector_id)
    if found is None:
        name = campaign or next(iter(ctx.dialer.runners), None)
        if name is None:
            raise WebError(409, "no campaign is running")
        ctx.campaign_settings(name)
        runner = ctx.runner(name)
        if who.user.collector_row is not None:
            runner.register_collector(collector_id, who.user.collector_row)
        ctx.presence.heard(collector_id, runner)  # they are here: watched from now on
        ctx.presence.forced.pop(collector_id, None)
        runner.push(CollectorLoggedIn(collector_id, who.user.team, who.user.skills))
        return name
    name, collector = found
    if campaign is not None and campaign != name:
        raise WebError(409, f"logged in to campaign {name!r}; leave it first")
    if collector.state not in READYABLE:
        raise WebError(409, f"cannot go ready while {collector.state.value}")
    ctx.presence.heard(collector_id)
    if collector.state is not _S.READY:
        ctx.presence.forced.pop(collector_id, None)
        ctx.runner(name).push(CollectorReady(collector_id))
    return name


def pause(ctx: WebContext, who: Principal, reason: str) -> str:
    collector_id = collector_id_of(who)
    found = ctx.locate(collector_id)
    if found is None:
        raise WebError(409, "not logged in to a campaign")
    name, collector = found
    allowed = ctx.campaign_settings(name).pause_reasons
    if reason not in allowed:
        raise WebError(422, f"pause reason must be one of: {', '.join(allowed)}")
    if collector.state not in PAUSABLE:
        raise WebError(409, f"cannot pause while {collector.state.value}")
    ctx.runner(name).push(CollectorPaused(collector_id, reason))
    return name


def leave(ctx: WebContext, who: Principal) -> str:
    collector_id = collector_id_of(who)
    found = ctx.locate(collector_id)
    if found is None:
        raise WebError(409, "not logged in to a campaign")
    name, collector = found
    if collector.state not in LEAVABLE:
        raise WebError(409, f"cannot leave the campaign while {collector.state.value}")
    ctx.runner(name).push(CollectorLoggedOut(collector_id))
    return name


def leave_quietly(ctx: WebContext, who: Principal) -> None:
    """Logging out of the web: leave the campaign too; a collector with a call in hand
    leaves when that call ends (no wrap-up)."""
    if who.role != "collector" or who.user.collector is None:
        return
    found = ctx.locate(who.user.collector)
    if found is not None:
        ctx.runner(found[0]).push(CollectorLoggedOut(who.user.collector, after_call=True))


async def hang_up(ctx: WebContext, who: Principal) -> str:
    collector_id = collector_id_of(who)
    found = ctx.locate(collector_id)
    if found is None or found[1].state is not _S.ON_CALL or found[1].call_id is None:
        raise WebError(409, "no call to hang up")
    name, collector = found
    assert collector.call_id is not None
    await ctx.runner(name).hang_up(collector.call_id)
    return collector.call_id


async def case_screen(ctx: WebContext, who: Principal, case_id: int) -> CaseScreen:
    """The case, if `who` may see it: a collector the case of the call routed to them or
    of one of their callbacks; a manager the cases of their campaigns.

    The debtor's identity comes in the clear (an audited read) only to the collector while
    the call is theirs (on it, or wrapping it up) and to managers; a callback's case shows
    the masked forms only."""
    reason: str | None = None
    async with ctx.sessions() as db, db.begin():
        repo = WebRepository(db)
        if who.role == "collector":
            collector_id = collector_id_of(who)
            routed = ctx.hub.routed.get(collector_id)
            allowed = routed is not None and routed.case_id == case_id
            if allowed and call_is_theirs(ctx, collector_id, routed):
                reason = ROUTED_CALL
            if not allowed and who.user.collector_row is not None:
                allowed = await repo.has_callback(who.user.collector_row, case_id)
            if not allowed:
                raise WebError(403, "this case was not routed to you")
            screen = await repo.case_screen(case_id)
        else:
            screen = await repo.case_screen(case_id)
            if screen is not None and screen.campaign not in ctx.visible_campaigns(who):
                raise WebError(403, "not one of your campaigns")
            reason = MANAGER_VIEW if who.is_manager else None
        if screen is None:
            raise WebError(404, f"no case {case_id}")
        if reason is not None:
            identity = await IdentityRepository(db).read(
                case_id, actor=who.username, role=who.role, reason=reason, now=ctx.utcnow()
            )
            screen = replace(screen, identity=identity)
    return screen


def call_is_theirs(ctx: WebContext, collector_id: str, routed: RoutedCall | None) -> bool:
    """The routed call is up, or its collector is still wrapping it up."""
    if routed is None:
        return False
    if routed.ended_at is None:
        return True
    found = ctx.locate(collector_id)
    return (
        found is not None
        and found[1].state is _S.WRAP_UP
        and found[1].call_id
        in (
            None,
            routed.call_id,
        )
    )


async def callbacks(ctx: WebContext, who: Principal) -> list[CallbackLine]:
    """The collector's callbacks from an hour ago on, soonest first."""
    if who.user.collector_row is None:
        return []
    since = datetime.fromtimestamp(ctx.now() - 3600, UTC)
    async with ctx.sessions() as db:
        return await WebRepository(db).callbacks(who.user.collector_row, since)


def case_live(ctx: WebContext, case_id: int) -> bool:
    """A call to the case is up now, in any campaign of this daemon."""
    ref = str(case_id)
    return any(
        call.case_ref == ref
        for runner in ctx.dialer.runners.values()
        for call in runner.engine.calls.values()
    )


def case_view(ctx: WebContext, screen: CaseScreen) -> dict[str, Any]:
    """`case_dict` with the debtor's zone and whether a call is up now."""
    zone = local_time.zones_of(ctx, screen.campaign, screen.detail.case)[0]
    return case_dict(screen, zone, live=case_live(ctx, screen.detail.id), now=ctx.utcnow())


def case_dict(
    screen: CaseScreen,
    zone: ZoneInfo | None = None,
    *,
    live: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The screen pop as JSON: the masked name and numbers, and `identity` (the clear name,
    account reference, date of birth, postcode, address) only when the screen carries it
    (`case_screen`: an audited read); numbers stay masked. Times are UTC (`at`) and, with
    the debtor's `zone`, local (`at_local`). An attempt without an outcome is "in
    progress" when it is the newest and a call is `live`."""
    detail, case = screen.detail, screen.detail.case
    zone = zone or ZoneInfo("UTC")

    def local(at: datetime) -> str:
        return local_time.label(at, zone)

    def outcome_label(i: int, outcome: str | None) -> str:
        if outcome is not None:
            return outcome.replace("_", " ")
        return "in progress" if live and i == 0 else "not recorded yet"

    return {
        "id": detail.id,
        "campaign": screen.campaign,
        "display_name": detail.display_name_masked,
        "identity": identity_dict(screen),
        "balance": str(case.balance),
        "currency": detail.currency,
        "days_past_due": case.days_past_due,
        "bucket": detail.bucket.value,
        "status": detail.status.value,
        "flags": sorted(str(flag) for flag in case.flags),
        "numbers": [{"number": mask_phone(n.e164), "type": n.type.value} for n in case.numbers],
        "owner": case.owner,
        "team": case.team,
        "skills": sorted(case.skills),
        "timezone": zone.key,
        "local_now": None if now is None else local(now),
        "contacts": [
            {
                "at": c.dialed_at.isoformat(timespec="seconds"),
                "at_local": local(c.dialed_at),
                "outcome": c.outcome,
                "outcome_label": outcome_label(i, c.outcome),
                "talk_seconds": c.talk_seconds,
                "collector": c.collector,
            }
            for i, c in enumerate(screen.contacts)
        ],
        "promises": [
            {
                "amount": str(p.amount),
                "date": p.promise_date.isoformat() if p.promise_date else None,
                "recorded_at": p.created_at.isoformat(timespec="seconds"),
            }
            for p in screen.promises
        ],
        "notes": [
            {
                "at": n.created_at.isoformat(timespec="seconds"),
                "at_local": local(n.created_at),
                "kind": n.kind.value,
                "note": n.note,
            }
            for n in screen.notes
        ],
    }


def identity_dict(screen: CaseScreen) -> dict[str, str | None] | None:
    who = screen.identity
    if who is None:
        return None
    born = who.date_of_birth.isoformat() if who.date_of_birth is not None else None
    return {
        "name": who.name,
        "account_ref": who.account_ref,
        "date_of_birth": born,
        "postcode": who.postcode,
        "address": who.address,
    }
