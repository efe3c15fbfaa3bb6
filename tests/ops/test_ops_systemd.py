"""The systemd unit: its own user, state and configuration directories, hardening; checked
with `systemd-analyze verify` and rated by `systemd-analyze security` where they run.

systemd-analyze is best effort (DESIGN §6, .ci/run): a machine or container without it
skips these two checks, with the reason, even under DIALER_REQUIRE_ALL=1. The static checks
of the directives always run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from opskit import UNIT

EXEC = "/opt/dialer/venv/bin/dialer"


def _service() -> dict[str, list[str]]:
    """[Service] directives -> every value given (a directive may repeat)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_unit_runs_hardened_as_its_own_user() -> None:
    service = _service()
    assert service.get("DynamicUser") == ["yes"] or "User" in service
    expected = {
        "StateDirectory": "dialer",
        "ConfigurationDirectory": "dialer",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }
    for key, value in expected.items():
        assert service.get(key) == [value], key
    assert "@system-service" in service["SystemCallFilter"]
    assert set(service["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert service["ExecStart"] == [f"{EXEC} run"]


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (best effort; Debian: systemd)")
    return path


def _unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's `dialer` (verify checks that the
    program exists); everything else unchanged."""
    dialer = shutil.which("dialer")
    if dialer is None:
        pytest.skip("the dialer console script is not installed (pip install -e .)")
    unit = tmp_path / "dialer.service"
    unit.write_text(UNIT.read_text().replace(EXEC, dialer))
    return unit


@pytest.mark.ops
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = _analyze()
    result = subprocess.run(
        [analyze, "verify", str(_unit_here(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and "dialer.service" not in output:
        pytest.skip(f"systemd-analyze verify cannot run here: {output[:200]}")
    # Unknown or malformed directives are only warnings (exit 0): any output fails.
    assert result.returncode == 0 and output == "", output


@pytest.mark.ops
def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    analyze = _analyze()
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(_unit_here(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    if match is None:
        pytest.skip(f"systemd-analyze security --offline cannot run here: {result.stderr[:200]}")
    score, rating = float(match.group(1)), match.group(2)
    assert rating in {"PERFECT", "OK"}, f"exposure {score} {rating}"
    assert score < 2.0
