"""Settings of case orchestration (the `orchestration:` section of dialer.yaml).

Priority weights, leases, reassignment rules, scheduled jobs, recycle delays, calling
windows and retention. Every value has a working default, so the section may be omitted.
"""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The longest legal abandonment window (US TSR: 30 days); the ledger keeps at least this.
LONGEST_LEDGER_WINDOW_DAYS = 30
MIN_RETENTION_DAYS = 730  # attempt records are kept at least 2 years (CN guideline)
BUCKET_WEIGHTS = {"M0": 0.0, "M1": 10.0, "M2": 8.0, "M3": 6.0, "M4": 4.0, "M5": 3.0}
BUCKET_WEIGHTS |= {"M6": 2.0, "WO": 0.0}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def _crontab(expression: str) -> str:
    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise ValueError(f"bad crontab {expression!r}: {exc}") from None
    return expression


class PriorityWeights(_Strict):
    """Points per component; a case's priority is their sum (see dialer.orchestration.priority)."""

    days_past_due: float = 30.0
    dpd_cap_days: int = Field(default=180, ge=1, description="full DPD points from this many")
    balance: float = 25.0
    balance_cap: float = Field(default=50_000.0, gt=1.0, description="full points (log scale)")
    bucket: dict[str, float] = Field(default_factory=lambda: dict(BUCKET_WEIGHTS))
    callback_due: float = 100.0
    promise_due: float = 40.0
    promise_broken: float = 60.0
    since_contact: float = 15.0
    since_contact_days: float = Field(default=7.0, gt=0.0, description="full points after this")
    best_hour: float = 10.0
    hour_prior_strength: float = Field(
        default=5.0, ge=0.0, description="pseudo-attempts pulling a case's hours to the campaign's"
    )
    history_days: int = Field(default=30, ge=1, le=365)
    min_change: float = Field(
        default=0.5, ge=0.0, description="recomputed priorities that moved less stay unwritten"
    )

    @field_validator("bucket")
    @classmethod
    def _buckets(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(BUCKET_WEIGHTS))
        if unknown:
            raise ValueError(f"unknown buckets: {', '.join(unknown)}")
        return value


class ReassignSettings(_Strict):
    enabled: bool = True
    paused_minutes: float = Field(default=15.0, gt=0.0, description="paused longer: due moves")
    due_horizon_minutes: float = Field(
        default=120.0, ge=0.0, description="a follow-up due within this counts as due"
    )
    rebalance_tolerance: float = Field(
        default=0.2, ge=0.0, le=5.0, description="allowed drift from the team's mean load"
    )
    rebalance_min_cases: int = Field(default=10, ge=1, description="smaller drifts are ignored")
    escalation_team: str | None = Field(
        default=None, description="broken promises go here when the team has no senior"
    )
    max_moves_per_run: int = Field(default=50_000, ge=1)


class RecycleMinutes(_Strict):
    """When a case may be tried again after each outcome (compliance may push it later)."""

    conversation: float = Field(default=1440.0, ge=0.0)
    answered: float = Field(default=240.0, ge=0.0)
    no_answer: float = Field(default=60.0, ge=0.0)
    busy: float = Field(default=30.0, ge=0.0)
    failed: float = Field(default=30.0, ge=0.0)
    machine: float = Field(default=120.0, ge=0.0)
    # They have our message: give them a day to call back before the next try.
    machine_message_left: float = Field(default=1440.0, ge=0.0)
    abandoned: float = Field(default=60.0, ge=0.0)
    media_lost: float = Field(default=60.0, ge=0.0)
    # Never reached the debtor: tried again as soon as the trunk is back (the breaker paces).
    trunk_failed: float = Field(default=0.0, ge=0.0)


class JobSettings(_Strict):
    """When each scheduled job runs: intervals in seconds, crontab lines in `timezone`."""

    timezone: str = "UTC"
    recycle_seconds: float = Field(default=60.0, gt=0.0)
    callbacks_seconds: float = Field(default=30.0, gt=0.0)
    presence_seconds: float = Field(default=60.0, gt=0.0)
    dirty_priorities_seconds: float = Field(default=120.0, gt=0.0)
    lease_sweep_seconds: float = Field(
        default=600.0, gt=0.0, description="tidying only: refills take expired leases over"
    )
    priorities_cron: str = "5 * * * *"
    rebalance_cron: str = "30 2 * * *"
    ledger_expiry_cron: str = "15 3 * * *"
    retention_cron: str = "45 3 * * *"
    recording_expiry_cron: str = "50 3 * * *"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone(value)

    @field_validator(
        "priorities_cron",
        "rebalance_cron",
        "ledger_expiry_cron",
        "retention_cron",
        "recording_expiry_cron",
    )
    @classmethod
    def _cron(cls, value: str) -> str:
        return _crontab(value)


class CallingWindow(_Strict):
    """When a campaign dials at all, in one zone: opened and closed by a job."""

    start: time
    end: time
    timezone: str = "America/New_York"
    days: str = Field(default="mon-sun", description="APScheduler day_of_week, e.g. mon-fri")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        # YAML 1.1 reads an unquoted 9:00 as the base-60 number 540 (and pydantic would
        # make that 00:09 UTC, an aware time no local time compares with).
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1440:
            hours, minutes = divmod(value, 60)
            raise ValueError(
                f"{value} is a number, not a time: quote it, e.g. '{hours:02d}:{minutes:02d}' "
                f"(unquoted, YAML reads {hours}:{minutes:02d} as the base-60 number {value})"
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"{value!r} is a number, not a time: write it quoted, e.g. '09:00'")
        if isinstance(value, str) and re.fullmatch(r"\d:\d\d(:\d\d)?", value.strip()):
            return "0" + value.strip()  # '9:00' means 09:00
        return value

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a time without an offset: the window's zone is its 'timezone'")
        return value

    @model_validator(mode="after")
    def _order(self) -> CallingWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end (windows do not span midnight)")
        try:
            CronTrigger(day_of_week=self.days)
        except ValueError as exc:
            raise ValueError(f"bad days {self.days!r}: {exc}") from None
        return self


class OrchestrationSettings(_Strict):
    enabled: bool = True
    lease_seconds: float = Field(
        default=300.0, ge=10.0, description="a crashed daemon's cases return after this"
    )
    refill_rounds: int = Field(default=3, ge=1, le=20, description="lease rounds per refill")
    priority: PriorityWeights = Field(default_factory=PriorityWeights)
    reassign: ReassignSettings = Field(default_factory=ReassignSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    recycle_minutes: RecycleMinutes = Field(default_factory=RecycleMinutes)
    windows: dict[str, CallingWindow] = Field(
        default_factory=dict, description="campaign name -> calling window"
    )
    retention_days: int = Field(default=MIN_RETENTION_DAYS, ge=MIN_RETENTION_DAYS)
    ledger_keep_days: int = Field(default=LONGEST_LEDGER_WINDOW_DAYS + 1, gt=30)

    @property
    def heartbeat_seconds(self) -> float:
        """Leases are extended this often: three tries before one could expire."""
        return self.lease_seconds / 3.0
