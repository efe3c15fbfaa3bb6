"""`dialer run` with config/sip-example.yaml against sipp: it dials, classifies, bridges and
records calls (issue 7's first "Done when").

sipp plays the carrier (tests/telephony/scenarios/carrier.xml: the dialed number's last digit
picks the outcome, and each call logs what the carrier did) and the two simulated
collectors' phones (phone.xml, RTP echoed). The daemon runs as `python -m dialer run` on the
example configuration, changed only where a test must be: temporary files and free ports,
a short drain. The test waits (bounded polling of the store, no sleeping for timing) until
every outcome the carrier can produce has been recorded, stops the daemon with SIGTERM as
systemd would, and then compares the store with the carrier's own log, call by call.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sipkit import Sipp, SippFactory

from dialer.daemon import Daemon
from dialer.settings import SettingsError, load_settings
from dialer.store.crypto import keyring
from dialer.telephony.sip_settings import SipTrunkSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "sip-example.yaml"
CLOCK_START = "2026-03-02T15:00:00+00:00"  # a Monday, 10:00 in New York: calling hours
COLLECTORS = ("sim-001", "sim-002")
# What the carrier does by the number's last digit (carrier.xml); any of them may instead
# be cancelled ("cancelled") when the drain hangs up calls still ringing.
CARRIER_RULE = {
    **dict.fromkeys("01234", "answered"),
    "5": "486",
    "6": "480",
    "7": "404",
    "8": "503",
    "9": "cancelled",
}
# What the carrier did -> (outcome, sip_code) the store must hold; answered calls: see below.
CLASSIFIED = {
    "486": ("busy", 486),
    "480": ("no_answer", 480),
    "404": ("failed", 404),
    "503": ("failed", 503),
    "cancelled": ("no_answer", 487),
}
ANSWERED_OUTCOMES = {"conversation", "answered", "abandoned"}
MUST_SEE = {("conversation", None), *CLASSIFIED.values()}
RUN_DEADLINE = 45.0  # the last class, a 487, needs the campaign's 15 s ring timeout
STOP_DEADLINE = 30.0


def _config(tmp_path: Path, carrier: Sipp, phones: Sipp) -> Path:
    settings: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    settings["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'sip-example.db'}"
    settings["web"]["port"] = 0
    sip = settings["trunk"]["sip"]
    sip["port"] = carrier.port
    assert set(sip["collectors"]) == set(COLLECTORS), "the example's phones changed"
    sip["collectors"] = {c: f"sip:{c}@127.0.0.1:{phones.port}" for c in COLLECTORS}
    settings["demo_portfolio"] = str(ROOT / settings["demo_portfolio"])
    settings["drain_timeout"] = 5  # then calls still ringing are cancelled (487)
    settings["logging"] = {"level": "INFO", "format": "json"}
    path = tmp_path / "sip-example.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _attempts(db: Path) -> list[dict[str, Any]]:
    """Every call attempt, with the collector's username (empty before the schema exists)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                "SELECT a.call_id, a.number_e164, a.outcome, a.sip_code, a.answered_at,"
                " a.bridged_at, a.ended_at, a.abandoned, c.username AS collector"
                " FROM call_attempts a LEFT JOIN collectors c ON c.id = a.collector_id"
            ).fetchall()
    except sqlite3.OperationalError:  # not migrated yet, or a write holds the lock
        return []
    # numbers are sealed at rest (dialer.store.crypto): the daemon got the tests' key
    # through DIALER_PRIVACY__KEY, and this process has the same keyring installed
    keys = keyring()
    attempts = [dict(row) for row in rows]
    for row in attempts:
        row["number_e164"] = keys.open(row["number_e164"], "call_attempts.number_e164")
    return attempts


