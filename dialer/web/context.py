"""What every web module shares: the dialer (its facade, dialer.web.facade), the events
hub, templates, the session signer, and the request dependencies that say who is asking
(and refuse who may not)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.domain.agents import Collector, CollectorState
from dialer.logs import event
from dialer.settings import CampaignSettings
from dialer.store.session_repo import SessionRepository
from dialer.store.web_repo import UserInfo, UserRepository
from dialer.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Passwords,
    Session,
    SessionSigner,
    csrf_ok,
    fingerprint,
)
from dialer.web.day_tally import campaign_zone, day_span
from dialer.web.events_hub import EventsHub
from dialer.web.facade import CampaignHandle, DialerFacade
from dialer.web.presence import Presence
from dialer.web.session_secret import session_secret
from dialer.web.throttle import LoginThrottles
from dialer.web.timed_cache import TimedCache
from dialer.web.wallboard_series import FloorSampler

if TYPE_CHECKING:  # annotations only: dialer.web.wallboard imports this module
    from dialer.web.wallboard import Board

log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
MANAGER_ROLES = frozenset({"manager", "admin"})
# A session's last-seen time is written at most this often (not a write per request).
SESSION_TOUCH_EVERY = timedelta(minutes=1)


def wall_clock() -> datetime:
    """Real time, for sessions: they last real hours even when the dialer's clock is
    simulated (a sped-up or shifted demo run)."""
    return datetime.now(UTC)


class WebError(Exception):
    """A refusal with an HTTP status and a reason fit to show (no debtor data in it)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LoginRequired(WebError):
    def __init__(self) -> None:
        super().__init__(401, "log in first")


@dataclass(frozen=True, slots=True)
class Principal:
    user: UserInfo
    session: Session

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_manager(self) -> bool:
        return self.user.role in MANAGER_ROLES


@dataclass(frozen=True, slots=True)
class Pacing:
    """A campaign's pacing settings as a manager sets them."""

    mode: str
    ratio: float
    target_abandon_rate: float
    max_lines_per_collector: float

    @property
    def spec(self) -> str:
        return f"ratio:{self.ratio:g}" if self.mode == "ratio" else self.mode

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class WebContext:
    dialer: DialerFacade
    hub: EventsHub
    templates: Jinja2Templates
    signer: SessionSigner
    presence: Presence  # whose console is there (dialer.web.presence)
    floor: FloorSampler  # the wallboard's series and day tallies (dialer.web.wallboard_series)
    passwords: Passwords = field(default_factory=Passwords)
    throttle: LoginThrottles = field(default_factory=LoginThrottles)
    pacing: dict[str, Pacing] = field(default_factory=dict)  # changed at run time
    wall: Callable[[], datetime] = wall_clock  # sessions' clock
    # The wallboard's daily figures per campaign (dialer.web.floor_figures).
    floor_cache: TimedCache[dict[str, Any]] = field(default_factory=lambda: TimedCache(5.0))
    # Each campaign's latest wallboard, shared by every open wallboard (dialer.web.wallboard).
    boards: TimedCache[Board] = field(default_factory=lambda: TimedCache(0.9))

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.dialer.sessions

    def now(self) -> float:
        return self.dialer.clock.now()

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.dialer.clock.now(), UTC)

    def campaign_settings(self, name: str) -> CampaignSettings:
        for campaign in self.dialer.settings.campaigns:
            if campaign.name == name:
                return campaign
        raise WebError(404, f"no campaign named {name!r}")

    def runner(self, name: str) -> CampaignHandle:
        runner = self.dialer.runners.get(name)
        if runner is None:
            raise WebError(404, f"no running campaign named {name!r}")
        return runner

    def locate(self, collector_id: str) -> tuple[str, Collector] | None:
        """The campaign a collector is logged in to, and their state there."""
        for name, runner in self.dialer.runners.items():
            collector = runner.engine.collectors.get(collector_id)
            if collector is not None and collector.state is not CollectorState.LOGGED_OUT:
                return name, collector
        return None

    def visible_campaigns(self, principal: Principal) -> list[str]:
        """Campaigns a manager sees (all for an admin; none for a collector)."""
        if not principal.is_manager:
            return []
        return [
            c.name
            for c in self.dialer.settings.campaigns
            if c.name in self.dialer.runners
            and (principal.role == "admin" or not c.managers or principal.username in c.managers)
        ]

    def require_campaign(self, principal: Principal, name: str) -> CampaignSettings:
        if not principal.is_manager:
            raise WebError(403, "managers only")
        settings = self.campaign_settings(name)
        if name not in self.visible_campaigns(principal):
            if name not in self.dialer.runners:
                raise WebError(404, f"no running campaign named {name!r}")
            raise WebError(403, "not one of your campaigns")
        return settings


