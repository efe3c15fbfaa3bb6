"""The cap in every mode: a manager switches a US TSR campaign (3% of live answers over 30
days) whose ledger is at its budget to ratio 10 through the API. The change is accepted
clamped, with the reason; the daemon's abandon-cap guard holds the pacer to what the
budget absorbs, says so on the manager's page, in the decision record and in the metrics,
and the campaign's 30-day ledger ends under the cap. (Unguarded, ratio 10 on this team
abandons about half its live answers.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from dialer.daemon import Daemon
from dialer.settings import Settings, load_settings
from dialer.store.attempts_repo import LedgerRepository
from dialer.store.org_repo import CampaignRepository
from dialer.web.auth import Passwords
from dialer.web.users import add_user

# A weekday, 11:00 in New York: inside the calling hours of the demo numbers.
CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
PASSWORD = "correct horse battery"
FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
# The store's last 30 days before the run: 2.95% abandoned, one abandon left under 3%.
HISTORY_LIVE, HISTORY_ABANDONS = 2000, 59
CAP = 0.03


def _settings(tmp_path: Path) -> Settings:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{port: 0, session_secret: "test-secret-for-signing"}}
trunk:
  kind: simulated
  simulated:
    answer_probability: 0.5
    machine_probability: 0.0
    answer_delay: {{dist: exponential, mean: 6}}
    failure_delay: {{dist: exponential, mean: 8}}
collectors:
  count: 8
  pause_probability: 0.0
  talk: {{dist: lognormal, mean: 40, cv: 0.5}}
  wrap: {{dist: fixed, value: 3}}
demo_cases: 1500
drain_timeout: 20
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    # ratio 10 needs the line ceiling raised with it (the API refuses it above the ceiling)
    pacing: {{mode: progressive, max_lines_per_collector: 10}}
    managers: [boss]
"""
    )
    return load_settings(path)


async def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Wait for `check()` (or its awaited result) to be truthy, as the event loop turns."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


async def _ledger(daemon: Daemon, campaign_id: int) -> tuple[int, int]:
    since = datetime.fromtimestamp(daemon.clock.now() - 30 * DAY, UTC)
    async with daemon.sessions() as session:
        totals = await LedgerRepository(session).rate(campaign_id, since)
    return totals.live_answers, totals.abandons


async def test_ratio_10_on_a_campaign_at_its_budget_ends_under_the_cap(tmp_path: Path) -> None:
    daemon = Daemon(_settings(tmp_path), speed=40, clock_start=CLOCK_START, seed=5)
    await daemon.prepare()
    await add_user(daemon.sessions, FAST, "boss", PASSWORD, "manager")
    async with daemon.sessions() as session, session.begin():
        row = await CampaignRepository(session).get_by_name("c1")
        assert row is not None
        campaign_id = row.id
        at = datetime.fromtimestamp(CLOCK_START - DAY, UTC)
        await LedgerRepository(session).record(
            campaign_id, at, live_answers=HISTORY_LIVE, abandons=HISTORY_ABANDONS
        )
    task = asyncio.create_task(daemon.run())
    try:
        async with asyncio.timeout(45):
            await daemon.wait_ready()
            port = await until(lambda: daemon.web_port, "the web server")
            engine = daemon.runners["c1"].engine
            guard = engine.cap_guard
            assert guard is not None, "the daemon always installs the guard"
            assert (guard.cap, guard.window_seconds) == (CAP, 30 * DAY)
            await until(
                lambda: guard.totals(daemon.clock.now())[0] >= HISTORY_LIVE,
                "the guard synced with the store's ledger",
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as boss:
                login = await boss.post(
                    "/api/v1/session", json={"username": "boss", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                boss.headers["X-CSRF-Token"] = login.json()["csrf_token"]

                change = await boss.patch(
                    "/api/v1/campaigns/c1/pacing", json={"mode": "ratio", "ratio": 10}
                )
                assert change.status_code == 200, change.text
                body = change.json()
                assert body["applied"]["pacer"] == "ratio" and body["applied"]["ratio"] == 10
                verdict = body["cap_guard"]
                assert verdict["clamped"] is True, verdict
                assert "ratio 10" in verdict["reason"] and "accepted clamped" in verdict["reason"]
                assert verdict["asks"] > verdict["covered"]

                live_at_change = engine.stats.live_answers
                await until(
                    lambda: engine.stats.live_answers >= live_at_change + 80,
                    "80 live answers under ratio 10",
                )
                assert guard.clamps > 0, "the guard cut ratio 10's launches"

                figures = (await boss.get("/api/v1/campaigns/c1")).json()
                shown = figures["cap_guard"]
                assert shown["clamps"] > 0 and shown["cap"] == CAP
                assert shown["window_seconds"] == 30 * DAY
                assert "abandon-cap guard" in shown["sentence"]
                decisions = (await boss.get("/api/v1/campaigns/c1/decisions?limit=20")).json()
                cut = [d for d in decisions if d["reason"].startswith("cap guard: ")]
                assert cut, [d["reason"] for d in decisions]
                assert cut[0]["detail"]["cap_guard"]["pacer_reason"].startswith("ceil(10 x ready)")
                assert cut[0]["launched"] < cut[0]["detail"]["cap_guard"]["pacer_launch"]

                page = await boss.get("/manager/campaigns/c1/panel")
                assert page.status_code == 200
                assert 'data-testid="cap-guard"' in page.text
                assert "abandon-cap guard" in page.text

            registry = daemon.metrics.registry
            await until(
                lambda: (
                    (
                        registry.get_sample_value(
                            "dialer_abandon_guard_clamps_total", {"campaign": "c1"}
                        )
                        or 0
                    )
                    > 0
                ),
                "the clamps counted in the metrics",
            )
            daemon.request_stop()
            await task
    finally:
        if not task.done():
            daemon.request_stop()
            await asyncio.wait_for(task, 30)

    stats = engine.stats
    assert engine.idle and stats.live_answers >= 80
    live, abandons = await _ledger(daemon, campaign_id)
    assert live == HISTORY_LIVE + stats.live_answers, "every call of the run is in the ledger"
    assert abandons == HISTORY_ABANDONS + stats.abandoned
    assert abandons <= CAP * live, f"{abandons} of {live} live answers abandoned: over 3%"
