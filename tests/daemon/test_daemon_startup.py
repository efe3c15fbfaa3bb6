"""No silent stops at start-up: every setting the store keeps in a column is checked against
the column (an instance name too long for `cases.lease_owner` made every refill fail on
PostgreSQL: no dials, health ok), the default instance name is cut to fit, and whatever
fails before the daemon is ready ends `dialer run` at once, non-zero, with one line naming
the reason (it used to wait for `ready` forever, so systemd never restarted it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.clock import Clock
from dialer.daemon.startup import (
    StartupError,
    check_settings,
    default_instance_name,
    instance_name,
)
from dialer.settings import Settings, SettingsError, load_settings

PROMPTLY = 60.0  # real seconds; each of these exits in a few
CAMPAIGN = """
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
"""


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db",
            spool_path: "{tmp_path}/spool.jsonl"}}
collectors: {{count: 2}}
demo_cases: 10
drain_timeout: 1
logging: {{level: WARNING}}
{body}
"""
    )
    return path


def _run(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`dialer run`: its exit status and what it wrote to stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "dialer", "run", "--config", str(config), *args],
        capture_output=True,
        timeout=PROMPTLY,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stderr.decode()


def _one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), stderr
    return last


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A TCP port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


# ----- columns ------------------------------------------------------------------------------


def test_a_too_long_instance_id_is_refused_naming_its_key(tmp_path: Path) -> None:
    config = _config(tmp_path, CAMPAIGN + f"instance_id: {'d' * 80}\n")
    with pytest.raises(SettingsError, match=r"instance_id: String should have at most 64"):
        load_settings(config)
    code, stderr = _run(_config(tmp_path, CAMPAIGN), env={"DIALER_INSTANCE_ID": "d" * 65})
    assert code == 2
    line = _one_line_error(stderr)
    assert "DIALER_INSTANCE_ID: instance_id" in line and "64" in line


def _settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "campaigns": [{"name": "c1", "compliance_profile": "us_tsr_regf"}],
    }
    return Settings(**(base | values))  # type: ignore[arg-type]


def test_every_setting_kept_in_a_column_is_checked_against_it() -> None:
    clock = Clock()
    check_settings(_settings(), "box-1", clock)  # the defaults fit
    with pytest.raises(StartupError, match=r"^instance_id: .* is 80 characters, at most 64"):
        check_settings(_settings(), "d" * 80, clock)
    name = "n" * 50  # fits campaigns.name (100) but not the call ids made from it (64)
    campaign = {"name": name, "compliance_profile": "us_tsr_regf"}
    with pytest.raises(StartupError, match=r"^campaigns\.0\.name: .* at most 44.*call id"):
        check_settings(_settings(campaigns=[campaign]), "box-1", clock)
    long_caller = {"name": "c1", "compliance_profile": "us_tsr_regf", "caller_id": "+1" * 20}
    with pytest.raises(StartupError, match=r"^campaigns\.0\.caller_id: .*campaigns\.caller_id"):
        check_settings(_settings(campaigns=[long_caller]), "box-1", clock)
    with pytest.raises(StartupError, match=r"^collectors\.team: .*teams\.name"):
        check_settings(_settings(collectors={"team": "t" * 101}), "box-1", clock)
    manager = {"name": "c1", "compliance_profile": "us_tsr_regf", "managers": ["m" * 101]}
    with pytest.raises(StartupError, match=r"^campaigns\.0\.managers\.0: "):
        check_settings(_settings(campaigns=[manager]), "box-1", clock)
    escalation = {"reassign": {"escalation_team": "e" * 101}}
    with pytest.raises(StartupError, match=r"^orchestration\.reassign\.escalation_team: "):
        check_settings(_settings(orchestration=escalation), "box-1", clock)


def test_settings_that_would_do_nothing_silently_are_refused() -> None:
    window = {"windows": {"c9": {"start": "09:00", "end": "17:00"}}}
    with pytest.raises(StartupError, match=r"^orchestration\.windows\.c9: no campaign named"):
        check_settings(_settings(orchestration=window), "box-1", Clock())
    # 300 s leases last 0.3 s of real time at speed 1000: any store hiccup would lapse them.
    with pytest.raises(StartupError, match=r"^orchestration\.lease_seconds: .*set it to 2000"):
        check_settings(_settings(), "box-1", Clock(1000))
    check_settings(_settings(), "box-1", Clock(100))  # 3 s of real time: enough


def test_the_default_instance_name_fits_its_column() -> None:
    assert default_instance_name("box", 123) == "box-123"
    long = default_instance_name("h" * 100, 4_194_304)  # the longest Linux pid
    assert len(long) == 64 and long.endswith("-4194304") and long.startswith("h" * 56)
    assert instance_name(_settings(instance_id="mine")) == "mine"
    assert len(instance_name(_settings())) <= 64


