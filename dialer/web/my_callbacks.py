"""A collector's callbacks, as the console lists them and `GET /api/v1/me/callbacks` returns
them: stored in UTC, shown in the debtor's local time with the zone named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dialer.store.cases_repo import CaseRepository
from dialer.store.web_repo import CallbackLine
from dialer.web import collector_ops, local_time
from dialer.web.context import Principal, WebContext


@dataclass(frozen=True, slots=True)
class CallbackView:
    line: CallbackLine
    zone: ZoneInfo

    @property
    def local(self) -> str:
        return local_time.label(self.line.callback_at, self.zone)

    def as_dict(self) -> dict[str, Any]:
        c = self.line
        return {
            "case_id": c.case_id,
            "campaign": c.campaign,
            "display_name": c.display_name_masked,
            "callback_at": c.callback_at.isoformat(),
            **local_time.fields("callback", c.callback_at, self.zone),
            "note": c.note,
        }


async def my_callbacks(ctx: WebContext, who: Principal) -> list[CallbackView]:
    """The collector's callbacks from an hour ago on, soonest first, with their zones."""
    lines = await collector_ops.callbacks(ctx, who)
    zones: dict[int, ZoneInfo] = {}
    async with ctx.sessions() as db:
        cases = CaseRepository(db)
        for line in lines:
            if line.case_id in zones:
                continue
            detail = await cases.get(line.case_id)
            zone = ZoneInfo("UTC")
            if detail is not None:
                zone = local_time.zones_of(ctx, line.campaign, detail.case)[0]
            zones[line.case_id] = zone
    return [CallbackView(line, zones[line.case_id]) for line in lines]