def new_context(dialer: DialerFacade) -> WebContext:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    web = dialer.settings.web
    secret = session_secret(web.session_secret, web.session_secret_file)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(), enable_async=False
    )
    templates = Jinja2Templates(env=env)
    context = WebContext(
        dialer=dialer,
        hub=EventsHub(lambda _cid: None),
        templates=templates,
        signer=SessionSigner(secret, web.session_max_age),
        presence=Presence(dialer, web.presence_timeout_seconds),
        floor=FloorSampler(
            dialer.clock.now,
            lambda name, now: _campaign_day(dialer, name, now),
            every=web.wallboard_sample_seconds,
            keep_seconds=web.wallboard_history_hours * 3600.0,
        ),
        throttle=LoginThrottles.from_settings(web.login_throttle),
    )
    context.hub = EventsHub(context.locate, dialer.inbound_pop, dialer.clock.now)
    return context


def _campaign_day(dialer: DialerFacade, name: str, now: float) -> date:
    return day_span(campaign_zone(dialer.settings, name), now).day


def context_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


async def principal_or_none(request: Request) -> Principal | None:
    """Who the session cookie names; None for no cookie, a bad signature, a session the
    store does not know, has revoked (logout, password change) or saw expire, or an
    account that is gone or disabled."""
    ctx = context_of(request)
    session = ctx.signer.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    now = ctx.wall()
    async with ctx.sessions() as db:
        stored = await SessionRepository(db).active(session.id, now)
        if stored is None:
            return None
        user = await UserRepository(db).get(stored.username)
        if user is None or fingerprint(user.password_hash) != session.fingerprint:
            return None
        if not user.enabled:
            return None
        if now - stored.last_seen_at >= SESSION_TOUCH_EVERY:
            try:
                await SessionRepository(db).touch(session.id, now)
                await db.commit()
            except SQLAlchemyError as exc:  # a busy store must not refuse the request
                await db.rollback()
                event(log, "web.session_touch_failed", logging.DEBUG, error=type(exc).__name__)
    return Principal(user, session)


async def principal(request: Request) -> Principal:
    found = await principal_or_none(request)
    if found is None:
        raise LoginRequired()
    return found


async def collector(request: Request) -> Principal:
    found = await principal(request)
    if found.role != "collector" or found.user.collector is None:
        raise WebError(403, "collectors only")
    return found


async def manager(request: Request) -> Principal:
    found = await principal(request)
    if not found.is_manager:
        raise WebError(403, "managers only")
    return found


async def admin(request: Request) -> Principal:
    found = await principal(request)
    if found.role != "admin":
        raise WebError(403, "admins only")
    return found


async def check_csrf(request: Request, who: Principal) -> None:
    """Refuse a state-changing request without the session's CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_ok(who.session, given):
        raise WebError(403, "missing or wrong CSRF token; reload the page")


async def form_fields(request: Request) -> dict[str, Any]:
    """The submitted form as plain strings (files are refused)."""
    form = await request.form()
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise WebError(400, f"field {key!r}: files are not accepted")
        fields[key] = value
    return fields
