"""Settings: a bad setting stops the program with one line naming file, key and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dialer.settings import SettingsError, load_settings

GOOD = """
campaigns:
  - name: c1
    compliance_profile: us_tsr_regf
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(text)
    return path


def test_good_file_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.campaigns[0].name == "c1"
    assert settings.campaigns[0].connect_grace == 2.0
    assert settings.trunk.kind == "simulated"


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "  - name: c2\n    compliance_profile: x\n    colour: red\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}: campaigns.1.colour: unknown setting"


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "web:\n  port: eighty\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: web.port: ")
    assert "integer" in message
    assert "\n" not in message


def test_out_of_range_value(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("us_tsr_regf", "us_tsr_regf\n    ring_timeout: 10"))
    expected = r"campaigns\.0\.ring_timeout: .*greater than or equal to 15"
    with pytest.raises(SettingsError, match=expected):
        load_settings(path)


def test_bad_distribution_names_its_key(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "collectors:\n  talk: {dist: exponential, mean: -3}\n")
    with pytest.raises(SettingsError, match=r"collectors\.talk: .*talk\.mean: must be > 0"):
        load_settings(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such configuration file"):
        load_settings(tmp_path / "nope.yaml")


def test_malformed_yaml_gives_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "web:\n  port: [1, 2\n")
    with pytest.raises(SettingsError, match=rf"{path}: invalid YAML at line \d+"):
        load_settings(path)


def test_top_level_must_be_mapping(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="top level must be a mapping"):
        load_settings(_write(tmp_path, "- 1\n- 2\n"))


def test_environment_overrides_and_errors_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, GOOD)
    monkeypatch.setenv("DIALER_WEB__PORT", "9191")
    assert load_settings(path).web.port == 9191
    monkeypatch.setenv("DIALER_WEB__PORT", "not-a-port")
    with pytest.raises(SettingsError, match=r"^DIALER_WEB__PORT: web\.port: "):
        load_settings(path)


def test_config_from_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CONFIG", str(_write(tmp_path, GOOD)))
    assert load_settings().campaigns[0].name == "c1"


def test_duplicate_campaign_names(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + GOOD.split("\n", 2)[2])
    with pytest.raises(SettingsError, match="campaign names must be unique: c1"):
        load_settings(path)


def test_shipped_default_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    settings = load_settings(root / "config" / "dialer.yaml")
    assert settings.campaigns and settings.trunk.kind == "simulated"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bogus: 1\n", "bogus: unknown setting"),
        ("web:\n  port: eighty\n", "web.port:"),
    ],
)
def test_cli_prints_one_line_and_exits_2(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, GOOD + text)
    result = subprocess.run(
        [sys.executable, "-m", "dialer", "config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_routing_waits_must_fit_in_the_connect_grace(tmp_path: Path) -> None:
    text = GOOD.replace(
        "us_tsr_regf",
        "us_tsr_regf\n    connect_grace: 1.0\n    routing: {owner_wait: 0.5, team_wait: 0.5}",
    )
    with pytest.raises(SettingsError, match=r"campaigns\.0: .*must be shorter than connect_grace"):
        load_settings(_write(tmp_path, text))


def test_presence_and_wrap_limit_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.web.presence_timeout_seconds == 15.0
    assert settings.campaigns[0].max_wrap_seconds == 120.0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("web:\n  presence_timeout_seconds: soon\n", r"web\.presence_timeout_seconds: .*number"),
        (
            "web:\n  presence_timeout_seconds: 0.2\n",
            r"web\.presence_timeout_seconds: .*greater than or equal to 1",
        ),
        ("    max_wrap_seconds: 0\n", r"campaigns\.0\.max_wrap_seconds: .*greater than 0"),
        ("    max_wrap_seconds: x\n", r"campaigns\.0\.max_wrap_seconds: .*number"),
        (
            "    wrap_up_seconds: 300\n",
            r"campaigns\.0: .*wrap_up_seconds \(300\) is longer than max_wrap_seconds \(120\)",
        ),
        (
            "    pause_reasons: [break, disconnected]\n",
            r"campaigns\.0\.pause_reasons: .*disconnected: kept for the pauses the dialer",
        ),
    ],
)
def test_presence_and_wrap_settings_are_checked_naming_key_and_file(
    tmp_path: Path, extra: str, expected: str
) -> None:
    path = _write(tmp_path, GOOD + extra)
    with pytest.raises(SettingsError, match=rf"^{path}: {expected}"):
        load_settings(path)


def test_inbound_is_off_by_default_and_its_settings_are_checked(tmp_path: Path) -> None:
    assert load_settings(_write(tmp_path, GOOD)).campaigns[0].inbound is None
    on = load_settings(_write(tmp_path, GOOD + "    inbound: {service_level: 0.9}\n"))
    inbound = on.campaigns[0].inbound
    assert inbound is not None
    assert (inbound.service_level, inbound.answer_within_seconds) == (0.9, 20.0)
    assert inbound.max_wait_seconds == 60.0
    path = _write(tmp_path, GOOD + "    inbound: {service_level: 1.5}\n")
    with pytest.raises(SettingsError, match=rf"^{path}: campaigns\.0\.inbound\.service_level: "):
        load_settings(path)
