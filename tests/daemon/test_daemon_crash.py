"""kill -9 during bridged calls, then a restart: the calls the crash cut are closed as
`interrupted` with what was known (answer, bridge), their live answers reach the ledger,
and no interrupted debtor is called again inside the lockout, by the restarted daemon or any
other (the restart runs under another instance name, as after a reboot)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dialer.store.db import create_engine

DAYTIME = 1772553600.0  # 2026-03-03 16:00 UTC: calling hours in every zone of the demo cases
LATER = DAYTIME + 3600.0  # every lease of the killed daemon has expired by then


def _settings(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "{db_url}"}}
web: {{enabled: false}}
collectors: {{count: 8, pause_probability: 0.0, talk: {{dist: lognormal, mean: 300, cv: 0.4}}}}
demo_cases: 400
drain_timeout: 5
logging: {{level: WARNING}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 1.5}}
"""
    )
    return path


def _daemon(config: Path, clock_start: float, duration: float) -> subprocess.Popen[bytes]:
    start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(clock_start))
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", "--config", str(config), "--speed", "20",
         "--clock-start", start, "--duration", str(duration), "--seed", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "DIALER_CONFIG": str(config)},
    )  # fmt: skip


def _query(db: str, sql: str) -> list[tuple[object, ...]]:
    async def read() -> list[tuple[object, ...]]:
        engine = create_engine(db)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _wait(check: object, what: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if proc.poll() is not None:
            pytest.fail(f"the daemon exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_kill_9_mid_call_then_restart(tmp_path: Path, db_url: str) -> None:
    config = _settings(tmp_path, db_url)
    db = db_url
    first = _daemon(config, DAYTIME, 600)

    def bridged_and_open() -> bool:
        try:
            rows = _query(
                db,
                "SELECT count(*) FROM call_attempts WHERE bridged_at IS NOT NULL"
                " AND outcome IS NULL",
            )
        except DBAPIError:  # not migrated yet
            return False
        return int(rows[0][0]) >= 3  # type: ignore[call-overload]

    _wait(bridged_and_open, "three bridged calls", first)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    open_rows = _query(
        db, "SELECT id, case_id, answered_at IS NOT NULL, bridged_at IS NOT NULL, dialed_at"
        " FROM call_attempts WHERE outcome IS NULL",
    )  # fmt: skip
    assert len(open_rows) >= 3
    cut = {int(r[1]) for r in open_rows}  # type: ignore[call-overload]
    answered_open = sum(1 for r in open_rows if r[2])
    ledger_before = _query(db, "SELECT coalesce(sum(live_answers), 0) FROM abandon_ledger")[0][0]
    attempts_before = int(_query(db, "SELECT max(id) FROM call_attempts")[0][0])  # type: ignore[call-overload]

    second = _daemon(config, LATER, 6)
    try:
        _, err = second.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        second.kill()
        pytest.fail("the restarted daemon did not finish")
    assert second.returncode == 0, err.decode()[-2000:]

    closed = _query(
        db, "SELECT case_id, outcome, answered_at IS NOT NULL, bridged_at IS NOT NULL"
        f" FROM call_attempts WHERE id IN ({', '.join(str(r[0]) for r in open_rows)})",
    )  # fmt: skip
    assert {r[1] for r in closed} == {"interrupted"}, "closed as interrupted"
    assert sum(1 for r in closed if r[3]) >= 3, "the bridges written before the crash are kept"
    new = _query(db, f"SELECT case_id FROM call_attempts WHERE id > {attempts_before}")
    assert new, "the restarted daemon dialed"
    redialed = cut & {int(r[0]) for r in new}  # type: ignore[call-overload]
    assert not redialed, f"cases cut by the crash were called again: {sorted(redialed)}"
    ledger_after = _query(
        db,
        "SELECT coalesce(sum(live_answers), 0) FROM abandon_ledger",
    )[0][0]
    new_live = _query(
        db,
        f"SELECT count(*) FROM call_attempts WHERE id > {attempts_before}"
        " AND answered_at IS NOT NULL",
    )[0][0]
    assert ledger_after == ledger_before + answered_open + new_live  # type: ignore[operator]
