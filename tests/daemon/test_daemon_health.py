"""Health tells "dialing" from "not dialing, and why" per campaign, and answers 503 only
when a campaign that should dial cannot (an engine hold such as the store being down, the
trunk down, the hopper's refills failing), never for a pause, a closed window, nobody
logged in or nothing to call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialer.daemon import Daemon
from dialer.daemon.health import assess
from dialer.domain.agents import CollectorState
from dialer.orchestration.settings import CallingWindow
from dialer.settings import load_settings
from dialer.web.facade import CampaignHealth

DAYTIME = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York
WAIT = 30.0


@dataclass
class Collector:
    state: CollectorState


@dataclass
class Engine:
    paused: bool = False
    draining: bool = False
    holds: dict[str, str] = field(default_factory=dict)
    hopper_size: int = 5
    collectors: dict[str, Collector] = field(
        default_factory=lambda: {"a": Collector(CollectorState.READY)}
    )


@dataclass
class Runner:
    engine: Engine = field(default_factory=Engine)


@dataclass
class Hopper:
    reason: str | None = None
    error: str | None = None


def _health(
    engine: Engine | None = None,
    hopper: Hopper | None = None,
    window: CallingWindow | None = None,
    **facts: Any,
) -> CampaignHealth:
    given = {"trunk_problem": None, "store_problem": None, "stopping": False, "now": DAYTIME}
    return assess(
        {"c1": Runner(engine or Engine())},  # type: ignore[dict-item]
        {"c1": hopper or Hopper()},
        {"c1": window} if window else {},
        **(given | facts),
    )["c1"]


def _codes(health: CampaignHealth) -> list[tuple[str, bool]]:
    return [(r.reason, r.fault) for r in health.reasons]


def test_a_campaign_with_collectors_and_cases_is_dialing() -> None:
    health = _health()
    assert health.dialing and not health.fault and health.reasons == ()


def test_meant_pauses_are_not_faults() -> None:
    assert _codes(_health(Engine(paused=True))) == [("paused", False)]
    evening = CallingWindow(start=clock_time(18, 0), end=clock_time(20, 0))  # New York
    closed = _health(Engine(paused=True), window=evening)
    assert _codes(closed) == [("outside_window", False)]
    assert "18:00-20:00" in closed.reasons[0].detail
    assert _codes(_health(stopping=True)) == [("draining", False)]
    nobody = Engine(collectors={"a": Collector(CollectorState.LOGGED_OUT)})
    assert _codes(_health(nobody)) == [("no_collectors", False)]
    paused = Engine(collectors={"a": Collector(CollectorState.PAUSED)})
    assert _codes(_health(paused)) == [("no_collectors_ready", False)]
    assert _codes(_health(Engine(collectors={}))) == [("no_collectors", False)]
    empty = _health(Engine(hopper_size=0), Hopper(reason="not_due"))
    assert _codes(empty) == [("hopper_empty", False)]
    assert "next attempt" in empty.reasons[0].detail
    blocked = _health(Engine(hopper_size=0), Hopper(reason="outside_calling_hours"))
    assert "outside_calling_hours" in blocked.reasons[0].detail
    busy = Engine(collectors={"a": Collector(CollectorState.ON_CALL)})
    assert _health(busy).dialing, "collectors on calls: dialing"
    assert _health(Engine(hopper_size=0), Hopper(reason=None)).dialing, "a refill is on its way"


def test_what_should_dial_and_cannot_is_a_fault() -> None:
    held = _health(Engine(holds={"store_unavailable": "the store cannot take writes (x)"}))
    assert _codes(held) == [("store_unavailable", True)] and held.fault
    assert _codes(_health(store_problem="disk full")) == [("store_unavailable", True)]
    assert _codes(_health(trunk_problem="the carrier does not answer OPTIONS")) == [
        ("trunk_down", True)
    ]
    error = "DBAPIError: value too long for type character varying(64) +12125550123"
    failing = _health(Engine(hopper_size=0), Hopper(reason="refill_failed", error=error))
    assert _codes(failing) == [("hopper_failing", True)]
    assert "value too long" in failing.reasons[0].detail
    assert "+12125550123" not in failing.reasons[0].detail, "debtor data masked"
    both = _health(Engine(paused=True, holds={"store_unavailable": "down"}))
    assert _codes(both) == [("paused", False), ("store_unavailable", True)]


# ----- /healthz on a running daemon ---------------------------------------------------------


def _settings_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "{db_url}", spool_path: "{tmp_path}/spool.jsonl"}}
web: {{port: 0}}
collectors: {{count: 4, pause_probability: 0.0}}
demo_cases: 100
drain_timeout: 2
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: progressive}}
"""
    )
    return path


