"""Two `dialer run` processes on one store at --speed 30, the simulated carrier: no case is
ever on two calls at once (no two attempts of a case whose [dialed_at, ended_at] overlap),
and no case is called within 7 days after a conversation on it (Reg F 1006.14(b)(2)),
all in the daemons' one clock.

Before the one-clock change the lease heartbeat ran on the wall clock while the leases were
stamped on the daemon's: at --speed 30 a lease lapsed long before its heartbeat, the other
daemon leased the case while it still sat in the first one's hopper, and both dialed it
(this test found 11 overlapping attempts and 9 lockout breaches then). A small portfolio
with short recycle delays keeps the two daemons competing for the same cases all along.
Both daemons get the same --clock-start and --clock-anchor, so their clocks agree although
they start seconds apart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dialer.store.db import create_engine, migrate

DAYTIME = 1772553600.0  # 2026-03-03 16:00 UTC: calling hours in every zone of the demo cases
SPEED = 30
ATTEMPTS_EACH = 60  # attempts each daemon places before both are stopped
LOCKOUT = timedelta(days=7)
CONVERSATIONS = ("conversation", "interrupted")  # ContactOutcome.counts_as_conversation
WAIT = 90.0


def _settings(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "dialer.yaml"
    # lease_seconds 120: 4 s of real time at speed 30, so a heartbeat on the wrong clock
    # (every 40 s of it in real time) lets leases lapse within seconds.
    path.write_text(
        f"""
database: {{url: "{db_url}", spool_path: "{tmp_path}/spool.jsonl"}}
web: {{enabled: false}}
collectors: {{count: 8, pause_probability: 0.0}}
demo_cases: 150
drain_timeout: 5
logging: {{level: WARNING}}
orchestration:
  lease_seconds: 120
  recycle_minutes: {{no_answer: 3, busy: 3, failed: 3, machine: 3, answered: 3}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    pacing: {{mode: ratio, ratio: 2.0}}
"""
    )
    return path


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(at))


def _daemon(
    config: Path, name: str, seed: int, anchor: float, log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", "--config", str(config),
         "--speed", str(SPEED), "--clock-start", _iso(DAYTIME), "--clock-anchor", _iso(anchor),
         "--seed", str(seed)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "DIALER_CONFIG": str(config), "DIALER_INSTANCE_ID": name},
    )  # fmt: skip


def _rows(db: str, sql: str) -> list[tuple[object, ...]]:
    async def read() -> list[tuple[object, ...]]:
        engine = create_engine(db)
        try:
            async with engine.connect() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _per_daemon(db: str) -> Counter[str]:
    """Attempts by the daemon that placed them (a call id is campaign.<run>.<n>)."""
    try:
        ids = _rows(db, "SELECT call_id FROM call_attempts")
    except DBAPIError:  # not migrated yet
        return Counter()
    return Counter(str(row[0]).split(".")[1] for row in ids)


def _wait(check: object, what: str, procs: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():  # type: ignore[operator]
        for proc, log in zip(procs, logs, strict=False):  # those started so far
            if proc.poll() is not None:
                pytest.fail(f"a daemon exited ({proc.returncode}) before {what}: {log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling the store, not timing


def overlaps(attempts: Sequence[tuple[int, datetime, datetime | None]]) -> list[tuple[int, int]]:
    """Pairs (case, attempt index) whose [dialed_at, ended_at] intersect another attempt's."""
    by_case: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for case_id, dialed, ended in attempts:
        by_case[case_id].append((dialed, ended or datetime.max.replace(tzinfo=dialed.tzinfo)))
    found: list[tuple[int, int]] = []
    for case_id, spans in by_case.items():
        spans.sort()
        for i in range(1, len(spans)):
            if spans[i][0] < max(end for _, end in spans[:i]):
                found.append((case_id, i))
    return found


def lockout_breaches(
    attempts: Sequence[tuple[int, datetime, datetime | None, str | None]],
) -> int:
    """Attempts dialed within 7 days after a conversation on the same case."""
    by_case: dict[int, list[tuple[datetime, datetime | None, str | None]]] = defaultdict(list)
    for case_id, dialed, ended, outcome in attempts:
        by_case[case_id].append((dialed, ended, outcome))
    breaches = 0
    for spans in by_case.values():
        for dialed, ended, outcome in spans:
            if outcome not in CONVERSATIONS:
                continue
            breaches += sum(
                1 for other, _, _ in spans if dialed < other < (ended or dialed) + LOCKOUT
            )
    return breaches


def test_the_checks_see_what_they_count() -> None:
    t = datetime(2026, 3, 3, 16, 0).astimezone()
    m = timedelta(minutes=1)
    assert overlaps([(1, t, t + m), (1, t + 2 * m, t + 3 * m), (2, t, t + m)]) == []
    assert overlaps([(1, t, t + 3 * m), (1, t + m, t + 2 * m)]) == [(1, 1)]
    assert overlaps([(1, t, None), (1, t + m, t + 2 * m)]) == [(1, 1)], "open: up to now"
    conv = [(1, t, t + m, "conversation"), (1, t + 2 * m, t + 3 * m, "no_answer")]
    assert lockout_breaches(conv) == 1
    assert lockout_breaches([(1, t, t + m, "no_answer"), (1, t + 2 * m, None, "busy")]) == 0
    assert lockout_breaches([(1, t, t + m, "conversation"), (1, t + LOCKOUT * 2, None, None)]) == 0


def test_two_daemons_at_speed_30_never_dial_a_case_twice(tmp_path: Path, db_url: str) -> None:
    config = _settings(tmp_path, db_url)
    asyncio.run(migrate(db_url))  # once, before two daemons race to migrate
    anchor = time.time()
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = _daemon(config, "daemon-a", 1, anchor, logs[0])
    procs = [first]
    try:
        # The second starts once the first has loaded the demo portfolio and dials.
        _wait(lambda: sum(_per_daemon(db_url).values()) > 0, "the first daemon dials", procs, logs)
        procs.append(_daemon(config, "daemon-b", 2, anchor, logs[1]))

        def both_dialed_enough() -> bool:
            counts = _per_daemon(db_url)
            return len(counts) == 2 and min(counts.values()) >= ATTEMPTS_EACH

        _wait(both_dialed_enough, f"{ATTEMPTS_EACH} attempts by each daemon", procs, logs)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log.read_text()[-2000:]

    rows = _rows(db_url, "SELECT case_id, dialed_at, ended_at, outcome FROM call_attempts")
    attempts: list[tuple[int, datetime, datetime | None, str | None]] = [
        (int(str(r[0])), _at(r[1]), _maybe(r[2]), _text(r[3])) for r in rows
    ]
    assert len(attempts) >= 2 * ATTEMPTS_EACH
    assert all(ended is not None for _, _, ended, _ in attempts), "a clean stop closes every call"
    conversations = sum(1 for *_, outcome in attempts if outcome in CONVERSATIONS)
    assert conversations > 0, "some calls reached a debtor: the lockout check has work"
    assert overlaps([(c, d, e) for c, d, e, _ in attempts]) == []
    assert lockout_breaches(attempts) == 0
    left = _rows(db_url, "SELECT count(*) FROM cases WHERE lease_owner IS NOT NULL")
    assert left == [(0,)], "both stopped cleanly: no lease left"


def _at(value: object) -> datetime:
    """A stamp as a datetime (SQLite returns text through a plain connection)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _maybe(value: object) -> datetime | None:
    return None if value is None else _at(value)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
