"""`dialer compliance evaluate`: the JSON contract and one-line errors with exit status 2."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dialer.cli.compliance import compliance_app

ISSUE_INPUT: dict[str, Any] = {
    "now": "2026-03-02T14:05:00Z",
    "case": {
        "ref": "C-1",
        "timezone": None,
        "flags": [],
        "numbers": [{"e164": "+12125550123", "type": "debtor", "consent": True, "dnc": False}],
    },
    "number": "+12125550123",
    "history": [
        {"at": "2026-03-01T15:00:00Z", "number": "+12125550123", "outcome": "conversation"}
    ],
}
ISSUE_OUTPUT = (
    '{"allowed": false, "reasons": ["post_conversation_lockout"], '
    '"next_allowed_at": "2026-03-08T12:00:00Z"}\n'
)

runner = CliRunner()


def run(doc: object, *extra: str, profile: str = "us_tsr_regf") -> Any:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return runner.invoke(
        compliance_app, ["evaluate", "--profile", profile, "--input", "-", *extra], input=text
    )


def error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


def with_changes(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(ISSUE_INPUT)
    doc.update(changes)
    return doc


def test_issue_example_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps(ISSUE_INPUT))
    result = runner.invoke(
        compliance_app, ["evaluate", "--profile", "us_tsr_regf", "--input", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ISSUE_OUTPUT


def test_issue_example_from_stdin() -> None:
    result = run(ISSUE_INPUT)
    assert result.exit_code == 0, result.output
    assert result.stdout == ISSUE_OUTPUT


def test_allowed_output() -> None:
    result = run(with_changes(history=[], now="2026-03-02T15:00:00Z"))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"allowed": True, "reasons": [], "next_allowed_at": None}


def test_number_not_on_the_case_is_a_decision_not_an_error() -> None:
    result = run(with_changes(number="+12125550000"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["reasons"] == ["unknown_number"]


def test_missing_field() -> None:
    doc = with_changes()
    del doc["now"]
    assert error_line(run(doc)) == "error: now: missing field"
    doc = with_changes()
    del doc["case"]["numbers"][0]["consent"]
    assert error_line(run(doc)) == "error: case.numbers[0].consent: missing field"


def test_unknown_outcome_names_the_record() -> None:
    history = [
        {"at": "2026-02-27T15:00:00Z", "number": "+12125550123", "outcome": "busy"},
        {"at": "2026-02-28T15:00:00Z", "number": "+12125550123", "outcome": "no_answer"},
        {"at": "2026-03-01T15:00:00Z", "number": "+12125550123", "outcome": "foo"},
    ]
    line = error_line(run(with_changes(history=history)))
    assert line == "error: history[2].outcome: unknown outcome 'foo'"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"now": "2026-03-02T14:05:00"}, "error: now: input should have timezone info"),
        (
            {"now": 1772460300},
            "error: now: expected an ISO 8601 date-time string such as '2026-03-02T14:05:00Z'",
        ),
        ({"number": 12125550123}, "error: number: input should be a valid string"),
        ({"extra": 1}, "error: extra: unknown field"),
        (
            {"case": {**ISSUE_INPUT["case"], "flags": ["vip"]}},
            "error: case.flags[0]: unknown flag 'vip'",
        ),
        (
            {"case": {**ISSUE_INPUT["case"], "timezone": "Mars/Base"}},
            "error: case.timezone: unknown time zone 'Mars/Base'",
        ),
        (
            {"case": {**ISSUE_INPUT["case"], "numbers": [{"e164": "+1", "type": "fax"}]}},
            "error: case.numbers[0].type: unknown type 'fax'",
        ),
    ],
)
def test_bad_fields(change: dict[str, Any], expected: str) -> None:
    assert error_line(run(with_changes(**change))) == expected


def test_consent_must_be_a_boolean() -> None:
    doc = with_changes()
    doc["case"]["numbers"][0]["consent"] = "yes"
    assert error_line(run(doc)).startswith("error: case.numbers[0].consent: ")


def test_invalid_json_and_wrong_top_level() -> None:
    assert error_line(run("{not json")).startswith("error: input: invalid JSON: ")
    assert error_line(run("[]")).startswith("error: input: ")


def test_unknown_profile() -> None:
    line = error_line(run(ISSUE_INPUT, profile="nope"))
    assert line == (
        "error: --profile: unknown compliance profile 'nope' "
        "(available: cn_ifac, uk_ofcom, us_tsr_regf)"
    )


def test_unreadable_input_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = runner.invoke(
        compliance_app, ["evaluate", "--profile", "us_tsr_regf", "--input", str(missing)]
    )
    assert error_line(result).startswith(f"error: --input: cannot read '{missing}'")


def test_profiles_dir_and_a_broken_profile(tmp_path: Path) -> None:
    (tmp_path / "house.yaml").write_text("name: house\nversion: 1\n")
    result = run(ISSUE_INPUT, "--profiles-dir", str(tmp_path), profile="house")
    line = error_line(result)
    assert line.startswith(f"error: {tmp_path / 'house.yaml'}: calling_hours: ")
    src = Path(__file__).resolve().parents[2] / "config" / "compliance" / "uk_ofcom.yaml"
    (tmp_path / "uk_ofcom.yaml").write_text(src.read_text())
    result = run(ISSUE_INPUT, "--profiles-dir", str(tmp_path), profile="uk_ofcom")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["allowed"] is True  # UK has no conversation lockout
