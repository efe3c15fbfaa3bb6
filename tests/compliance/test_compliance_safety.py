"""Start-up refusals, and profile loading/validation with clear errors."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialer.compliance import (
    DEFAULT_PROFILE_DIR,
    ProfileError,
    UnknownProfileError,
    UnsafeConfigError,
    available_profiles,
    check_campaign_config,
    load_profile,
    load_profile_file,
    require_safe_campaign_config,
)
from dialer.domain.model import ContactOutcome, NumberType

US = load_profile("us_tsr_regf")
UK = load_profile("uk_ofcom")
CN = load_profile("cn_ifac")

SAFE: dict[str, Any] = {
    "connect_grace": 2.0,
    "ring_timeout": 20.0,
    "target_abandon_rate": 0.025,
    "caller_id": "+442079460000",
    "safe_harbor_message_configured": True,
}


def settings(**changes: Any) -> dict[str, Any]:
    return {**SAFE, **changes}


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [US, UK, CN], ids=lambda p: p.name)
def test_safe_settings_pass(profile: Any) -> None:
    assert check_campaign_config(profile, **SAFE) == []
    require_safe_campaign_config(profile, **SAFE)


def test_no_profile() -> None:
    assert check_campaign_config(None, **SAFE) == [
        "campaign has no compliance profile; set one (e.g. us_tsr_regf)"
    ]


def test_connect_grace_above_the_maximum() -> None:
    assert check_campaign_config(US, **settings(connect_grace=2.5)) == [
        "connect grace 2.5 s exceeds the maximum 2 s of profile us_tsr_regf v2"
    ]
    assert check_campaign_config(UK, **settings(connect_grace=2.0)) == []
    assert check_campaign_config(CN, **settings(connect_grace=5.0)) == []  # no maximum


def test_ring_timeout_below_the_minimum() -> None:
    assert check_campaign_config(US, **settings(ring_timeout=14.9)) == [
        "ring timeout 14.9 s is below the minimum 15 s of profile us_tsr_regf v2"
    ]
    assert check_campaign_config(US, **settings(ring_timeout=15)) == []
    assert check_campaign_config(CN, **settings(ring_timeout=0)) == [
        "ring timeout 0 s must be positive"
    ]


def test_target_abandon_rate_against_strict_and_inclusive_caps() -> None:
    assert check_campaign_config(US, **settings(target_abandon_rate=0.03)) == []  # <= 3%
    assert check_campaign_config(US, **settings(target_abandon_rate=0.031)) == [
        "target abandon rate 0.031 must be at most the cap 0.03 of profile us_tsr_regf v2"
    ]
    assert check_campaign_config(UK, **settings(target_abandon_rate=0.03)) == [  # < 3%
        "target abandon rate 0.03 must be below the cap 0.03 of profile uk_ofcom v2"
    ]
    assert check_campaign_config(CN, **settings(target_abandon_rate=1.5)) == [
        "target abandon rate 1.5 must be in [0, 1)"
    ]


@pytest.mark.parametrize("caller_id", [None, "", "  "])
def test_uk_without_caller_id(caller_id: str | None) -> None:
    assert check_campaign_config(UK, **settings(caller_id=caller_id)) == [
        "profile uk_ofcom v2 requires a caller ID; none is configured"
    ]
    assert check_campaign_config(US, **settings(caller_id=caller_id)) == []


def test_safe_harbor_message_required() -> None:
    refusals = check_campaign_config(US, **settings(safe_harbor_message_configured=False))
    assert refusals == [
        "profile us_tsr_regf v2 requires a safe-harbor message for abandoned calls; none is set"
    ]
    assert check_campaign_config(CN, **settings(safe_harbor_message_configured=False)) == []


def test_every_refusal_at_once_and_the_raising_form() -> None:
    bad = settings(
        connect_grace=3,
        ring_timeout=10,
        target_abandon_rate=0.05,
        caller_id=None,
        safe_harbor_message_configured=False,
    )
    assert len(check_campaign_config(UK, **bad)) == 4  # UK has no ring minimum
    with pytest.raises(UnsafeConfigError) as info:
        require_safe_campaign_config(US, **bad)
    assert len(info.value.refusals) == 4
    assert "connect grace 3 s exceeds" in str(info.value)


def test_abandonment_within_cap() -> None:
    assert US.abandonment is not None and UK.abandonment is not None
    assert US.abandonment.within_cap(3, 100)
    assert not UK.abandonment.within_cap(3, 100)
    assert UK.abandonment.within_cap(2, 100)
    assert not UK.abandonment.within_cap(2, 100, machine_false_positives=1.5)
    assert US.abandonment.within_cap(2, 100, machine_false_positives=1.5)  # not counted in US
    assert US.abandonment.within_cap(0, 0)


# -- shipped profiles ----------------------------------------------------------------------


def test_shipped_profiles() -> None:
    assert Path(__file__).resolve().parents[2] / "config" / "compliance" == DEFAULT_PROFILE_DIR
    assert available_profiles() == ["cn_ifac", "uk_ofcom", "us_tsr_regf"]
    assert (US.calling_hours.start, US.calling_hours.end) == (time(8), time(21))
    assert US.attempts.per_debt is not None
    assert (US.attempts.per_debt.max_attempts, US.attempts.per_debt.window_days) == (7, 7)
    # Interrupted attempts count whatever a profile lists (dialer.compliance.rules).
    # every call placed that reached the network; the debtor's own calls to us are none
    placed = {o for o in ContactOutcome if o.reached_network}
    assert set(US.attempts.per_debt.outcomes) | {ContactOutcome.INTERRUPTED} == placed
    assert US.lockouts.post_conversation_days == 7
    assert US.abandonment is not None
    assert (US.abandonment.max_rate, US.abandonment.strict) == (0.03, False)
    assert US.abandonment.window_seconds == 30 * 86400
    assert (US.call_setup.min_ring_seconds, US.call_setup.max_connect_grace_seconds) == (15, 2)
    assert US.call_setup.safe_harbor_required

    assert UK.lockouts.abandon_hours == 72
    assert UK.abandonment is not None
    assert (UK.abandonment.strict, UK.abandonment.window_seconds) == (True, 86400)
    assert UK.abandonment.counts_machine_false_positives
    assert UK.call_setup.caller_id_required

    assert (CN.calling_hours.start, CN.calling_hours.end) == (time(8), time(22))
    assert CN.calling_hours.default_timezones == ("Asia/Shanghai",)
    assert CN.attempts.conversations_per_debtor_per_day == 3
    assert CN.attempts.unanswered_per_number_per_day is not None
    assert CN.attempts.unanswered_per_number_per_day.max == 6
    assert CN.number_types.allowed == (NumberType.DEBTOR,)
    for profile in (US, UK, CN):
        assert NumberType.THIRD_PARTY_REFUSED in profile.number_types.forbidden
        assert profile.version >= 1


# -- loading errors ------------------------------------------------------------------------


DELETE = object()


def write_profile(tmp_path: Path, text: str | None = None, **changes: Any) -> Path:
    data = yaml.safe_load((DEFAULT_PROFILE_DIR / "us_tsr_regf.yaml").read_text())
    data["name"] = "house"
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[key]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    path = tmp_path / "house.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data, sort_keys=False))
    return path


def load_error(path: Path) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    assert "\n" not in str(info.value)
    return info.value


def test_a_valid_custom_profile_loads(tmp_path: Path) -> None:
    write_profile(tmp_path)
    assert load_profile("house", tmp_path).name == "house"
    assert available_profiles(tmp_path) == ["house"]


@pytest.mark.parametrize(
    ("changes", "key", "reason"),
    [
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"calling_hours__stat": "08:00"}, "calling_hours.stat", "unknown key"),
        ({"calling_hours__start": DELETE}, "calling_hours.start", "required key is missing"),
        ({"calling_hours__end": 1260}, "calling_hours.end", "expected a quoted local time"),
        ({"calling_hours__end": "25:00"}, "calling_hours.end", "expected a quoted local time"),
        ({"calling_hours__start": "22:00"}, "calling_hours", "start must be earlier than end"),
        (
            {"calling_hours__default_timezones": ["Mars/Base"]},
            "calling_hours.default_timezones",
            "unknown time zone 'Mars/Base'",
        ),
        ({"attempts__per_debt__max_attempts": 0}, "attempts.per_debt.max_attempts", "greater"),
        (
            {"attempts__per_debt__outcomes": ["busy", "hangup"]},
            "attempts.per_debt.outcomes[1]",
            "Input should be",
        ),
        ({"abandonment__max_rate": 3}, "abandonment.max_rate", "less than 1"),
        (
            {"number_types__forbidden": ["work"]},
            "number_types",
            "number type 'work' is listed in both allowed and forbidden",
        ),
        ({"version": 0}, "version", "greater than or equal to 1"),
        ({"name": "other"}, "name", "does not match the file name"),
    ],
)
def test_bad_profiles_name_file_key_and_reason(
    tmp_path: Path, changes: dict[str, Any], key: str, reason: str
) -> None:
    path = write_profile(tmp_path, **changes)
    error = load_error(path)
    assert error.file == str(path)
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith(f"{path}: {key}: ")


def test_unquoted_time_in_yaml_is_refused(tmp_path: Path) -> None:
    text = write_profile(tmp_path).read_text().replace("end: '21:00'", "end: 21:00")
    error = load_error(write_profile(tmp_path, text))
    assert error.key == "calling_hours.end"
    assert "1260" in error.reason


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    error = load_error(write_profile(tmp_path, "name: house\nversion: [1\n"))
    assert "invalid YAML" in error.reason and "line " in error.reason
    error = load_error(write_profile(tmp_path, "name: house\nname: house\n"))
    assert "duplicate key 'name'" in error.reason and "line 2" in error.reason
    error = load_error(write_profile(tmp_path, "- a list\n"))
    assert error.key == "(top level)"


def test_unknown_and_unreadable_profiles(tmp_path: Path) -> None:
    with pytest.raises(UnknownProfileError, match=r"unknown compliance profile 'x' \(available: "):
        load_profile("x")
    with pytest.raises(UnknownProfileError, match="available: none"):
        load_profile("../us_tsr_regf", tmp_path / "missing")
    error = load_error(tmp_path / "absent.yaml")
    assert "cannot read" in error.reason
