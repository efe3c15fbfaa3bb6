"""CSV portfolio import: validate every row, then upsert the cases in one transaction.

A problem with the file itself (unreadable, a required column missing, unknown campaign)
raises `ImportFileError`. Problems with rows are collected for all rows, each with its CSV
line number (the header is line 1), and never quote a phone number or a name in clear.
By default one bad row means nothing is written; with `skip_bad` the good rows load.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.domain.model import Bucket, NumberType, PhoneNumber
from dialer.privacy import mask_name, mask_phone
from dialer.store.records import NewCase
from dialer.store.repositories import (
    CampaignRepository,
    CaseRepository,
    CollectorRepository,
    TeamRepository,
)

REQUIRED_COLUMNS = ("debtor_ref", "name", "phone", "balance", "days_past_due")
OPTIONAL_COLUMNS = (
    *("phone2", "phone3", "phone_type", "phone2_type", "phone3_type", "consent"),
    *("timezone", "bucket", "currency", "owner", "team", "skills"),
    *("do_not_call", "cease_communication", "disputed"),
)
PHONE_COLUMNS = (("phone", "phone_type"), ("phone2", "phone2_type"), ("phone3", "phone3_type"))
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_MAX_BALANCE = Decimal(10) ** 12  # Numeric(14, 2)
_MAX_TEXT = {"debtor_ref": 64, "name": 200, "owner": 100, "team": 100}
_UNKNOWN_ZONE = "Etc/Unknown"
_T = TypeVar("_T")


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing was written."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    campaign: str
    rows: int
    inserted: int
    updated: int
    rejected: int
    committed: bool  # False when bad rows stopped the whole import
    seconds: float
    errors: tuple[RowError, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    rejects_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def summary(self) -> str:
        state = "imported" if self.committed else "NOT imported (bad rows; use --skip-bad)"
        return (
            f"campaign {self.campaign}: {self.rows} rows {state}: {self.inserted} inserted, "
            f"{self.updated} updated, {self.rejected} rejected in {self.seconds:.2f} s"
        )


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    case: NewCase
    owner: str | None
    team: str | None


async def import_cases(
    session_factory: async_sessionmaker[AsyncSession],
    path: Path,
    campaign: str,
    default_region: str,
    skip_bad: bool = False,
    rejects_path: Path | None = None,
    *,
    currency: str = "USD",
) -> ImportReport:
    """Import the portfolio at `path` into `campaign` (which must exist).

    `rejects_path`, when given, receives the bad rows as they were in the file plus `line`
    and `reason` columns (it holds debtor data, so it is created readable by its owner only).
    """
    started = time.perf_counter()
    header, records = _read_csv(path)
    rows: list[_Row] = []
    errors: list[RowError] = []
    for line, fields in records:
        parsed = _parse_row(line, header, fields, default_region, currency)
        if isinstance(parsed, RowError):
            errors.append(parsed)
        else:
            rows.append(parsed)
    duplicates = _duplicate_refs(rows)
    errors += duplicates
    duplicate_lines = {error.line for error in duplicates}
    rows = [row for row in rows if row.line not in duplicate_lines]

    async with session_factory() as session, session.begin():
        info = await CampaignRepository(session).get_by_name(campaign)
        if info is None:
            raise ImportFileError(f"unknown campaign {campaign!r}: configure it first")
        rows, unresolved = await _resolve_people(session, rows)
        errors = sorted(errors + unresolved, key=lambda error: error.line)
        committed = skip_bad or not errors
        inserted = updated = 0
        if committed and rows:
            result = await CaseRepository(session).upsert_many(info.id, [r.case for r in rows])
            inserted, updated = result.inserted, result.updated
    if rejects_path is not None:
        _write_rejects(rejects_path, header, dict(records), errors)
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    return ImportReport(
        campaign=campaign,
        rows=len(records),
        inserted=inserted,
        updated=updated,
        rejected=len(errors),
        committed=committed,
        seconds=time.perf_counter() - started,
        errors=tuple(errors),
        ignored_columns=tuple(column for column in header if column not in known),
        rejects_path=rejects_path,
    )


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (stripped, lower-case) and (first line number, fields) of each record."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = [column.strip().lower() for column in next(reader, [])]
            records: list[tuple[int, list[str]]] = []
            line = reader.line_num + 1
            for fields in reader:
                if fields:  # blank lines are not records
                    records.append((line, fields))
                line = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(f"{path}: cannot read: {exc}") from exc
    if not header:
        raise ImportFileError(f"{path}: empty file (no header line)")
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise ImportFileError(f"{path}: repeated column(s) in header: {', '.join(repeated)}")
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ImportFileError(f"{path}: missing required column(s): {', '.join(missing)}")
    return header, records


class _Fields:
    """A row's stripped values, with parse problems collected instead of raised."""

    def __init__(self, header: list[str], fields: list[str]) -> None:
        self.raw = {column: value.strip() for column, value in zip(header, fields, strict=True)}
        self.problems: list[str] = []

    def get(self, column: str) -> str:
        return self.raw.get(column, "")

    def parse(self, column: str, parser: Callable[[str], _T]) -> _T | None:
        try:
            return parser(self.get(column))
        except ValueError as exc:
            self.problems.append(f"{column}: {exc}")
            return None


