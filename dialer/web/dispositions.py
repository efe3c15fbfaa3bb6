"""Recording what a call achieved: validation against the case, the campaign and the
compliance profile, then the disposition row and its effect on the case, in one
transaction.

- promise to pay: amount > 0 and <= the balance; date not before the debtor's today and at
  most the campaign's `max_promise_days` ahead. The case becomes `promised` and is not
  dialed again before the day after the promised date.
- callback: a time in the future (a time without zone is the debtor's local time) at which
  the dialer would be allowed to call the case: the campaign's compliance profile at that
  instant, the call being dispositioned counted (dialer.web.callback_check). A refusal
  names the rule and the next allowed time; the case is next dialed then.
- dispute / cease communication: the case is flagged (and so never dialed again), with an
  audit record.
- refused, wrong party, note: recorded as they are.

Only the collector the call was routed to records it, once the call has ended. A refusal
lists every problem found (DispositionRefused), not only the first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from dialer.compliance import debtor_zones
from dialer.domain.model import CaseStatus
from dialer.logs import event
from dialer.store.cases_repo import CaseRepository
from dialer.store.followup_repo import FollowupRepository
from dialer.store.history_repo import AuditRepository, DispositionRepository
from dialer.store.records import CaseDetail, DispositionKind
from dialer.store.web_repo import WebRepository
from dialer.web import callback_check, local_time
from dialer.web.callback_check import DispositionRefused
from dialer.web.collector_ops import collector_id_of
from dialer.web.context import Principal, WebContext, WebError

log = logging.getLogger(__name__)

Kind = Literal[
    "promise_to_pay", "callback", "refused", "wrong_party", "dispute", "cease_communication", "note"
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


def needs(kind: str | None, given: Mapping[str, Any]) -> list[str]:
    """What a disposition of `kind` lacks among the `given` fields (every one of them)."""
    missing = []
    if kind == "promise_to_pay":
        if given.get("amount") in (None, ""):
            missing.append("a promise to pay needs an amount")
        if given.get("promise_date") in (None, ""):
            missing.append("a promise to pay needs a date")
    elif kind == "callback" and given.get("callback_at") in (None, ""):
        missing.append("a callback needs a time")
    elif kind == "note" and not str(given.get("note") or "").strip():
        missing.append("a note needs text")
    return missing


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
        missing = needs(self.kind, self.model_dump())
        if missing:
            raise ValueError("; ".join(missing))
        return self


def check_promise(
    data: DispositionIn, detail: CaseDetail, today: date, max_days: int
) -> tuple[Decimal, date]:
    """The amount and date, or DispositionRefused with every problem of the two."""
    assert data.amount is not None and data.promise_date is not None
    errors = []
    balance = detail.case.balance
    if data.amount > balance:
        errors.append(f"amount must not exceed the balance ({balance} {detail.currency})")
    if data.promise_date < today:
        errors.append(f"promise date must not be in the past (debtor's today: {today})")
    latest = today + timedelta(days=max_days)
    if data.promise_date > latest:
        errors.append(f"promise date must be within {max_days} days (by {latest.isoformat()})")
    if errors:
        raise DispositionRefused(errors)
    return data.amount, data.promise_date


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded disposition; a callback's time in UTC and the debtor's zone."""

    id: int
    callback_at: datetime | None
    zone: ZoneInfo

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.callback_at is not None:
            body["callback_at"] = self.callback_at.isoformat()
            body |= local_time.fields("callback", self.callback_at, self.zone)
        return body


async def record(ctx: WebContext, who: Principal, case_id: int, data: DispositionIn) -> Recorded:
    """Validate and store the disposition of the call last routed to `who`."""
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
    zone = debtor_zones(detail.case, profile)[0]
    amount = promise_date = callback_at = None
    if kind is DispositionKind.PROMISE_TO_PAY:
        today = now.astimezone(zone).date()
        amount, promise_date = check_promise(data, detail, today, campaign.max_promise_days)
    elif kind is DispositionKind.CALLBACK:
        assert data.callback_at is not None
        # The store lacks the call just made only if its write was lost: count it anyway
        # (a return call has no attempt: its record may not have landed yet).
        current = (
            None
            if attempt_id is not None
            else callback_check.current_call(detail, routed.bridged_at, routed.inbound)
        )
        callback_at, zone = await callback_check.check(
            ctx, detail, profile, data.callback_at, now, current
        )
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
            after = datetime.combine(promise_date + timedelta(days=1), time(), zone)
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
    return Recorded(disposition_id, callback_at, zone)
