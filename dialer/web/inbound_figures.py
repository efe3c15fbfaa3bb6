"""The manager's inbound figures for a campaign: debtors calling back over the service-level
window, from the store (so every daemon's calls count): offered, answered, abandoned, the
service level against its target, and the median and longest wait of the answered ones."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.engine import window_words
from dialer.settings import InboundSettings
from dialer.store.inbound_repo import InboundRepository


async def inbound_figures(
    db: AsyncSession, campaign_id: int, settings: InboundSettings, now: float
) -> dict[str, Any]:
    window = settings.service_level_window_seconds
    since = datetime.fromtimestamp(now - window, UTC)
    f = await InboundRepository(db).figures(campaign_id, since, settings.service_level_seconds)
    level = f.service_level
    return {
        "window_words": window_words(window),
        "offered": f.offered,
        "answered": f.answered,
        "abandoned": f.abandoned,
        "service_level": level,
        "answer_seconds": settings.service_level_seconds,
        "target": settings.service_level_target,
        "under_target": level is not None and level < settings.service_level_target,
        "median_wait": statistics.median(f.waits) if f.waits else None,
        "longest_wait": max(f.waits) if f.waits else None,
    }