# ----- calling windows ----------------------------------------------------------------------


def _window(times: str) -> str:
    return f"orchestration: {{windows: {{c1: {{{times}}}}}}}"


def test_unquoted_window_times_are_refused_with_the_fix(tmp_path: Path) -> None:
    """YAML reads `9:00` as 540 and `17:00` as 1020 (base 60); pydantic made those aware
    times (00:09 UTC), which the window job could not compare with a local time: run()
    failed before ready, and `dialer run` hung."""
    config = _config(
        tmp_path, CAMPAIGN + "orchestration: {windows: {c1: {start: 9:00, end: 17:00}}}"
    )
    code, stderr = _run(config)
    assert code == 2
    line = _one_line_error(stderr)
    assert "orchestration.windows.c1.start" in line and "quote it, e.g. '09:00'" in line
    quoted = _config(
        tmp_path, CAMPAIGN + "orchestration: {windows: {c1: {start: '9:00', end: '17:00'}}}"
    )
    window = load_settings(quoted).orchestration.windows["c1"]
    assert (window.start.hour, window.end.hour, window.start.tzinfo) == (9, 17, None)
    offset = _config(
        tmp_path, CAMPAIGN + "orchestration: {windows: {c1: {start: '09:00+02:00', end: '17:00'}}}"
    )
    with pytest.raises(SettingsError, match=r"windows\.c1\.start: .*without an offset"):
        load_settings(offset)


# ----- failures before ready ----------------------------------------------------------------


def test_dialer_run_exits_when_the_web_port_is_taken(tmp_path: Path, taken_port: int) -> None:
    """The web server fails inside run(), before the daemon is ready."""
    config = _config(tmp_path, CAMPAIGN + f"web: {{port: {taken_port}}}")
    code, stderr = _run(config, "--speed", "30")
    assert code == 2, stderr
    line = _one_line_error(stderr)
    assert f"web server cannot listen on 127.0.0.1:{taken_port}" in line


def test_dialer_run_exits_when_the_trunk_cannot_start(tmp_path: Path) -> None:
    """Any error inside run() before ready (here the SIP trunk's port is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        config = _config(
            tmp_path,
            CAMPAIGN
            + "web: {enabled: false}\n"
            + "trunk: {kind: sip, sip: {server: 127.0.0.1, port: 5999, local_ip: 127.0.0.1, "
            + f"local_port: {port}, collectors: {{sim-001: 'sip:sim-001@127.0.0.1:5998'}}}}}}",
        )
        code, stderr = _run(config)
    assert code == 1, stderr
    line = _one_line_error(stderr)
    assert line.startswith("error: the daemon failed before it was ready: OSError"), line


def test_dialer_run_exits_when_the_store_cannot_be_reached(tmp_path: Path) -> None:
    config = _config(tmp_path, CAMPAIGN + "web: {enabled: false}")
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    code, stderr = _run(config, env={"DIALER_DATABASE__URL": url})
    assert code == 1, stderr
    line = _one_line_error(stderr)
    assert line.startswith("error: the daemon could not start: "), line


def test_bad_inbound_numbers_are_refused_naming_the_key() -> None:
    clock = Clock()
    unknown = {"numbers": {"+12025550199": "c9"}}
    with pytest.raises(StartupError, match=r"^inbound\.numbers\.\+12025550199: no campaign"):
        check_settings(_settings(inbound=unknown), "box-1", clock)
    garbled = {"numbers": {"call-us": "c1"}}
    with pytest.raises(StartupError, match=r"^inbound\.numbers\.call-us: not a phone number"):
        check_settings(_settings(inbound=garbled), "box-1", clock)
    caller = {"name": "c1", "compliance_profile": "us_tsr_regf", "caller_id": "12"}
    with pytest.raises(StartupError, match=r"^campaigns\.0\.caller_id: not a phone number"):
        check_settings(_settings(campaigns=[caller]), "box-1", clock)
    national = {"numbers": {"(202) 555-0199": "c1"}}  # read in default_region (US)
    check_settings(_settings(inbound=national), "box-1", clock)


def test_a_bad_inbound_setting_stops_the_daemon_with_one_line(tmp_path: Path) -> None:
    code, stderr = _run(_config(tmp_path, CAMPAIGN + "inbound: {numbers: {'+12025550199': c9}}\n"))
    assert code == 2
    assert "inbound.numbers.+12025550199: no campaign named 'c9'" in _one_line_error(stderr)
