"""After a crash: attempts a dead daemon left open are closed as `interrupted`, at start-up
(this instance's own, and any whose case no live daemon holds) and then every
`database.orphan_sweep_seconds` while running (another daemon's, once its leases expire).
See dialer.store.recovery_repo for the rule and docs/compliance.md for why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.logs import event
from dialer.store.recovery_repo import Closed, close_orphans

log = logging.getLogger(__name__)


async def close_all(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    own_instance: str | None = None,
    grace: float = 60.0,
) -> Closed:
    """Close every orphan (in batches); the totals of what was closed."""
    total = Closed()
    while True:
        async with sessions() as session, session.begin():
            closed = await close_orphans(session, now, own_instance=own_instance, grace=grace)
        total = Closed(
            total.attempts + closed.attempts,
            total.live_answers + closed.live_answers,
            total.abandons + closed.abandons,
        )
        if not closed.attempts:
            break
    if total.attempts:
        event(
            log,
            "recovery.closed_interrupted",
            logging.WARNING,
            attempts=total.attempts,
            live_answers=total.live_answers,
            abandons=total.abandons,
        )
    return total


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    now: Callable[[], datetime],
    every: Callable[[], float],
) -> None:
    """Close orphans forever; `every()` is the real-time pause between sweeps. A failed
    sweep (the store is down) is logged and tried again at the next one."""
    while True:
        await asyncio.sleep(every())
        try:
            await close_all(sessions, now())
        except Exception as exc:
            event(log, "recovery.sweep_failed", logging.WARNING, error=str(exc))
