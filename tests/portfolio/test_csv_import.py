"""CSV import: good files, bad rows in both modes, re-imports, file-level errors."""

from __future__ import annotations

import csv
import re
import stat
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.domain.model import Bucket, CaseFlag, NumberType
from dialer.portfolio.csv_import import ImportFileError, import_cases
from dialer.portfolio.demo import generate_portfolio, write_csv
from dialer.store.db import session_factory
from dialer.store.repositories import CampaignRepository, CaseRepository, CollectorRepository
from dialer.store.tables import CaseNumber, CaseRow

Factory = async_sessionmaker[AsyncSession]
HEADER = "debtor_ref,name,phone,balance,days_past_due"


@pytest.fixture
async def factory(migrated_engine: AsyncEngine) -> Factory:
    factory = session_factory(migrated_engine)
    async with factory() as session, session.begin():
        await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")
        await CollectorRepository(session).upsert("alice", team="north")
    return factory


def write(tmp_path: Path, text: str, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def cases_by_ref(factory: Factory) -> dict[str, CaseRow]:
    async with factory() as session:
        return {row.debtor_ref: row for row in await session.scalars(select(CaseRow))}


async def numbers_of(factory: Factory, case_id: int) -> list[tuple[str, str, bool]]:
    async with factory() as session:
        rows = await session.scalars(
            select(CaseNumber).where(CaseNumber.case_id == case_id).order_by(CaseNumber.position)
        )
        return [(n.e164, n.type, n.consent) for n in rows]


GOOD = """\
debtor_ref,name,phone,phone2,phone2_type,balance,days_past_due,timezone,bucket,owner,skills,consent,do_not_call
D1,John Smith,(212) 555-0101,+1 312 555 0102,work,1200.50,45,,,alice,es; late,,
D2,Ann Lee,+1 907 555 0150,,,10,0,,,,,no,
D3,Bo Ek,+44 20 7946 0123,,,99.99,200,Europe/London,m6,,,true,yes
"""


async def test_good_file(factory: Factory, tmp_path: Path) -> None:
    report = await import_cases(factory, write(tmp_path, GOOD), "demo", "US")
    assert report.ok and report.committed
    assert (report.rows, report.inserted, report.updated, report.rejected) == (3, 3, 0, 0)
    cases = await cases_by_ref(factory)
    d1, d2, d3 = cases["D1"], cases["D2"], cases["D3"]
    assert d1.display_name_masked == "J*** S****" and d1.balance == Decimal("1200.50")
    assert (d1.timezone, d1.bucket, d1.skills) == ("America/New_York", "M2", ["es", "late"])
    assert await numbers_of(factory, d1.id) == [
        ("+12125550101", NumberType.DEBTOR.value, True),
        ("+13125550102", NumberType.WORK.value, True),
    ]
    async with factory() as session:
        detail = await CaseRepository(session).get(d1.id)
    assert detail is not None and (detail.case.owner, detail.case.team) == ("alice", "north")
    assert d2.timezone is None and d2.bucket == Bucket.CURRENT.value  # Alaska: two zones
    assert await numbers_of(factory, d2.id) == [("+19075550150", "debtor", False)]
    assert (d3.timezone, d3.bucket, d3.do_not_call) == ("Europe/London", "M6", True)


BAD = """\
debtor_ref,name,phone,balance,days_past_due,bucket,timezone,owner
G1,Good One,+1 212 555 0111,10,5,,,
B1,Johnathan Doe,+1 212 555 019,10,5,,,
B2,Bad Two,+1 212 555 0112,-3,5,,,
B3,Bad Three,+1 212 555 0113,12.345,x,M9,Mars/Base,
G2,"Good
Two",+1 212 555 0114,10,5,,,
B4,Bad Four,not a number,10,5,,,
B5,,+1 212 555 0115,10,5,,,
B6,Bad Six,+1 212 555 0116,10,5,,,nobody
B7,Bad Seven,+1 212 555 0117,10
G1,Dup One,+1 212 555 0118,10,5,,,
"""
BAD_LINES = [3, 4, 5, 8, 9, 10, 11, 12]


def assert_masked(reasons: list[str]) -> None:
    for reason in reasons:
        assert not re.search(r"\d{3,}", reason), reason  # no phone digits beyond the last 2
        assert "Johnathan" not in reason and "Doe" not in reason


async def test_bad_rows_write_nothing_by_default(factory: Factory, tmp_path: Path) -> None:
    report = await import_cases(factory, write(tmp_path, BAD), "demo", "US")
    assert not report.committed and not report.ok
    assert (report.inserted, report.updated, report.rejected) == (0, 0, len(BAD_LINES))
    assert [error.line for error in report.errors] == BAD_LINES
    reasons = {error.line: error.reason for error in report.errors}
    assert "phone: not a valid phone number (+********19)" in reasons[3]
    assert reasons[4] == "balance: negative"
    for fragment in ("balance: more than 2", "days_past_due", "bucket", "time zone"):
        assert fragment in reasons[5]
    assert "phone: cannot parse" in reasons[8] and reasons[9] == "name: empty"
    assert reasons[10] == "owner: no such collector"
    assert reasons[11] == "expected 8 fields, found 4" and "repeats line 2" in reasons[12]
    assert_masked(list(reasons.values()))
    assert await cases_by_ref(factory) == {}
    assert "NOT imported" in report.summary()


async def test_skip_bad_loads_good_rows_and_writes_rejects(
    factory: Factory, tmp_path: Path
) -> None:
    rejects = tmp_path / "out" / "rejects.csv"
    report = await import_cases(factory, write(tmp_path, BAD), "demo", "US", True, rejects)
    assert report.committed and (report.inserted, report.rejected) == (2, len(BAD_LINES))
    cases = await cases_by_ref(factory)
    assert sorted(cases) == ["G1", "G2"] and cases["G2"].display_name_masked == "G*** T**"
    with rejects.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["line"]) for row in rows] == BAD_LINES
    # As in the file, but a cell a spreadsheet would take for a formula gets an apostrophe.
    assert rows[0]["name"] == "Johnathan Doe" and rows[0]["phone"] == "'+1 212 555 019"
    assert rows[1]["balance"] == "'-3"
    assert all(row["reason"] for row in rows)
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600  # it holds debtor data