def _parse_row(
    line: int, header: list[str], fields: list[str], region: str, default_currency: str
) -> _Row | RowError:
    if len(fields) != len(header):
        return RowError(line, f"expected {len(header)} fields, found {len(fields)}")
    row = _Fields(header, fields)
    row.problems += [f"{column}: empty" for column in REQUIRED_COLUMNS if not row.get(column)]
    row.problems += [
        f"{column}: longer than {limit} characters"
        for column, limit in _MAX_TEXT.items()
        if len(row.get(column)) > limit
    ]
    if row.problems:
        return RowError(line, "; ".join(row.problems))

    consent = row.parse("consent", lambda v: _parse_bool(v, default=True))
    numbers: dict[str, PhoneNumber] = {}  # by E.164: a repeated number adds nothing
    first: phonenumbers.PhoneNumber | None = None
    for column, type_column in PHONE_COLUMNS:
        if row.get(column):
            parsed = row.parse(column, lambda v: _parse_phone(v, region))
            kind = row.parse(type_column, _parse_number_type)
            if parsed is not None and kind is not None:
                first = first or parsed
                e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                numbers.setdefault(e164, PhoneNumber(e164, kind, consent is not False))
    balance = row.parse("balance", _parse_balance)
    dpd = row.parse("days_past_due", _parse_days_past_due)
    bucket = row.parse("bucket", _parse_bucket)
    zone = row.parse("timezone", _parse_timezone)
    currency = row.parse("currency", lambda v: _parse_currency(v or default_currency))
    flags = {
        name: row.parse(name, lambda v: _parse_bool(v, default=False))
        for name in ("do_not_call", "cease_communication", "disputed")
    }
    if row.problems or balance is None or dpd is None or currency is None:
        return RowError(line, "; ".join(row.problems))
    skills = (skill.strip() for skill in row.get("skills").split(";"))
    case = NewCase(
        debtor_ref=row.get("debtor_ref"),
        display_name_masked=mask_name(row.get("name")),
        balance=balance,
        days_past_due=dpd,
        bucket=bucket or Bucket.for_days_past_due(dpd),
        numbers=tuple(numbers.values()),
        currency=currency,
        timezone=zone or _zone_of(first),
        skills=tuple(dict.fromkeys(skill for skill in skills if skill)),
        do_not_call=bool(flags["do_not_call"]),
        cease_communication=bool(flags["cease_communication"]),
        disputed=bool(flags["disputed"]),
    )
    return _Row(line, case, row.get("owner") or None, row.get("team") or None)


def _parse_phone(value: str, region: str) -> phonenumbers.PhoneNumber:
    # The reason quotes the number masked: errors end up in logs and terminals.
    masked = mask_phone(value) or "no digits"
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"cannot parse a phone number ({masked})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number ({masked})")
    return parsed


def _zone_of(number: phonenumbers.PhoneNumber | None) -> str | None:
    """The number's time zone when it has exactly one; several are left to compliance."""
    if number is None:
        return None
    zones = phone_timezones.time_zones_for_number(number)
    return zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else None


def _parse_number_type(value: str) -> NumberType:
    try:
        return NumberType(value.lower()) if value else NumberType.DEBTOR
    except ValueError:
        choices = ", ".join(t.value for t in NumberType)
        raise ValueError(f"unknown number type {value!r} (one of {choices})") from None


def _parse_bool(value: str, default: bool) -> bool:
    lowered = value.lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _parse_balance(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not a number: {value!r}")
    if amount < 0:
        raise ValueError("negative")
    if amount >= _MAX_BALANCE:
        raise ValueError("too large")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("more than 2 decimal places")  # rounding money silently is worse
    return amount.quantize(Decimal("0.01"))


def _parse_days_past_due(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None
    if days < 0:
        raise ValueError("negative")
    return days


def _parse_bucket(value: str) -> Bucket | None:
    if not value:
        return None  # derived from days past due
    try:
        return Bucket(value.upper())
    except ValueError:
        raise ValueError(f"unknown bucket {value!r} (M0..M6 or WO)") from None


def _parse_timezone(value: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("America")
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _parse_currency(value: str) -> str:
    code = value.upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO 4217 code: {value!r}")
    return code


def _duplicate_refs(rows: Sequence[_Row]) -> list[RowError]:
    first_line: dict[str, int] = {}
    errors = []
    for row in rows:
        ref = row.case.debtor_ref
        if ref in first_line:
            errors.append(RowError(row.line, f"debtor_ref repeats line {first_line[ref]}"))
        else:
            first_line[ref] = row.line
    return errors


async def _resolve_people(
    session: AsyncSession, rows: list[_Row]
) -> tuple[list[_Row], list[RowError]]:
    """Turn owner usernames and team names into ids; unknown ones make the row bad."""
    collectors = await CollectorRepository(session).ids_by_username(
        row.owner for row in rows if row.owner
    )
    teams = await TeamRepository(session).ids_by_name(row.team for row in rows if row.team)
    resolved, errors = [], []
    for row in rows:
        problems = []
        owner_id = team_id = None
        if row.owner:
            if row.owner in collectors:
                owner_id, team_id = collectors[row.owner]
            else:
                problems.append("owner: no such collector")
        if row.team:
            if row.team in teams:
                team_id = teams[row.team]
            else:
                problems.append("team: no such team")
        if problems:
            errors.append(RowError(row.line, "; ".join(problems)))
        else:
            case = dataclasses.replace(row.case, owner_collector_id=owner_id, team_id=team_id)
            resolved.append(dataclasses.replace(row, case=case))
    return resolved, errors


def _write_rejects(
    path: Path, header: list[str], records: dict[int, list[str]], errors: Sequence[RowError]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([*header, "line", "reason"])
        for error in errors:
            fields = records[error.line][: len(header)]
            fields += [""] * (len(header) - len(fields))
            writer.writerow([*fields, error.line, error.reason])