def _recordings(db: Path) -> dict[str, tuple[str, int, int | None]]:
    """call id -> (path, bytes, attempt id) of every catalogued recording."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT r.call_id, r.path, r.bytes, r.attempt_id, a.call_id FROM recordings r"
            " LEFT JOIN call_attempts a ON a.id = r.attempt_id"
        ).fetchall()
    assert all(row[0] == row[4] for row in rows), "each row under its own attempt"
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _sipp_log(far: Sipp) -> list[tuple[str, str]]:
    """(first word, rest) of each line a scenario's <log> action wrote."""
    lines = [
        line.split(" ", 1)
        for path in far.workdir.glob("*_logs.log")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return [(words[0], words[1]) for words in lines]


async def _wait_for_classes(daemon: asyncio.subprocess.Process, db: Path, err: Path) -> None:
    seen: set[tuple[str, int | None]] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_DEADLINE
    while not MUST_SEE.issubset(seen):
        if daemon.returncode is not None:
            pytest.fail(f"dialer run exited ({daemon.returncode}) early:\n{_tail(err)}")
        if loop.time() > deadline:
            pytest.fail(f"after {RUN_DEADLINE:g} s only {sorted(seen, key=str)} were recorded")
        seen = {(r["outcome"], r["sip_code"]) for r in _attempts(db) if r["outcome"]}
        await asyncio.sleep(0.2)  # polling the store, bounded by the deadline


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def test_the_example_loads_with_a_typed_sip_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # its paths start at the repository root, as documented
    settings = load_settings(EXAMPLE)
    assert isinstance(settings.trunk.sip, SipTrunkSettings)
    assert set(settings.trunk.sip.collectors) == set(COLLECTORS)
    assert settings.collectors.count == len(COLLECTORS)


def test_a_bad_sip_setting_fails_at_load_with_file_key_and_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("trunk: {kind: sip, sip: {server: 127.0.0.1, colectors: {}}}\n")
    with pytest.raises(SettingsError, match=r"bad\.yaml: trunk\.sip\.colectors: unknown setting"):
        load_settings(config)
    config.write_text("trunk: {kind: sip, sip: {server: 127.0.0.1, calls_per_second: 0}}\n")
    with pytest.raises(SettingsError, match=r"trunk\.sip\.calls_per_second: Input should be"):
        load_settings(config)
    config.write_text("trunk: {kind: sip}\n")
    with pytest.raises(SettingsError, match="the 'sip' section is missing"):
        load_settings(config)


async def test_simulated_collectors_with_sip_are_those_with_a_phone(tmp_path: Path) -> None:
    settings: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    settings["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'prepare.db'}"
    settings["demo_portfolio"] = str(ROOT / settings["demo_portfolio"])
    settings["collectors"]["count"] = 3  # sim-003 has no phone: not simulated
    settings["trunk"]["sip"]["collectors"]["alice"] = "sip:1001@127.0.0.1"  # a person's
    config = tmp_path / "prepare.yaml"
    config.write_text(yaml.safe_dump(settings))
    report = await Daemon(load_settings(config)).prepare()
    assert report.collectors == 2 and report.trunk == "sip"
    assert report.demo_loaded == {"sip-demo": 30}  # the example's CSV, all 30 rows valid


@pytest.mark.sip
async def test_dialer_run_with_the_sip_example_dials_classifies_bridges_and_records(
    sipp: SippFactory, tmp_path: Path
) -> None:
    carrier = await sipp(100_000, "carrier.xml", extra=["-trace_logs"])
    phones = await sipp(100_000, "phone.xml", extra=["-rtp_echo", "-trace_logs"])
    config = _config(tmp_path, carrier, phones)
    db = tmp_path / "sip-example.db"
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        daemon = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dialer", "run", "--config", str(config),
            "--clock-start", CLOCK_START,
            cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        )  # fmt: skip
        try:
            await _wait_for_classes(daemon, db, err)
            daemon.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(daemon.wait(), STOP_DEADLINE)
        finally:
            if daemon.returncode is None:
                daemon.kill()
                await daemon.wait()
    assert code == 0, f"dialer run exited {code}:\n{_tail(err)}"
    assert "final summary" in out.read_text()

    # The daemon logged no error, and the engine took every trunk report it was given.
    logs = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    troubles = [
        entry
        for entry in logs
        if entry["level"] in ("error", "critical")
        or entry["event"] in ("engine.event_rejected", "collector.leg_failed", "collector.leg_lost")
    ]
    assert troubles == []
    assert {e["collector"] for e in logs if e["event"] == "collector.leg_up"} == set(COLLECTORS)

    # Every call the daemon placed reached the carrier and has exactly one finished record.
    attempts = _attempts(db)
    carrier_did = _sipp_log(carrier)
    assert Counter(r["number_e164"] for r in attempts) == Counter(n for n, _ in carrier_did)
    assert len({r["call_id"] for r in attempts}) == len(attempts)
    did = dict(carrier_did)
    assert len(did) == len(carrier_did), "a number was dialed twice in one run"
    for row in attempts:
        number, action = row["number_e164"], did[row["number_e164"]]
        assert row["outcome"] is not None and row["ended_at"] is not None, row
        assert action.split("+")[0] in (CARRIER_RULE[number[-1]], "cancelled"), (number, action)
        if action in CLASSIFIED:
            assert (row["outcome"], row["sip_code"]) == CLASSIFIED[action], (action, row)
            assert row["answered_at"] is None and row["bridged_at"] is None, row
            continue
        # Answered by the carrier, hung up by either side: a live answer.
        assert action.startswith("answered+"), action
        assert row["outcome"] in ANSWERED_OUTCOMES and row["sip_code"] is None, row
        assert row["answered_at"] is not None, row
        if row["outcome"] == "conversation":  # bridged to a collector's nailed-up leg
            assert row["bridged_at"] is not None and row["collector"] in COLLECTORS, row
        else:
            assert row["bridged_at"] is None and row["collector"] is None, row
            assert bool(row["abandoned"]) == (row["outcome"] == "abandoned"), row

    # Recording is on by default: every answered call has its file, catalogued under its
    # attempt, of the size the row says (this carrier sends no audio: a bridged call's
    # file may hold only its header; an abandoned one holds the safe harbor it heard).
    recordings = _recordings(db)
    assert set(recordings) == {r["call_id"] for r in attempts if r["answered_at"] is not None}
    for row in attempts:
        if row["call_id"] in recordings:
            path, size, attempt_id = recordings[row["call_id"]]
            assert attempt_id is not None and Path(path).is_absolute()
            assert Path(path).stat().st_size == size, path
            if row["outcome"] == "abandoned":
                assert size > 58 + 8000, path  # over half a second of the message

    # Each collector's phone was called once, kept up, and hung up when the daemon stopped.
    legs = Counter(_sipp_log(phones))
    assert legs == Counter({(c, "up") for c in COLLECTORS} | {(c, "down") for c in COLLECTORS})
