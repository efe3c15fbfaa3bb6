"""Why the collector's campaign is not dialing, for a banner on the console.

Read from the daemon's own health verdict (the one /healthz reports): a manager's pause,
a closed calling window, the daemon stopping, any hold of the engine or the trunk
(store_unavailable, trunk_down, or whatever code a part adds: they are shown as they come,
with their words), and an empty hopper. The reasons about collectors (none logged in,
every one paused) are left out: the collector sees their own state beside it.

`BannerWatch` turns it into stream events: polled by the console's event stream, it sends
the banner when it changes (and once at the start), so the banner appears and goes within
a poll of the manager's click.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialer.web.context import WebContext
from dialer.web.facade import CampaignHealth

ABOUT_COLLECTORS = frozenset({"no_collectors", "no_collectors_ready"})
HEALTH_TTL = 0.25  # seconds one health verdict serves every stream (not one per stream)
_health: dict[int, tuple[float, Mapping[str, CampaignHealth]]] = {}


def health_now(ctx: WebContext) -> Mapping[str, CampaignHealth]:
    """The daemon's health verdict, shared by every stream polling within HEALTH_TTL."""
    key, now = id(ctx.dialer), time.monotonic()
    cached = _health.get(key)
    if cached is None or now - cached[0] >= HEALTH_TTL:
        cached = (now, ctx.dialer.health())
        _health[key] = cached
    return cached[1]


@dataclass(frozen=True, slots=True)
class Banner:
    campaign: str
    reasons: tuple[tuple[str, str, bool], ...]  # (code, plain words, fault)

    @property
    def headline(self) -> str:
        codes = {code for code, _, _ in self.reasons}
        if "paused" in codes:
            return f"Dialing is paused in campaign {self.campaign}"
        if any(fault for _, _, fault in self.reasons):
            return f"Dialing has stopped in campaign {self.campaign}"
        return f"No new calls in campaign {self.campaign} just now"

    @property
    def fault(self) -> bool:
        return any(fault for _, _, fault in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "dialing": False,
            "headline": self.headline,
            "reasons": [{"reason": c, "detail": d, "fault": f} for c, d, f in self.reasons],
        }


def banner_for(ctx: WebContext, campaign: str | None) -> Banner | None:
    """The banner for a collector in `campaign` (None: dialing, or not in a campaign)."""
    if campaign is None:
        return None
    health = health_now(ctx).get(campaign)
    if health is None:
        return None
    reasons = tuple(
        (r.reason, r.detail, r.fault) for r in health.reasons if r.reason not in ABOUT_COLLECTORS
    )
    return Banner(campaign, reasons) if reasons else None


class BannerWatch:
    """Stream events for the banner, only when it changed since the last one sent."""

    def __init__(
        self,
        ctx: WebContext,
        campaign_of: Callable[[], str | None],
        render: Callable[[Banner | None, str | None], str],
        event: str = "campaign",
    ) -> None:
        self.ctx = ctx
        self.campaign_of = campaign_of
        self.render = render
        self.event = event
        self._sent: object = ()  # never equal to a banner or None: the first poll sends

    def __call__(self) -> list[tuple[str, str]]:
        campaign = self.campaign_of()
        banner = banner_for(self.ctx, campaign)
        key = (campaign, banner)
        if key == self._sent:
            return []
        self._sent = key
        return [(self.event, self.render(banner, campaign))]