async def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)  # polling a condition, not timing
    return value


async def _healthz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{daemon.web_port}/healthz")
    return reply.status_code, reply.json()


async def _started(daemon: Daemon, instance: str | None = None) -> asyncio.Task[None]:
    await daemon.prepare()
    if instance is not None:
        daemon.instance = instance  # past check_settings, which prepare() ran
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.wait_ready(), WAIT)

    async def listening() -> bool:
        return daemon.web_port is not None

    await _until(listening, "the web server")
    return task


async def test_healthz_says_dialing_paused_and_held(tmp_path: Path, db_url: str) -> None:
    settings = load_settings(_settings_file(tmp_path, db_url))
    daemon = Daemon(settings, speed=30, clock_start=DAYTIME.timestamp(), seed=2)
    task = await _started(daemon)
    try:
        engine = daemon.runners["c1"].engine

        async def dialing() -> dict[str, Any] | None:
            code, body = await _healthz(daemon)
            return body if code == 200 and body["dialing"]["c1"]["state"] == "dialing" else None

        body = await _until(dialing, "c1 dialing")
        assert body["status"] == "ok" and body["campaigns"] == ["c1"]  # the old fields
        assert body["trunk"] is True and body["store"] is True
        assert body["dialing"]["c1"] == {"state": "dialing", "fault": False, "reasons": []}

        engine.paused = True  # a manager's pause: meant, so still healthy
        code, body = await _healthz(daemon)
        assert code == 200 and body["status"] == "ok"
        assert body["dialing"]["c1"]["state"] == "not dialing"
        assert [r["reason"] for r in body["dialing"]["c1"]["reasons"]] == ["paused"]
        engine.paused = False

        engine.hold("store_unavailable", "the store cannot take writes (test)")
        code, body = await _healthz(daemon)
        assert code == 503 and body["status"] == "degraded"
        assert body["dialing"]["c1"]["fault"] is True
        assert body["dialing"]["c1"]["reasons"] == [
            {
                "reason": "store_unavailable",
                "detail": "the store cannot take writes (test)",
                "fault": True,
            }
        ]
        engine.release("store_unavailable")
        await _until(dialing, "c1 dialing again")
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)


async def test_a_daemon_that_cannot_lease_says_so(tmp_path: Path, db_url: str) -> None:
    """The silent stop of the finding: an owner name longer than cases.lease_owner made
    every refill fail on PostgreSQL while /healthz said ok. Start-up now refuses such a
    name; forced past that check, health reports the failing refills with a 503."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite keeps text of any length in a VARCHAR(64) column")
    settings = load_settings(_settings_file(tmp_path, db_url))
    daemon = Daemon(settings, speed=30, clock_start=DAYTIME.timestamp(), seed=2)
    task = await _started(daemon, instance="d" * 80)
    try:

        async def failing() -> dict[str, Any] | None:
            code, body = await _healthz(daemon)
            return body if code == 503 else None

        body = await _until(failing, "/healthz to answer 503")
        c1 = body["dialing"]["c1"]
        assert c1["state"] == "not dialing" and c1["fault"] is True
        reasons = {r["reason"]: r["detail"] for r in c1["reasons"]}
        assert "hopper_failing" in reasons and "too long" in reasons["hopper_failing"], reasons
        assert daemon.runners["c1"].engine.stats.dials == 0
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)
