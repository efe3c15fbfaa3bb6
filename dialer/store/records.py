"""Values the repositories take and return, so callers never hold live ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dialer.domain.model import Bucket, Case, CaseStatus, PhoneNumber


class DispositionKind(StrEnum):
    PROMISE_TO_PAY = "promise_to_pay"
    CALLBACK = "callback"
    REFUSED = "refused"
    WRONG_PARTY = "wrong_party"
    DISPUTE = "dispute"
    CEASE_COMMUNICATION = "cease_communication"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: int
    name: str
    pacing_mode: str
    pacing_params: dict[str, Any]
    compliance_profile: str
    calling_window_start: time | None
    calling_window_end: time | None
    caller_id: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class CollectorInfo:
    id: int
    username: str
    display_name: str
    team: str | None
    skills: frozenset[str]
    is_senior: bool
    max_cases: int | None
    active: bool


@dataclass(frozen=True, slots=True)
class NewCase:
    """One case to insert or update, keyed by (campaign, debtor_ref); already validated."""

    debtor_ref: str
    display_name_masked: str
    balance: Decimal
    days_past_due: int
    bucket: Bucket
    numbers: tuple[PhoneNumber, ...]
    currency: str = "USD"
    timezone: str | None = None
    owner_collector_id: int | None = None
    team_id: int | None = None
    skills: tuple[str, ...] = ()
    do_not_call: bool = False
    cease_communication: bool = False
    disputed: bool = False
    # The debtor's identity, sealed at rest (dialer.store.sealed): shown in the clear only
    # to the collector the call is routed to and to managers (dialer.store.identity_repo).
    identity: DebtorIdentity | None = None


@dataclass(frozen=True, slots=True)
class DebtorIdentity:
    """What a collector verifies before discussing the debt ("Am I speaking with ...?")."""

    name: str | None = None
    account_ref: str | None = None
    date_of_birth: date | None = None
    postcode: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    inserted: int
    updated: int


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the store knows about a case; `case` is the core's view of it."""

    id: int
    campaign_id: int
    debtor_ref: str
    display_name_masked: str
    currency: str
    bucket: Bucket
    status: CaseStatus
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    case: Case


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    id: int
    call_id: str
    case_id: int
    campaign_id: int
    number_e164: str
    collector_id: int | None
    dialed_at: datetime
    answered_at: datetime | None
    bridged_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    sip_code: int | None
    abandoned: bool
    ring_seconds: float | None
    talk_seconds: float | None


@dataclass(frozen=True, slots=True)
class DispositionInfo:
    id: int
    case_id: int
    kind: DispositionKind
    collector_id: int | None
    attempt_id: int | None
    amount: Decimal | None
    promise_date: date | None
    callback_at: datetime | None
    note: str | None
    created_at: datetime
