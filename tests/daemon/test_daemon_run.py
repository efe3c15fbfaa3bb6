"""The daemon for a few seconds of accelerated simulated time: the store, the metrics and
the engine agree about every call."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from dialer.daemon import Daemon, StartupError
from dialer.daemon.build import build_pacer
from dialer.daemon.startup import check_campaigns
from dialer.settings import Settings, load_settings
from dialer.store.db import create_engine

# A weekday, 11:00 in New York: inside every profile's calling hours for the demo numbers.
CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()


def _settings(tmp_path: Path, extra: str = "") -> Settings:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{port: 0}}
collectors: {{count: 8, pause_probability: 0.1}}
demo_cases: 300
drain_timeout: 20
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0}}
{extra}"""
    )
    return load_settings(path)


async def _run(daemon: Daemon, seconds: float) -> tuple[str, dict[str, object]]:
    task = asyncio.create_task(daemon.run(seconds))
    await asyncio.wait_for(daemon.wait_ready(), 30)
    async with asyncio.timeout(30):
        while daemon.web_port is None:
            await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{daemon.web_port}"
    async with httpx.AsyncClient(base_url=base) as client:
        health = (await client.get("/healthz")).json()
        # Wait for the first dials to be visible in the exposition, then take it.
        async with asyncio.timeout(30):
            while True:
                metrics = (await client.get("/metrics")).text
                if 'dialer_calls_originated_total{campaign="c1"}' in metrics:
                    break
                await asyncio.sleep(0.1)
    await asyncio.wait_for(task, 120)
    return metrics, health


async def test_daemon_records_every_call_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    daemon = Daemon(settings, speed=40, clock_start=CLOCK_START, seed=3)
    report = await daemon.prepare()
    assert report.demo_loaded == {"c1": 300}
    metrics_text, health = await _run(daemon, 4.0)
    assert health["status"] == "ok"
    assert "dialer_answer_to_bridge_seconds_bucket" in metrics_text

    engine = daemon.runners["c1"].engine
    stats = engine.stats
    assert stats.dials > 20, "the daemon dialed"
    assert stats.bridged > 0, "answered calls reached collectors"
    assert engine.idle, "the drain let every call finish"

    db = create_engine(settings.database.url)
    async with db.connect() as conn:
        rows = (await conn.execute(text("select call_id, outcome from call_attempts"))).all()
        ledger = (
            await conn.execute(text("select sum(live_answers), sum(abandons) from abandon_ledger"))
        ).one()
    await db.dispose()
    call_ids = [r[0] for r in rows]
    assert len(call_ids) == len(set(call_ids)) == stats.dials, "one attempt row per call"
    assert all(r[1] is not None for r in rows), "every attempt has an outcome"

    registry = daemon.metrics.registry
    originated = registry.get_sample_value("dialer_calls_originated_total", {"campaign": "c1"})
    assert originated == stats.dials
    by_outcome = Counter(r[1] for r in rows)
    store_to_metric = {"conversation": "completed", "answered": "completed"}
    metric_counts: Counter[str] = Counter()
    for outcome, n in by_outcome.items():
        metric_counts[store_to_metric.get(outcome, outcome)] += n
    for outcome, n in metric_counts.items():
        value = registry.get_sample_value(
            "dialer_call_outcomes_total", {"campaign": "c1", "outcome": outcome}
        )
        assert value == n, outcome
    assert ledger[0] == stats.live_answers
    assert ledger[1] == stats.abandoned
    abandoned = registry.get_sample_value("dialer_calls_abandoned_total", {"campaign": "c1"})
    assert (abandoned or 0) == stats.abandoned


async def test_unsafe_campaign_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy()
    path = tmp_path / "uk.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/uk.db"}}
campaigns:
  - name: uk1
    compliance_profile: uk_ofcom
"""
    )
    daemon = Daemon(load_settings(path))
    with pytest.raises(StartupError, match=r"uk1: .*caller ID"):
        await daemon.prepare()
    assert settings.campaigns


async def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("campaigns:\n  - name: x\n    compliance_profile: nowhere\n")
    with pytest.raises(StartupError, match=r"x: .*nowhere"):
        await Daemon(load_settings(path)).prepare()


async def test_predictive_campaign_spends_the_profiles_rolling_budget(tmp_path: Path) -> None:
    from dialer.pacing.predictive import PredictivePacer

    settings = _settings(tmp_path).model_copy()
    path = tmp_path / "p.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/p.db"}}
campaigns:
  - name: p1
    compliance_profile: us_tsr_regf
    pacing: {{mode: predictive, target_abandon_rate: 0.02}}
"""
    )
    loaded = load_settings(path)
    profiles = check_campaigns(loaded)
    pacer = build_pacer(loaded.campaigns[0], profiles["p1"])
    assert isinstance(pacer, PredictivePacer)
    assert pacer.abandon_cap == 0.03  # the profile's cap, not the manager's target
    pacer.sync_ledger(1000, 25, CLOCK_START)
    assert pacer.ledger.totals(CLOCK_START + 60) == (1000, 25), "the store's totals count"
    assert pacer.ledger.window_seconds == 30 * 86400
    assert settings.campaigns
