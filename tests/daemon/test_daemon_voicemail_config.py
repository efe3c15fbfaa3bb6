"""A campaign that leaves messages on machines is refused at start-up unless its declared
message is one its profile allows; the refusal names the file, the key and every reason.
The AMD settings reach the engine (on_machine, the false-positive rate where counted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dialer.compliance import load_profile
from dialer.daemon.build import build_engine, machine_false_positive_rate
from dialer.daemon.startup import StartupError, check_campaigns
from dialer.settings import SettingsError, load_settings

GOOD = (
    "Hello, this message is for {consumer_name}. This is {collector_name}. "
    "Please call me back at 1-800-555-0100."
)


def _config(tmp_path: Path, profile: str, amd: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
campaigns:
  - name: east
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
  - name: west
    compliance_profile: {profile}
    caller_id: "+442079460000"
    amd:
{amd}
"""
    )
    return path


def _drop(text: str) -> str:
    return f"""      enabled: true
      on_machine: voicemail_drop
      voicemail:
        message_file: var/drop.wav
        message_text: "{text}"
"""


def test_a_message_about_the_debt_is_refused_with_file_key_and_reason(tmp_path: Path) -> None:
    config = _config(tmp_path, "us_tsr_regf", _drop(GOOD + " It is about your balance."))
    settings = load_settings(config)
    with pytest.raises(StartupError) as err:
        check_campaigns(settings)
    message = str(err.value)
    assert message.startswith(f"{config}: campaigns.1.amd.voicemail.message_text: ")
    assert "not a limited-content message" in message
    assert "'balance': a mention of a balance or an amount" in message
    assert "Traceback" not in message


def test_a_message_missing_an_element_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("This is {collector_name}. ", "")
    settings = load_settings(_config(tmp_path, "us_tsr_regf", _drop(text)))
    with pytest.raises(StartupError, match="does not contain the name of a person"):
        check_campaigns(settings)


def test_a_limited_content_message_starts(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, "us_tsr_regf", _drop(GOOD)))
    assert set(check_campaigns(settings)) == {"east", "west"}


def test_hangup_campaigns_need_no_message(tmp_path: Path) -> None:
    amd = "      enabled: true\n      on_machine: hangup\n"
    settings = load_settings(_config(tmp_path, "us_tsr_regf", amd))
    assert set(check_campaigns(settings)) == {"east", "west"}


def test_a_drop_without_a_declared_text_is_a_bad_setting(tmp_path: Path) -> None:
    amd = "      enabled: true\n      on_machine: voicemail_drop\n"
    amd += "      voicemail: {message_file: var/drop.wav}\n"
    config = _config(tmp_path, "us_tsr_regf", amd)
    with pytest.raises(SettingsError) as err:
        load_settings(config)
    assert str(err.value).startswith(f"{config}: campaigns.1.amd: ")
    assert "voicemail.message_text is unset" in str(err.value)


def test_amd_reaches_the_engine_and_uk_counts_false_positives(tmp_path: Path) -> None:
    amd = "      enabled: true\n      on_machine: hangup\n"
    settings = load_settings(_config(tmp_path, "uk_ofcom", amd))
    uk, us = load_profile("uk_ofcom"), load_profile("us_tsr_regf")
    west, east = settings.campaign("west"), settings.campaign("east")
    assert machine_false_positive_rate(west, uk) == 0.05  # the profile's default
    assert machine_false_positive_rate(west, us) == 0.0  # the TSR counts none
    assert machine_false_positive_rate(east, uk) == 0.0  # AMD off: no machine verdicts
    measured = west.model_copy(
        update={"amd": west.amd.model_copy(update={"false_positive_rate": 0.02})}
    )
    assert machine_false_positive_rate(measured, uk) == 0.02
    engine = build_engine(west, uk, np.random.default_rng(1))
    assert engine.config.on_machine == "hangup"
    assert engine.cap_guard is not None
    assert engine.cap_guard.ledger.false_positive_rate == 0.05
    assert getattr(engine.pacer, "ledger", None) is None  # progressive: no ledger of its own


def test_a_drop_with_amd_off_is_never_played(tmp_path: Path) -> None:
    """The message of a campaign with AMD off is not checked, so it must never play: a
    trunk that reports a machine anyway (the simulated one) gets a hang-up."""
    amd = "      enabled: false\n      on_machine: voicemail_drop\n"
    settings = load_settings(_config(tmp_path, "us_tsr_regf", amd))
    assert set(check_campaigns(settings)) == {"east", "west"}  # nothing to check
    engine = build_engine(
        settings.campaign("west"), load_profile("us_tsr_regf"), np.random.default_rng(1)
    )
    assert engine.config.on_machine == "hangup"
