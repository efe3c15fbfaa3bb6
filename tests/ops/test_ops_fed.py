"""The ops metrics are fed by the running daemon, with the values they claim to have: the
abandon rate and budget follow the store's ledger, the hopper says why it is empty, the
database pool and the trunk's limits are read from the real objects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from opskit import daemon_settings, running_daemon, until
from sqlalchemy import text

import dialer.daemon.gauges
from dialer.pacing.budget import budget_remaining
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.db import create_engine

# A weekday, 07:30 UTC: outside 08:00-21:00 in every zone of the demo portfolio (07:30 in
# London, 02:30 in New York, 21:30 in Honolulu).
NIGHT = datetime(2026, 3, 3, 7, 30, tzinfo=UTC).timestamp()


async def test_abandon_gauges_follow_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dialer.daemon.gauges, "LEDGER_REFRESH_INTERVAL", 0.1)
    settings = daemon_settings(tmp_path, pacing="{mode: ratio, ratio: 4.0}")
    async with running_daemon(settings, speed=40) as (daemon, _):
        value = daemon.metrics.registry.get_sample_value
        # A campaign with budget to spend (2000 live answers, no abandon, in the last 30
        # days): the abandon-cap guard lets ratio 4 dial ahead, and drop calls.
        async with daemon.sessions() as session, session.begin():
            at = datetime.fromtimestamp(daemon.clock.now() - 86400, UTC)
            await LedgerRepository(session).record(
                daemon.runners["c1"].campaign_id, at, live_answers=2000
            )
        await daemon.read_ledger()

        async def abandons_seen() -> float | None:
            rate = value("dialer_abandon_rate_ratio", {"campaign": "c1"})
            return rate if rate else None

        await until(abandons_seen, "an abandon in the ledger, read by the refresh loop")
        assert value("dialer_abandon_cap_ratio", {"campaign": "c1"}) == 0.03
        assert value("dialer_abandon_target_ratio", {"campaign": "c1"}) == 0.025
        assert value("dialer_abandon_window_seconds", {"campaign": "c1"}) == 30 * 86400
        ceiling = daemon.settings.database.pool_size + 10  # SQLAlchemy's default overflow
        assert value("dialer_db_pool_max_connections", {}) == ceiling
        assert 0 <= (value("dialer_db_pool_checked_out_connections", {}) or 0) <= ceiling
        assert value("dialer_trunk_calls_per_second_limit", {}) == 0  # simulated: no limit
    # Stopped: one more read sees the final ledger, and must agree with it exactly.
    await daemon.read_ledger()
    db = create_engine(settings.database.url)
    try:
        async with db.connect() as conn:
            live, abandons = (
                await conn.execute(
                    text("select sum(live_answers), sum(abandons) from abandon_ledger")
                )
            ).one()
    finally:
        await db.dispose()
    assert abandons > 0
    rate = value("dialer_abandon_rate_ratio", {"campaign": "c1"})
    assert rate == pytest.approx(abandons / live)
    budget = value("dialer_abandon_budget_remaining_ratio", {"campaign": "c1"})
    assert budget == pytest.approx(budget_remaining(abandons, live, 0.03))


async def test_hopper_says_it_is_empty_because_of_calling_hours(tmp_path: Path) -> None:
    async with running_daemon(daemon_settings(tmp_path), clock_start=NIGHT) as (daemon, _):
        value = daemon.metrics.registry.get_sample_value

        async def reason_set() -> bool:
            labels = {"campaign": "c1", "reason": "outside_calling_hours"}
            return value("dialer_hopper_empty_reason", labels) == 1

        await until(reason_set, "dialer_hopper_empty_reason{reason=outside_calling_hours} 1")
        assert value("dialer_hopper_cases", {"campaign": "c1"}) == 0
        assert value("dialer_calls_originated_total", {"campaign": "c1"}) == 0
        assert value("dialer_hopper_empty_reason", {"campaign": "c1", "reason": "no_cases"}) == 0
