"""The daemon with AMD on and a voicemail drop configured, on the simulated trunk (whose
machines AMD calls machines): no machine reaches a collector, each gets the message (the
simulated trunk plays it in a greeting's and a message's time) and is stored as a message
left, or as a machine when the drain cut it short, and no call is left holding a line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from dialer.daemon import Daemon
from dialer.settings import load_settings
from dialer.store.db import create_engine

CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()  # 11:00 in New York


def _config(tmp_path: Path, profile: str, amd: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{enabled: false}}
trunk:
  simulated: {{answer_probability: 0.3, machine_probability: 0.6}}
collectors: {{count: 6, pause_probability: 0.0}}
demo_cases: 300
drain_timeout: 20
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: {profile}
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0}}
    amd:
{amd}
"""
    )
    return path


DROP = """      enabled: true
      on_machine: voicemail_drop
      voicemail:
        message_file: {message}
        message_text: >-
          Hello, this message is for {consumer_name}. This is {collector_name}.
          Please call me back at 1-800-555-0100."""


async def test_machines_never_reach_collectors_and_no_drop_is_left_hanging(
    tmp_path: Path,
) -> None:
    message = tmp_path / "drop.pcmu"
    message.write_bytes(b"\x7f" * 8000)  # a second of μ-law: the simulated trunk plays none
    drop = DROP.replace("{message}", str(message))
    settings = load_settings(_config(tmp_path, "us_tsr_regf", drop))
    daemon = Daemon(settings, speed=40, clock_start=CLOCK_START, seed=5)
    await daemon.prepare()
    await asyncio.wait_for(daemon.run(4.0), 120)
    engine = daemon.runners["c1"].engine
    assert engine.config.on_machine == "voicemail_drop"
    assert engine.stats.machine_verdicts > 3, "the simulated carrier's machines were seen"
    assert engine.idle, "no machine's call was left holding a line"
    db = create_engine(settings.database.url)
    async with db.connect() as conn:
        rows = (
            await conn.execute(text("select outcome, bridged_at, collector_id from call_attempts"))
        ).all()
    await db.dispose()
    machines = [r for r in rows if r[0] in ("machine", "machine_message_left")]
    assert len(machines) == engine.stats.machine_verdicts
    assert all(r[1] is None and r[2] is None for r in machines), "never bridged"
    assert [r for r in rows if r[0] == "machine_message_left"], "messages were left"


async def test_uk_budget_counts_every_machine_answer_in_the_store(tmp_path: Path) -> None:
    """After a sync with the store, the guard's estimate is the rate x the machine answers
    the store holds for the window (every daemon's), not only this run's verdicts."""
    amd = "      enabled: true\n      on_machine: hangup"
    settings = load_settings(_config(tmp_path, "uk_ofcom", amd))
    daemon = Daemon(settings, speed=40, clock_start=CLOCK_START, seed=6)
    await daemon.prepare()
    await asyncio.wait_for(daemon.run(3.0), 120)
    engine = daemon.runners["c1"].engine
    assert engine.config.machine_false_positive_rate == 0.05
    guard = engine.cap_guard
    assert guard is not None
    db = create_engine(settings.database.url)
    async with db.connect() as conn:
        stored = (
            await conn.execute(text("select count(*) from call_attempts where outcome = 'machine'"))
        ).scalar_one()
        # Another daemon's machine answers, an hour ago: in the 24 h window.
        await conn.execute(
            text(
                "insert into call_attempts (case_id, campaign_id, number_e164, call_id,"
                " dialed_at, ended_at, outcome, abandoned) select case_id, campaign_id,"
                " number_e164, call_id || '-other', :at, :at, 'machine', false"
                " from call_attempts where outcome = 'machine'"
            ),
            {"at": datetime.fromtimestamp(daemon.clock.now() - 3600, UTC)},
        )
        await conn.commit()
    await db.dispose()
    assert stored == engine.stats.machine_verdicts > 3
    await daemon.read_ledger()
    now = daemon.clock.now()
    assert guard.ledger.machine_verdicts(now) == 2 * stored
    assert guard.ledger.false_positives(now) == pytest.approx(0.05 * 2 * stored)
    assert guard.status(now).false_positives == pytest.approx(0.1 * stored)
