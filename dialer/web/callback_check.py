"""A callback is checked at entry against the case's compliance at that instant.

A callback the dialer would not be allowed to place (outside the calling hours in the
debtor's zone, inside the lockout after the conversation being dispositioned now, over the
attempt cap, ...) is refused with the rule in plain language and the next allowed time, in
the debtor's local time with the zone named. The check is the dialer's own
(`dialer.compliance.callback_decision`): the number the hopper would dial, the case's
history from the store, and the call just made counted even if the store has not got it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dialer.compliance import (
    Profile,
    callback_decision,
    debtor_zones,
    explain,
    format_instant,
    number_to_dial,
)
from dialer.compliance.evaluate import history_span
from dialer.domain.model import ContactOutcome, ContactRecord
from dialer.store.attempts_repo import AttemptRepository
from dialer.store.records import CaseDetail
from dialer.web import local_time
from dialer.web.context import WebContext, WebError

MAX_CALLBACK_DAYS = 90


class DispositionRefused(WebError):
    """A refused disposition: every reason (`errors`) and, for a callback, the next allowed
    time (`extra`, also the API's extra fields)."""

    def __init__(self, errors: Sequence[str], extra: dict[str, Any] | None = None) -> None:
        super().__init__(422, "; ".join(errors))
        self.errors = list(errors)
        self.extra = extra or {}


async def history_for(
    ctx: WebContext,
    detail: CaseDetail,
    profile: Profile,
    at: datetime,
    current: ContactRecord | None,
) -> list[ContactRecord]:
    """The case's attempts any rule could count at `at`, plus `current` (the call being
    dispositioned) when the store does not hold it yet."""
    async with ctx.sessions() as db:
        stored = await AttemptRepository(db).history(detail.id, at - history_span(profile))
    records = list(stored)
    if current is not None:
        records.append(current)
    return records


def current_call(detail: CaseDetail, bridged_at: float, inbound: bool = False) -> ContactRecord:
    """The call just made, as the store will record it: a conversation (it was bridged);
    on a debtor's return call an inbound one, which no attempt cap counts."""
    number = number_to_dial(detail.case)
    e164 = number.e164 if number is not None else ""
    at = datetime.fromtimestamp(bridged_at, UTC)
    return ContactRecord(at, e164, ContactOutcome.CONVERSATION, inbound=inbound)


async def check(
    ctx: WebContext,
    detail: CaseDetail,
    profile: Profile,
    requested: datetime,
    now: datetime,
    current: ContactRecord | None,
) -> tuple[datetime, ZoneInfo]:
    """The callback time as aware UTC and the debtor's zone, if the dialer may call then;
    else DispositionRefused naming the rule and the next allowed time."""
    zone = debtor_zones(detail.case, profile)[0]
    at = local_time.to_utc(requested, zone)
    if at <= now:
        local_now = local_time.label(now, zone)
        raise DispositionRefused(
            [f"callback time must be in the future (debtor's time now: {local_now})"]
        )
    latest = now + timedelta(days=MAX_CALLBACK_DAYS)
    if at > latest:
        raise DispositionRefused([f"callback time must be within {MAX_CALLBACK_DAYS} days"])
    history = await history_for(ctx, detail, profile, at, current)
    decision = callback_decision(profile, detail.case, history, at)
    if decision.allowed:
        return at, zone
    rules = "; ".join(explain(reason, profile) for reason in decision.reasons)
    message = f"no call is allowed at {local_time.label(at, zone)}: {rules}"
    nxt = decision.next_allowed_at
    extra: dict[str, Any] = {"reasons": list(decision.reasons), "timezone": zone.key}
    if nxt is not None and nxt <= latest:
        message += f". Next allowed time: {local_time.label(nxt, zone)}"
        extra |= {
            "next_allowed_at": format_instant(nxt),
            "next_allowed_local": local_time.label(nxt, zone),
            "next_allowed_input": local_time.input_value(nxt, zone),
        }
    else:
        message += f". No time in the next {MAX_CALLBACK_DAYS} days is allowed"
        extra |= {"next_allowed_at": None, "next_allowed_local": None}
    raise DispositionRefused([message], extra)
