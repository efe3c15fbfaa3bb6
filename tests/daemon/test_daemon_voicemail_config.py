"""A campaign that leaves messages on machines is refused at start-up unless its declared
message is one its profile allows; the refusal names the file, the key and every reason.
The AMD settings reach the engine (on_machine, the false-positive rate where counted)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from dialer.compliance import load_profile
from dialer.daemon.build import build_engine, machine_false_positive_rate
from dialer.daemon.startup import StartupError, check_campaigns, voicemail_messages
from dialer.media.g711 import ulaw_to_pcm
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


def _write_message(path: Path, rate: int = 8000, channels: int = 1, seconds: float = 2.0) -> None:
    tone = (8000 * np.sin(np.arange(int(rate * seconds)) * 0.1)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.repeat(tone, channels).tobytes())


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths in the settings are the daemon's working directory's."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    return tmp_path


def test_the_drops_message_is_read_once_at_start_up_as_mulaw(in_tmp: Path) -> None:
    tmp_path = in_tmp
    _write_message(tmp_path / "var" / "drop.wav")
    settings = load_settings(_config(tmp_path, "us_tsr_regf", _drop(GOOD)))
    messages = voicemail_messages(settings)
    assert set(messages) == {"west"}  # the hang-up campaign has none
    assert len(messages["west"]) == 16000  # 2 s, one μ-law byte a sample
    decoded = ulaw_to_pcm(messages["west"]).astype(float)
    assert 6000 < np.abs(decoded).max() < 9000  # the tone's level survived the encoding


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ({"rate": 16000}, "16000 Hz, 1 channel(s), 16-bit; a message must be 8000 Hz"),
        ({"channels": 2}, "8000 Hz, 2 channel(s)"),
        (None, "cannot read"),
    ],
)
def test_a_message_file_that_cannot_be_played_stops_the_start(
    in_tmp: Path, shape: dict[str, int] | None, reason: str
) -> None:
    tmp_path = in_tmp
    if shape is not None:
        _write_message(tmp_path / "var" / "drop.wav", **shape)
    config = _config(tmp_path, "us_tsr_regf", _drop(GOOD))
    settings = load_settings(config)
    with pytest.raises(StartupError) as err:
        voicemail_messages(settings)
    message = str(err.value)
    assert message.startswith(f"{config}: campaigns.1.amd.voicemail.message_file: ")
    assert reason in message, message


def test_a_text_file_posing_as_a_wav_is_refused_with_how_to_write_one(in_tmp: Path) -> None:
    tmp_path = in_tmp
    (tmp_path / "var" / "drop.wav").write_text("not audio")
    settings = load_settings(_config(tmp_path, "us_tsr_regf", _drop(GOOD)))
    with pytest.raises(StartupError, match=r"not a PCM WAV .*16-bit PCM, 8 kHz, mono"):
        voicemail_messages(settings)


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
