"""What the web console and the manager page read and write beyond the core repositories:
users, a case's screen pop (recent contacts, promises, notes), a collector's callbacks and
the audit trail of a subject. Like the other repositories, each wraps a session the caller
owns and returns values, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.cases_repo import CaseRepository
from dialer.store.history_repo import DispositionRepository
from dialer.store.records import CaseDetail, DebtorIdentity, DispositionInfo, DispositionKind
from dialer.store.tables import (
    AuditLog,
    CallAttempt,
    Campaign,
    CaseRow,
    Collector,
    Disposition,
    Team,
    User,
)

ROLES = ("collector", "manager", "admin")


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    password_hash: str
    role: str
    collector_row: int | None  # collectors.id
    collector: str | None  # collectors.username: the collector's id in the engine
    team: str | None
    skills: frozenset[str]
    disabled_at: datetime | None = None  # None: the account may log in
    last_login_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class ContactLine:
    """One past attempt on a case, as a collector may see it (no number)."""

    dialed_at: datetime
    outcome: str | None
    talk_seconds: float | None
    collector: str | None


@dataclass(frozen=True, slots=True)
class CaseScreen:
    """The screen pop: the case, its campaign, its recent contacts and dispositions."""

    detail: CaseDetail
    campaign: str
    contacts: tuple[ContactLine, ...]
    dispositions: tuple[DispositionInfo, ...]
    # The debtor's identity in the clear: set only for the routed collector and managers,
    # after an audited read (dialer.store.identity_repo); None shows the masked forms only.
    identity: DebtorIdentity | None = None

    @property
    def promises(self) -> tuple[DispositionInfo, ...]:
        return tuple(d for d in self.dispositions if d.kind is DispositionKind.PROMISE_TO_PAY)

    @property
    def notes(self) -> tuple[DispositionInfo, ...]:
        return tuple(d for d in self.dispositions if d.note)


@dataclass(frozen=True, slots=True)
class CallbackLine:
    case_id: int
    campaign: str
    display_name_masked: str
    callback_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    subject: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, username: str) -> UserInfo | None:
        rows = await self.session.execute(_user_query().where(User.username == username))
        row = rows.tuples().first()
        return None if row is None else _user_info(*row)

    async def list_all(self) -> list[UserInfo]:
        rows = await self.session.execute(_user_query().order_by(User.username))
        return [_user_info(*row) for row in rows.tuples()]

    async def add(
        self, username: str, password_hash: str, role: str, collector_row: int | None = None
    ) -> int:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if role == "collector" and collector_row is None:
            raise ValueError("a collector account needs a collector")
        user = User(
            username=username, password_hash=password_hash, role=role, collector_id=collector_row
        )
        self.session.add(user)
        await self.session.flush()
        return user.id

    async def set_password(self, username: str, password_hash: str) -> bool:
        user = await self.session.scalar(select(User).where(User.username == username))
        if user is None:
            return False
        user.password_hash = password_hash
        await self.session.flush()
        return True

    async def set_disabled(self, username: str, at: datetime | None) -> bool:
        """Disable the account as of `at` (None: enable it); False when there is none."""
        result = await self.session.execute(
            update(User).where(User.username == username).values(disabled_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_login(self, username: str, at: datetime) -> None:
        await self.session.execute(
            update(User).where(User.username == username).values(last_login_at=at)
        )

    async def delete(self, username: str) -> bool:
        result = await self.session.execute(delete(User).where(User.username == username))
        return bool(getattr(result, "rowcount", 0))


class WebRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def case_screen(self, case_id: int, contacts: int = 10) -> CaseScreen | None:
        detail = await CaseRepository(self.session).get(case_id)
        if detail is None:
            return None
        campaign = await self.session.scalar(
            select(Campaign.name).where(Campaign.id == detail.campaign_id)
        )
        rows = await self.session.execute(
            select(
                CallAttempt.dialed_at,
                CallAttempt.outcome,
                CallAttempt.talk_seconds,
                Collector.username,
            )
            .outerjoin(Collector, Collector.id == CallAttempt.collector_id)
            .where(CallAttempt.case_id == case_id)
            .order_by(CallAttempt.dialed_at.desc(), CallAttempt.id.desc())
            .limit(contacts)
        )
        lines = tuple(ContactLine(*row) for row in rows.tuples())
        dispositions = await DispositionRepository(self.session).for_case(case_id)
        return CaseScreen(detail, campaign or "", lines, tuple(reversed(dispositions)))

    async def campaign_of_case(self, case_id: int) -> str | None:
        name: str | None = await self.session.scalar(
            select(Campaign.name)
            .join(CaseRow, CaseRow.campaign_id == Campaign.id)
            .where(CaseRow.id == case_id)
        )
        return name

    async def callbacks(
        self, collector_row: int, since: datetime, limit: int = 50
    ) -> list[CallbackLine]:
        """The collector's callbacks due at or after `since`, soonest first."""
        rows = await self.session.execute(
            select(
                Disposition.case_id,
                Campaign.name,
                CaseRow.display_name_masked,
                Disposition.callback_at,
                Disposition.note,
            )
            .join(CaseRow, CaseRow.id == Disposition.case_id)
            .join(Campaign, Campaign.id == CaseRow.campaign_id)
            .where(
                Disposition.collector_id == collector_row,
                Disposition.kind == DispositionKind.CALLBACK.value,
                Disposition.callback_at >= since,
            )
            .order_by(Disposition.callback_at, Disposition.id)
            .limit(limit)
        )
        return [
            CallbackLine(case_id, campaign, name, at, note)
            for case_id, campaign, name, at, note in rows.tuples()
            if at is not None
        ]

    async def has_callback(self, collector_row: int, case_id: int) -> bool:
        found = await self.session.scalar(
            select(Disposition.id)
            .where(
                Disposition.collector_id == collector_row,
                Disposition.case_id == case_id,
                Disposition.kind == DispositionKind.CALLBACK.value,
            )
            .limit(1)
        )
        return found is not None

    async def attempt_id(self, call_id: str) -> int | None:
        found: int | None = await self.session.scalar(
            select(CallAttempt.id).where(CallAttempt.call_id == call_id)
        )
        return found

    async def audit(self, subject: str, limit: int = 20) -> list[AuditEntry]:
        rows = await self.session.scalars(
            select(AuditLog)
            .where(AuditLog.subject == subject)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .limit(limit)
        )
        return [AuditEntry(r.at, r.actor, r.action, r.subject, r.old, r.new) for r in rows]


def _user_query() -> Any:
    return (
        select(User, Collector.username, Collector.skills, Team.name)
        .outerjoin(Collector, Collector.id == User.collector_id)
        .outerjoin(Team, Team.id == Collector.team_id)
    )


def _user_info(
    user: User, collector: str | None, skills: list[str] | None, team: str | None
) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        password_hash=user.password_hash,
        role=user.role,
        collector_row=user.collector_id,
        collector=collector,
        team=team,
        skills=frozenset(skills or ()),
        disabled_at=user.disabled_at,
        last_login_at=user.last_login_at,
    )
