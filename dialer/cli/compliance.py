"""`dialer compliance …` commands (mounted by dialer.cli as `compliance`).

`evaluate` reads one JSON document (a file or `-` for stdin), evaluates it under a profile
and prints one JSON line. Bad input or an unknown profile: one line on stderr,
`error: <field>: <reason>`, exit status 2. `report` (implemented in
`dialer.cli.compliance_report`, which reads the store) prints a campaign's report.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    ValidationError,
)
from pydantic import field_validator as _field_validator

from dialer.compliance.evaluate import evaluate
from dialer.compliance.profiles import ProfileError, UnknownProfileError, load_profile
from dialer.compliance.timezones import is_valid_zone
from dialer.domain.model import (
    Case,
    CaseFlag,
    ContactOutcome,
    ContactRecord,
    NumberType,
    PhoneNumber,
)

compliance_app = typer.Typer(
    help="Compliance profiles: evaluate a case against the rules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

EXIT_BAD_INPUT = 2


def _iso_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date-time string such as '2026-03-02T14:05:00Z'")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberIn(_In):
    e164: str
    type: NumberType
    consent: StrictBool
    dnc: StrictBool


class CaseIn(_In):
    ref: str
    timezone: str | None = None
    flags: list[CaseFlag] = []
    numbers: list[NumberIn]

    @_field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_zone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    def to_case(self) -> Case:
        return Case(
            ref=self.ref,
            timezone=self.timezone,
            flags=frozenset(f.value for f in self.flags),
            numbers=tuple(
                PhoneNumber(e164=n.e164, type=n.type, consent=n.consent, dnc=n.dnc)
                for n in self.numbers
            ),
        )


class RecordIn(_In):
    at: Instant
    number: str
    outcome: ContactOutcome

    def to_record(self) -> ContactRecord:
        return ContactRecord(at=self.at, number=self.number, outcome=self.outcome)


class EvaluateInput(_In):
    now: Instant
    case: CaseIn
    number: str
    history: list[RecordIn] = []


class InputError(ValueError):
    """One-line, field-naming description of bad input."""


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "input"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        reason = "missing field"
    elif kind == "extra_forbidden":
        reason = "unknown field"
    elif kind == "enum":
        names = [p for p in loc if isinstance(p, str)]
        label = names[-1] if names else "value"
        label = {"flags": "flag"}.get(label, label)
        reason = f"unknown {label} {error['input']!r}"
    else:
        reason = str(error["msg"]).removeprefix("Value error, ")
        reason = reason[:1].lower() + reason[1:]
    return f"{_loc(loc)}: {reason}"


def parse_input(text: str) -> tuple[EvaluateInput, Case, list[ContactRecord], datetime]:
    """Parse the evaluate input document; raises InputError with a one-line message."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"input: invalid JSON: {exc}") from None
    try:
        doc = EvaluateInput.model_validate(data)
    except ValidationError as exc:
        raise InputError(_describe(exc.errors(include_url=False)[0])) from None
    return doc, doc.case.to_case(), [r.to_record() for r in doc.history], doc.now


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(f"--input: cannot read {source!r}: {reason}") from None


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@compliance_app.callback()
def _group() -> None:
    """Compliance profiles and rules."""


@compliance_app.command("evaluate")
def evaluate_command(
    profile: Annotated[str, typer.Option("--profile", help="Profile name, e.g. us_tsr_regf.")],
    input_: Annotated[
        str, typer.Option("--input", help="JSON input file, or - for standard input.")
    ],
    profiles_dir: Annotated[
        Path | None,
        typer.Option("--profiles-dir", help="Directory of profile YAML files."),
    ] = None,
) -> None:
    """Evaluate one case and number at one instant; print the decision as JSON.

    Exit status 0 whether or not the call is allowed; 2 on bad input or an unknown profile.
    """
    try:
        loaded = load_profile(profile, profiles_dir)
    except UnknownProfileError as exc:
        raise _fail(f"--profile: {exc.reason}") from None
    except ProfileError as exc:
        raise _fail(str(exc)) from None
    try:
        doc, case, history, now = parse_input(_read(input_))
    except InputError as exc:
        raise _fail(str(exc)) from None
    decision = evaluate(loaded, case, doc.number, history, now)
    typer.echo(json.dumps(decision.to_json()))


@compliance_app.command("report")
def report_command(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign name, as configured.")],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Settings file (default: $DIALER_CONFIG or config/dialer.yaml)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """A campaign's abandon rate and budget left over the profile's window, and its open
    cases blocked now, by reason.

    Exit status 2 on bad settings or an unknown campaign or profile; 1 if the store fails.
    """
    # The store half lives outside this package, which imports only dialer.domain.
    from dialer.cli.compliance_report import report_command as run_report

    run_report(campaign, config, as_json)
