"""CSV portfolio import: validate every row, then upsert the cases in one transaction.

A problem with the file itself (unreadable, a required column missing, unknown campaign,
the store refusing the rows) raises `ImportFileError`; nothing is written then. Problems
with rows are collected for all rows, each with its CSV line number (the header is line 1)
and the column, and never quote a cell in clear (dialer.portfolio.cells masks what they
show). By default one bad row means nothing is written; with `skip_bad` the good rows
load.

Rows the store could not take are refused before it sees them, on SQLite as on
PostgreSQL: a NUL byte in any cell; numbers outside their columns; text a spreadsheet
would run as a formula (a debtor_ref, name, owner, team or skill starting with =, +, -, @,
a tab or a carriage return) is refused, not altered: a changed debtor_ref would no longer
match the creditor's. The rejects file puts an apostrophe before every cell that could
start a formula (and shows NUL as U+2400), so opening it in a spreadsheet runs nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import phonenumbers
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.domain.model import Bucket, PhoneNumber
from dialer.portfolio import cells
from dialer.privacy import mask_name
from dialer.store.records import DebtorIdentity, NewCase
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
    # The identity a collector verifies (sealed at rest; docs/privacy.md).
    *("account_ref", "date_of_birth", "postcode", "address"),
)
PHONE_COLUMNS = (("phone", "phone_type"), ("phone2", "phone2_type"), ("phone3", "phone3_type"))
_MAX_TEXT = {
    **{"debtor_ref": 64, "name": 200, "owner": 100, "team": 100},
    **{"account_ref": 64, "address": 200},
}
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

    try:
        async with session_factory() as session, session.begin():
            info = await CampaignRepository(session).get_by_name(campaign)
            if info is None:
                raise ImportFileError(f"unknown campaign {campaign!r}: configure it first")
            rows, unresolved = await _resolve_people(session, rows)
            errors = sorted(errors + unresolved, key=lambda error: error.line)
            committed = skip_bad or not errors
            inserted = updated = 0
            if committed and rows:
                cases = [r.case for r in rows]
                result = await CaseRepository(session).upsert_many(info.id, cases)
                inserted, updated = result.inserted, result.updated
            if rejects_path is not None:  # before the commit: no rejects file, no import
                _write_rejects(rejects_path, header, dict(records), errors)
    except SQLAlchemyError as exc:
        # The message names the kind of refusal only: the statement's parameters are debtors'.
        raise ImportFileError(
            f"the store refused the import ({_store_refusal(exc)}); nothing was written"
        ) from None
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
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:  # also a file without a header line: its first row is never quoted
        raise ImportFileError(f"{path}: missing required column(s): {', '.join(missing)}")
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        names = ", ".join(c if c in known else cells.shown(c) for c in repeated)
        raise ImportFileError(f"{path}: repeated column(s) in header: {names}")
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
    nul = [column for column, value in zip(header, fields, strict=True) if cells.NUL in value]
    if nul:
        return RowError(line, "; ".join(f"{column}: contains a NUL byte" for column in nul))
    row = _Fields(header, fields)
    row.problems += [f"{column}: empty" for column in REQUIRED_COLUMNS if not row.get(column)]
    row.problems += cells.formula_problems(header, fields)
    row.problems += [
        f"{column}: longer than {limit} characters"
        for column, limit in _MAX_TEXT.items()
        if len(row.get(column)) > limit
    ]
    if row.problems:
        return RowError(line, "; ".join(row.problems))

    consent = row.parse("consent", lambda v: cells.parse_bool(v, default=True))
    numbers: dict[str, PhoneNumber] = {}  # by E.164: a repeated number adds nothing
    first: phonenumbers.PhoneNumber | None = None
    for column, type_column in PHONE_COLUMNS:
        if row.get(column):
            parsed = row.parse(column, lambda v: cells.parse_phone(v, region))
            kind = row.parse(type_column, cells.parse_number_type)
            if parsed is not None and kind is not None:
                first = first or parsed
                e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                numbers.setdefault(e164, PhoneNumber(e164, kind, consent is not False))
    balance = row.parse("balance", cells.parse_balance)
    dpd = row.parse("days_past_due", cells.parse_days_past_due)
    bucket = row.parse("bucket", cells.parse_bucket)
    zone = row.parse("timezone", cells.parse_timezone)
    currency = row.parse("currency", lambda v: cells.parse_currency(v or default_currency))
    born = row.parse("date_of_birth", cells.parse_date_of_birth)
    postcode = row.parse("postcode", cells.parse_postcode)
    flags = {
        name: row.parse(name, lambda v: cells.parse_bool(v, default=False))
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
        timezone=zone or cells.zone_of(first),
        skills=tuple(dict.fromkeys(skill for skill in skills if skill)),
        do_not_call=bool(flags["do_not_call"]),
        cease_communication=bool(flags["cease_communication"]),
        disputed=bool(flags["disputed"]),
        identity=DebtorIdentity(
            name=row.get("name"),
            account_ref=row.get("account_ref") or None,
            date_of_birth=born,
            postcode=postcode,
            address=row.get("address") or None,
        ),
    )
    return _Row(line, case, row.get("owner") or None, row.get("team") or None)


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


def _store_refusal(exc: SQLAlchemyError) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return type(exc.orig).__name__
    return type(exc).__name__


def _write_rejects(
    path: Path, header: list[str], records: dict[int, list[str]], errors: Sequence[RowError]
) -> None:
    """The bad rows as they were (cells.defused, see `cells.defused`) plus `line` and `reason`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow([cells.defused(column) for column in [*header, "line", "reason"]])
            for error in errors:
                fields = records[error.line][: len(header)]
                fields += [""] * (len(header) - len(fields))
                writer.writerow(
                    [cells.defused(cell) for cell in [*fields, str(error.line), error.reason]]
                )
    except OSError as exc:
        raise ImportFileError(
            f"cannot write the rejects file {path}: {exc.strerror or exc}; nothing was imported"
        ) from None
