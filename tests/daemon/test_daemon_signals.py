"""`dialer run --duration` ends promptly on SIGINT or SIGTERM: the stop timer does not hold
the exit, nor does the web server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp_path}/dialer.db"}}
web: {{host: 127.0.0.1, port: 0}}
collectors: {{count: 4}}
demo_cases: 50
drain_timeout: 3
logging: {{level: INFO, format: json}}
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
"""
    )
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_a_timed_run_promptly(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", "run", "--config", str(_config(tmp_path)),
         "--duration", "300", "--clock-start", "2026-03-03T16:00:00+00:00"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "DIALER_CONFIG": ""},
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while not any("daemon.ready" in line for line in lines):
        line = proc.stderr.readline().decode()
        if not line and proc.poll() is not None:
            pytest.fail(f"the daemon exited early: {''.join(lines)[-2000:]}")
        lines.append(line)
        assert time.monotonic() < deadline, "the daemon never came up"
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the daemon ignored the signal for 30 s (a 300 s run)")
    took = time.monotonic() - sent
    assert proc.returncode == 0
    assert took < 15, f"took {took:.1f} s to stop"
