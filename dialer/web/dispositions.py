"""Recording what a call achieved: validation against the case, the campaign and the
compliance profile, then the disposition row and its effect on the case, in one
transaction.

- promise to pay: amount > 0 and <= the balance; date not before the debtor's today and at
  most the campaign's `max_promise_days` ahead. The case becomes `promised` and is not
  dialed again before the day after the promised date.
- callback: a time in the future (a time without zone is the debtor's local time), within
  the profile's calling hours in every zone the debtor may be in; the case is next dialed
  then.
- dispute / cease communication: the case is flagged (and so never dialed again), with an
  audit record.
- refused, wrong party, note: recorded as they are.

Only the collector the call was routed to records it, once the call has ended.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from dialer.compliance import InvalidTimeZoneError, Profile, resolve_zones
from dialer.domain.model import CaseStatus, NumberType
from dialer.logs import event
from dialer.store.cases_repo import CaseRepository
from dialer.store.followup_repo import FollowupRepository
from dialer.store.history_repo import AuditRepository, DispositionRepository
from dialer.store.records import CaseDetail, DispositionKind
from dialer.store.web_repo import WebRepository
from dialer.web.collector_ops import collector_id_of
from dialer.web.context import Principal, WebContext, WebError

log = logging.getLogger(__name__)

MAX_CALLBACK_DAYS = 90
Kind = Literal[
    "promise_to_pay", "callback", "refused", "wrong_party", "dispute", "cease_communication", "note"
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class DispositionIn(BaseModel):
    """A disposition as the collector submits it."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    amount: Decimal | None = Field(
        default=None, gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False
    )
    promise_date: date | None = None
    callback_at: datetime | None = Field(
        default=None, description="ISO time; without a zone it is the debtor's local time"
    )
    note: Note | None = None

    @model_validator(mode="after")
    def _needs(self) -> DispositionIn:
        if self.kind == "promise_to_pay" and (self.amount is None or self.promise_date is None):
            raise ValueError("a promise to pay needs an amount and a date")
        if self.kind == "callback" and self.callback_at is None:
            raise ValueError("a callback needs a time")
        if self.kind == "note" and not self.note:
            raise ValueError("a note needs text")
        return self


def debtor_zones(detail: CaseDetail, profile: Profile) -> tuple[ZoneInfo, ...]:
    """Every zone the debtor may be in (the case's, else the number's, else the profile's)."""
    numbers = detail.case.numbers
    debtor = [n for n in numbers if n.type is NumberType.DEBTOR] or list(numbers)
    e164 = debtor[0].e164 if debtor else ""
    defaults = profile.calling_hours.default_timezones
    try:
        zones = resolve_zones(detail.case.timezone, e164, defaults)
    except InvalidTimeZoneError:
        zones = resolve_zones(None, e164, defaults)
    return zones or tuple(ZoneInfo(z) for z in defaults)


def check_promise(
    data: DispositionIn, detail: CaseDetail, today: date, max_days: int
) -> tuple[Decimal, date]:
    assert data.amount is not None and data.promise_date is not None
    balance = detail.case.balance
    if data.amount > balance:
        raise WebError(422, f"amount must not exceed the balance ({balance} {detail.currency})")
    if data.promise_date < today:
        raise WebError(422, f"promise date must not be in the past (debtor's today: {today})")
    latest = today + timedelta(days=max_days)
    if data.promise_date > latest:
        raise WebError(
            422, f"promise date must be within {max_days} days (by {latest.isoformat()})"
        )
    return data.amount, data.promise_date


def check_callback(
    at: datetime, zones: tuple[ZoneInfo, ...], profile: Profile, now: datetime
) -> datetime:
    """The callback time as aware UTC, if the profile allows a call then."""
    try:
        if at.tzinfo is None or at.utcoffset() is None:
            at = at.replace(tzinfo=zones[0])
        at = at.astimezone(UTC)
    except (OverflowError, ValueError):
        raise WebError(422, "callback time is out of range") from None
    if at <= now:
        raise WebError(422, "callback time must be in the future")
    if at > now + timedelta(days=MAX_CALLBACK_DAYS):
        raise WebError(422, f"callback time must be within {MAX_CALLBACK_DAYS} days")
    hours = profile.calling_hours
    for zone in zones:
        local = at.astimezone(zone)
        if not hours.start <= local.time() < hours.end:
            raise WebError(
                422,
                f"callback at {local:%H:%M} {zone.key} is outside the calling hours "
                f"{hours.start:%H:%M}-{hours.end:%H:%M} of profile {profile.label}",
            )
    return at


async def record(ctx: WebContext, who: Principal, case_id: int, data: DispositionIn) -> int:
    """Validate and store the disposition of the call last routed to `who`; returns its id."""
    collector_id = collector_id_of(who)
    routed = ctx.hub.routed.get(collector_id)
    if routed is None or routed.case_id != case_id:
        raise WebError(403, "this case was not routed to you")
    if routed.ended_at is None:
        raise WebError(409, "record the disposition once the call has ended")
    if ctx.dialer.store_problem is not None:
        raise WebError(503, "the store cannot take writes just now; try again in a moment")
    await ctx.dialer.flush_writes()  # the attempt's own update lands first
    campaign = ctx.campaign_settings(routed.campaign)
    profile = ctx.dialer.profiles[routed.campaign]
    now = ctx.utcnow()
    kind = DispositionKind(data.kind)
    async with ctx.sessions() as db:  # read, validate; then a transaction that only writes
        detail = await CaseRepository(db).get(case_id)
        attempt_id = await WebRepository(db).attempt_id(routed.call_id)
    if detail is None:
        raise WebError(404, f"no case {case_id}")
    zones = debtor_zones(detail, profile)
    amount = promise_date = callback_at = None
    if kind is DispositionKind.PROMISE_TO_PAY:
        today = now.astimezone(zones[0]).date()
        amount, promise_date = check_promise(data, detail, today, campaign.max_promise_days)
    elif kind is DispositionKind.CALLBACK:
        assert data.callback_at is not None
        callback_at = check_callback(data.callback_at, zones, profile, now)
    async with ctx.sessions() as db, db.begin():
        cases = CaseRepository(db)
        disposition_id = await DispositionRepository(db).add(
            case_id,
            kind,
            collector_id=who.user.collector_row,
            attempt_id=attempt_id,
            amount=amount,
            promise_date=promise_date,
            callback_at=callback_at,
            note=data.note or None,
            at=now,
        )
        if promise_date is not None:
            await cases.set_status(case_id, CaseStatus.PROMISED)
            after = datetime.combine(promise_date + timedelta(days=1), time(), zones[0])
            await cases.set_next_attempt(case_id, after.astimezone(UTC))
            await FollowupRepository(db).set(case_id, "promise", after.astimezone(UTC))
        elif callback_at is not None:
            await cases.set_next_attempt(case_id, callback_at)
            await FollowupRepository(db).set(case_id, "callback", callback_at)
        elif kind in (DispositionKind.DISPUTE, DispositionKind.CEASE_COMMUNICATION):
            flag = "disputed" if kind is DispositionKind.DISPUTE else "cease_communication"
            await cases.set_flags(case_id, **{flag: True})
            await AuditRepository(db).record(
                who.username,
                f"case.{flag}",
                f"case:{case_id}",
                old={flag: flag in detail.case.flags},
                new={flag: True},
                at=now,
            )
    routed.recorded.append(kind.value)
    event(
        log,
        "web.disposition",
        campaign=routed.campaign,
        case_id=case_id,
        kind=kind.value,
        user=who.username,
    )
    return disposition_id