async def test_reimport_updates_without_duplicates(factory: Factory, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    await import_cases(factory, path, "demo", "US")
    first = await cases_by_ref(factory)
    changed = GOOD.replace("1200.50,45", "800.00,75").replace("+1 312 555 0102", "")
    changed += ",".join(["D4", "New Case", "+1 213 555 0199", "", "", "5", "1", *[""] * 6]) + "\n"
    report = await import_cases(factory, write(tmp_path, changed), "demo", "US")
    assert (report.inserted, report.updated, report.rejected) == (1, 3, 0)
    again = await cases_by_ref(factory)
    assert sorted(again) == ["D1", "D2", "D3", "D4"]
    assert again["D1"].id == first["D1"].id
    assert (again["D1"].balance, again["D1"].bucket) == (Decimal("800.00"), "M3")
    assert await numbers_of(factory, first["D1"].id) == [("+12125550101", "debtor", True)]
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(CaseNumber)) == 4
        detail = await CaseRepository(session).get(first["D3"].id)
    assert detail is not None and CaseFlag.DO_NOT_CALL in detail.case.flags


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("debtor_ref,name,phone,balance\nD1,A B,+12125550101,1\n", "days_past_due"),
        ("", "empty file"),
        (HEADER + ",phone,\n", "repeated column"),
    ],
)
async def test_file_level_errors(factory: Factory, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        await import_cases(factory, write(tmp_path, text), "demo", "US")


async def test_unknown_campaign_and_missing_file(factory: Factory, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="unknown campaign"):
        await import_cases(factory, write(tmp_path, GOOD), "nope", "US")
    with pytest.raises(ImportFileError, match="cannot read"):
        await import_cases(factory, tmp_path / "missing.csv", "demo", "US")


async def test_ten_thousand_demo_rows(factory: Factory, tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    write_csv(generate_portfolio(10_000, np.random.default_rng(7)), path)
    started = time.perf_counter()
    first = await import_cases(factory, path, "demo", "US")
    second = await import_cases(factory, path, "demo", "US")
    elapsed = time.perf_counter() - started
    assert (first.inserted, first.rejected, second.updated, second.inserted) == (
        10_000,
        0,
        10_000,
        0,
    )
    print(f"10k rows: insert {first.seconds:.2f} s, update {second.seconds:.2f} s")
    assert elapsed < 60  # a guard against accidental row-by-row writes, not a benchmark
