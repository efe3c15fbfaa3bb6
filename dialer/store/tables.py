"""The case store's tables as SQLAlchemy 2 typed declarative models.

Enumerations (status, bucket, outcome, kind) are stored as short strings checked in Python
and, where a bad value would corrupt dialing decisions, by CHECK constraints; native
database enums would make every new value a migration on PostgreSQL.

Every datetime column is `UTCDateTime`: aware UTC in, aware UTC out, on SQLite as on
PostgreSQL. The migrations in `migrations/versions/` must build this module exactly; a test
compares them with Alembic's autogenerate.

Debtor data is sealed per field (`Sealed`, dialer.store.sealed): the name and identifying
fields, every phone number (with a blind index for lookups). Over 400 lines: one model per
table, in one module, so that the migrations have one thing to match.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from dialer.store.sealed import Sealed

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tables that grow with every call get 64-bit keys on PostgreSQL; SQLite only auto-increments
# an INTEGER PRIMARY KEY (which is 64-bit there anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(14, 2)

CASE_STATUSES = ("open", "promised", "paid", "closed")
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "WO")
ATTEMPT_OUTCOMES = (
    "conversation",
    "answered",
    "no_answer",
    "busy",
    "failed",
    "machine",
    "abandoned",
    "interrupted",
    "media_lost",
    "trunk_failed",
    "machine_message_left",
)
AMD_VERDICTS = ("human", "machine", "notsure")
DISPOSITION_KINDS = (
    "promise_to_pay",
    "callback",
    "refused",
    "wrong_party",
    "dispute",
    "cease_communication",
    "note",
)


# The hopper's ready lane: callable cases with no next attempt pending (the recycle job
# and the hopper move parked cases back once their time comes). A partial index holds
# exactly these by priority, so a refill never walks past parked cases. Leases are not in
# any index: taking or extending one is then a HOT update (no index entry written), which
# keeps a 500-case refill cheap on a large table; the hopper skips the few thousand live
# leases by a row filter. The hopper repeats this text verbatim (SQLite matches
# partial-index terms literally).
READY_PREDICATE = (
    "next_attempt_at IS NULL AND status IN ('open', 'promised')"
    " AND do_not_call = false AND cease_communication = false AND disputed = false"
    " AND debtor_unreachable = false"
)
FOLLOWUP_KINDS = ("callback", "promise", "broken_promise")
# dialer.domain.inbound.InboundOutcome
INBOUND_OUTCOMES = ("answered", "abandoned", "callback_requested", "voicemail_left", "unanswered")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware UTC in Python.

    PostgreSQL keeps the zone (timestamptz); SQLite has no datetime type, so values are
    stored as naive UTC text in one format, which keeps string comparison in WHERE clauses
    equal to time order. Naive datetimes are refused: their zone would be a guess.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Collector(Base):
    __tablename__ = "collectors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_senior: Mapped[bool] = mapped_column(Boolean, default=False)
    max_cases: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    pacing_mode: Mapped[str] = mapped_column(String(32))
    pacing_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    compliance_profile: Mapped[str] = mapped_column(String(64))
    # Overrides of the compliance profile's window, in the debtor's local time; they may
    # only narrow it (the compliance layer enforces that).
    calling_window_start: Mapped[time | None] = mapped_column(Time)
    calling_window_end: Mapped[time | None] = mapped_column(Time)
    caller_id: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("campaign_id", "debtor_ref"),
        # The hopper query: one campaign, callable now, highest priority first.
        Index("ix_cases_hopper", "campaign_id", "priority", "next_attempt_at"),
        # Orchestration (0002): the ready lane by priority, parked cases by due time,
        # follow-ups by due time. (PostgreSQL: fillfactor 85, room for HOT lease updates.)
        Index(
            "ix_cases_ready",
            "campaign_id",
            "priority",
            "id",
            postgresql_where=sql_text(READY_PREDICATE),
            sqlite_where=sql_text(READY_PREDICATE),
        ),
        Index(
            "ix_cases_parked",
            "campaign_id",
            "next_attempt_at",
            postgresql_where=sql_text("next_attempt_at IS NOT NULL"),
            sqlite_where=sql_text("next_attempt_at IS NOT NULL"),
        ),
        Index(
            "ix_cases_followup",
            "campaign_id",
            "followup_at",
            postgresql_where=sql_text("followup_at IS NOT NULL"),
            sqlite_where=sql_text("followup_at IS NOT NULL"),
        ),
        CheckConstraint("balance >= 0", name="balance_non_negative"),
        CheckConstraint("days_past_due >= 0", name="days_past_due_non_negative"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint(_in("bucket", BUCKETS), name="bucket"),
        CheckConstraint(_in("followup_kind", FOLLOWUP_KINDS), name="followup_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    debtor_ref: Mapped[str] = mapped_column(String(64))
    # The masked form, for logs, lists and exports; the clear name is sealed (0007), and
    # null for cases imported before 0007 (their clear name was never stored).
    display_name_masked: Mapped[str] = mapped_column(String(200))
    debtor_name: Mapped[str | None] = mapped_column(Sealed("cases.debtor_name"))
    # What a collector checks before disclosing the debt (right-party verification), sealed.
    account_ref: Mapped[str | None] = mapped_column(Sealed("cases.account_ref"))
    date_of_birth: Mapped[str | None] = mapped_column(Sealed("cases.date_of_birth"))  # ISO
    postcode: Mapped[str | None] = mapped_column(Sealed("cases.postcode"))
    address: Mapped[str | None] = mapped_column(Sealed("cases.address"))
    timezone: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    days_past_due: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="open")
    owner_collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    cease_communication: Mapped[bool] = mapped_column(Boolean, default=False)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    debtor_unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which daemon holds the case in its hopper, until when (several daemons, one database).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A callback or promise follow-up owed on the case, and when (0002): due ones are
    # supplied first; a promise still unpaid at its follow-up is broken.
    followup_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followup_kind: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CaseNumber(Base):
    __tablename__ = "case_numbers"
    __table_args__ = (UniqueConstraint("case_id", "e164_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(Sealed("case_numbers.e164"))  # sealed (0007)
    # HMAC of the number (crypto.blind_index): lookups and de-duplication use this.
    e164_index: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(24))
    consent: Mapped[bool] = mapped_column(Boolean, default=True)
    dnc: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)


class CallAttempt(Base):
    __tablename__ = "call_attempts"
    __table_args__ = (
        Index("ix_call_attempts_case_dialed", "case_id", "dialed_at"),
        Index("ix_call_attempts_campaign_dialed", "campaign_id", "dialed_at"),
        CheckConstraint(_in("outcome", ATTEMPT_OUTCOMES), name="outcome"),
        CheckConstraint(_in("amd", AMD_VERDICTS), name="amd"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No cascade: attempt records must outlive their case (kept >= 2 years).
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number_e164: Mapped[str] = mapped_column(Sealed("call_attempts.number_e164"))  # 0007
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    dialed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bridged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(24))  # null while in flight (0009: 24)
    sip_code: Mapped[int | None] = mapped_column(Integer)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    # Answering-machine detection's verdict and seconds from the answer to it (0009);
    # null when AMD was off.
    amd: Mapped[str | None] = mapped_column(String(8))
    amd_seconds: Mapped[float | None] = mapped_column(Float)


class Disposition(Base):
    __tablename__ = "dispositions"
    __table_args__ = (
        Index("ix_dispositions_case_created", "case_id", "created_at"),
        CheckConstraint(_in("kind", DISPOSITION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # Null for dispositions the system records (a cease letter, an import).
    collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    promise_date: Mapped[date | None] = mapped_column(Date)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_case_moved", "case_id", "moved_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    from_collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    to_collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    reason: Mapped[str] = mapped_column(String(200))
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    moved_by: Mapped[str] = mapped_column(String(100))


class AbandonLedger(Base):
    """Live answers and abandons per campaign, one row per event or per time bucket.

    The abandon rate over a rolling window is one range scan on (campaign_id, at); rows
    older than the longest legal window are deleted by `at`.
    """

    __tablename__ = "abandon_ledger"
    __table_args__ = (Index("ix_abandon_ledger_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    live_answers: Mapped[int] = mapped_column(Integer, default=0)
    abandons: Mapped[int] = mapped_column(Integer, default=0)


class User(Base):
    """A web account. Nothing references it by key: the audit log (`actor`), assignments
    (`moved_by`) and sessions name it by `username`; a collector account's history is its
    collector's (attempts, dispositions), which outlives the account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # 0006: a disabled account cannot log in and its sessions are refused (null: enabled).
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A login to the web console or the API (0004). The cookie carries the session's id,
    signed; only its SHA-256 is stored. A session is good until it expires or is revoked
    (logout, a password change)."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_masked: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessAudit(Base):
    """Every read of a debtor's identity in the clear (0007): who, which case, when, why
    (`routed_call`: the collector the call was routed to; `manager_view`)."""

    __tablename__ = "access_audit"
    __table_args__ = (Index("ix_access_audit_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # No cascade: the record of who read a debtor's data outlives the case.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    reason: Mapped[str] = mapped_column(String(32))


class Recording(Base):
    """One call's recording (0008): where the file is, how big and long, whether it is
    sealed (and by which key), and when the retention job deletes it. The case, campaign
    and collector are copied from the attempt so the recording stays findable (and
    audited plays name the case) after the attempt's own retention."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_campaign_started", "campaign_id", "started_at"),
        Index("ix_recordings_case_started", "case_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL")
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    path: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(BigInteger)
    duration_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class InboundCallRow(Base):
    """A call a debtor (or an unknown caller) made to one of our numbers (0010). Not a
    call attempt: no attempt cap counts it; bridged, it is a conversation for compliance
    (attempts_repo.contact_history reads it). The caller's number is sealed with a blind
    index, like every debtor number."""

    __tablename__ = "inbound_calls"
    __table_args__ = (
        Index("ix_inbound_calls_campaign_arrived", "campaign_id", "arrived_at"),
        Index("ix_inbound_calls_case_bridged", "case_id", "bridged_at"),
        CheckConstraint(_in("outcome", INBOUND_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    # null when the caller withheld their number
    number_e164: Mapped[str | None] = mapped_column(Sealed("inbound_calls.number_e164"))
    number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # No cascade: the record outlives the case, like attempts. Null: an unknown caller.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    other_case_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    collector_id: Mapped[int | None] = mapped_column(
        ForeignKey("collectors.id", ondelete="SET NULL")
    )
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bridged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    wait_seconds: Mapped[float] = mapped_column(Float)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    outcome: Mapped[str] = mapped_column(String(24))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the one booked
    voicemail_path: Mapped[str | None] = mapped_column(String(500))
