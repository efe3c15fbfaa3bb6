from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dialer.telephony.sip_settings import DEFAULT_SAFE_HARBOR, SipTrunkSettings


def test_defaults_match_the_issue() -> None:
    s = SipTrunkSettings(server="sip.example.net")
    assert (s.port, s.transport, s.register, s.local_port) == (5060, "udp", False, 0)
    assert s.calls_per_second == 20 and s.ring_timeout == 25
    assert s.recv_buffer_bytes == 4 * 1024 * 1024
    assert s.safe_harbor_file == DEFAULT_SAFE_HARBOR


def test_packaged_safe_harbor_is_short_pcmu() -> None:
    data = DEFAULT_SAFE_HARBOR.read_bytes()
    assert 0 < len(data) < 100 * 1024
    assert len(data) % 160 == 0  # whole 20 ms frames of 8 kHz mu-law


@pytest.mark.parametrize(
    "bad",
    [
        {"transport": "tcp"},
        {"ring_timeout": 14},
        {"calls_per_second": 0},
        {"rtp_port_range": (30000, 20000)},
        {"unknown_key": 1},
        {"password": "a", "password_env": "X"},
        {"server": "bad host"},
        {"server": "host:5060"},
        {"caller_name": 'Evil"\r\nX: 1'},
        {"caller_id": "a;b"},
        {"collectors": {"alice": "1001\r\nX: 1"}},
    ],
)
def test_refuses_bad_settings(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SipTrunkSettings.model_validate({"server": "sip.example.net", **bad})


def test_password_never_shown() -> None:
    s = SipTrunkSettings(server="h", username="u", password="hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert "hunter2" not in s.model_dump_json()
    assert s.resolve_password() == "hunter2"


def test_password_from_env_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIALER_TEST_SIP_PW", "from-env")
    assert SipTrunkSettings(server="h", password_env="DIALER_TEST_SIP_PW").resolve_password() == (
        "from-env"
    )
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    assert SipTrunkSettings(server="h", password_file=secret).resolve_password() == "from-file"
    monkeypatch.delenv("DIALER_TEST_SIP_PW")
    with pytest.raises(ValueError, match="unset"):
        SipTrunkSettings(server="h", password_env="DIALER_TEST_SIP_PW").resolve_password()
