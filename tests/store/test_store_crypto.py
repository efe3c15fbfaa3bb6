"""Debtor data sealed at rest: the AEAD round trip, tampering refused, the key file, key
rotation, the blind index for lookups and de-duplication, migration 0007 sealing rows
written before it, the identity import columns, and a database dump with no clear debtor
data in it (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.portfolio.csv_import import import_cases
from dialer.settings import PrivacySettings
from dialer.store import keyfile, rekey
from dialer.store.crypto import Keyring, SealError, install, installed, key_id_of
from dialer.store.db import create_engine, downgrade, migrate, session_factory
from dialer.store.identity_repo import IdentityRepository
from dialer.store.repositories import CampaignRepository, CaseRepository
from dialer.store.tables import CallAttempt, CaseNumber, CaseRow

Factory = async_sessionmaker[AsyncSession]
PORTFOLIO = """\
debtor_ref,name,phone,phone2,balance,days_past_due,account_ref,date_of_birth,postcode,address
D1,Katherine Yellowstone,+1 212 555 0187,+1 312 555 0142,120.50,45,ACC-77341,1971-04-09,10013,\
12 Hudson Street
D2,Marmaduke Quillfeather,+44 20 7946 0321,,99.99,200,ACC-99120,1988-11-30,SW1A 1AA,
"""
CLEAR = (
    "Katherine",
    "Yellowstone",
    "Quillfeather",
    "2125550187",
    "3125550142",
    "2079460321",
    "ACC-77341",
    "1971-04-09",
    "Hudson",
    "SW1A",
)


def ring(*ids: str, current: str | None = None) -> Keyring:
    keys = {key_id: key_id.encode().ljust(32, b"x")[:32] for key_id in ids}
    return Keyring(keys, current=current or ids[-1], index_key_id=ids[0])


@pytest.fixture
async def factory(migrated_engine: AsyncEngine) -> Factory:
    factory = session_factory(migrated_engine)
    async with factory() as session, session.begin():
        await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")
    return factory


async def load(factory: Factory, tmp_path: Path, body: str = PORTFOLIO) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(body)
    report = await import_cases(factory, path, "demo", "US")
    assert report.ok and report.committed, report.errors


def test_round_trip_and_tampering_refused() -> None:
    keyring = ring("k1")
    sealed = keyring.seal("+12125550187", "case_numbers.e164")
    assert "2125550187" not in sealed and key_id_of(sealed) == "k1"
    assert keyring.open(sealed, "case_numbers.e164") == "+12125550187"
    assert keyring.seal("+12125550187", "case_numbers.e164") != sealed  # a fresh nonce
    version, key_id, token = sealed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1] ^= 1
    tampered = f"{version}.{key_id}." + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(SealError, match="integrity") as refused:
        keyring.open(tampered, "case_numbers.e164")
    assert "2125550187" not in str(refused.value)
    with pytest.raises(SealError):  # moved to another column
        keyring.open(sealed, "cases.debtor_name")
    with pytest.raises(SealError, match="unknown key"):
        ring("k2").open(sealed, "case_numbers.e164")
    assert ring("k1", "k2").open(sealed, "case_numbers.e164") == "+12125550187"


def test_blind_index_is_keyed_and_survives_rotation() -> None:
    one, rotated, other = ring("k1"), ring("k1", "k2"), ring("k9")
    assert one.blind_index("+12125550187") == one.blind_index("+12125550187")
    assert one.blind_index("+12125550187") != one.blind_index("+12125550188")
    assert rotated.blind_index("+12125550187") == one.blind_index("+12125550187")
    assert other.blind_index("+12125550187") != one.blind_index("+12125550187")


def test_key_file_made_0600_at_first_start_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "privacy-keys.json"
    made = keyfile.keyring_from(PrivacySettings(key_file=path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keyfile.keyring_from(PrivacySettings(key_file=path))
    assert again.keys == made.keys and again.current == made.current
    rotated = keyfile.add_key(path)
    data = json.loads(path.read_text())
    assert data["current"] == rotated.current != made.current
    assert set(data["keys"]) == {made.current, rotated.current}
    assert data["index"] == made.current  # equal numbers keep equal indexes
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    env = keyfile.keyring_from(PrivacySettings(key=base64.b64encode(b"e" * 32).decode()))
    assert env.current.startswith("e") and env.open(env.seal("x", "l"), "l") == "x"
    with pytest.raises(keyfile.KeyFileError, match=r"privacy\.key"):
        keyfile.keyring_from(PrivacySettings(key="c2hvcnQ="))


async def test_numbers_and_identity_sealed_and_read_back(
    factory: Factory, tmp_path: Path, privacy_keyring: str
) -> None:
    await load(factory, tmp_path)
    async with factory() as session:
        raw = (await session.execute(text("SELECT e164, e164_index FROM case_numbers"))).all()
        assert all(value.startswith(f"v1.{privacy_keyring}.") for value, _ in raw)
        assert all(len(index) == 64 for _, index in raw)
        d1 = await session.scalar(select(CaseRow).where(CaseRow.debtor_ref == "D1"))
        assert d1 is not None and d1.display_name_masked == "K******** Y**********"
        assert (d1.debtor_name, d1.account_ref) == ("Katherine Yellowstone", "ACC-77341")
        assert (d1.date_of_birth, d1.postcode) == ("1971-04-09", "10013")
        detail = await CaseRepository(session).get(d1.id)
        assert detail is not None
        assert [n.e164 for n in detail.case.numbers] == ["+12125550187", "+13125550142"]


async def test_blind_index_finds_and_deduplicates(factory: Factory, tmp_path: Path) -> None:
    await load(factory, tmp_path)
    async with factory() as session, session.begin():
        case_id = await CaseRepository(session).id_for_ref(1, "D1")
        assert case_id is not None
        await CaseRepository(session).set_number_dnc(case_id, "+13125550142")
    await load(factory, tmp_path)  # a re-import: numbers replaced, the DNC mark kept
    async with factory() as session:
        rows = list(await session.scalars(select(CaseNumber).where(CaseNumber.case_id == case_id)))
        assert {(n.e164, n.dnc) for n in rows} == {("+12125550187", False), ("+13125550142", True)}
        with pytest.raises(TypeError, match="blind index"):
            select(CaseNumber).where(CaseNumber.e164 == "+12125550187")
    twice = PORTFOLIO.replace("+1 312 555 0142", "(212) 555-0187")  # one number, twice
    await load(factory, tmp_path, twice)
    async with factory() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM case_numbers WHERE case_id = :c"), {"c": case_id}
        )
        assert count == 1


async def test_rotation_reseals_every_row(
    factory: Factory, tmp_path: Path, privacy_keyring: str
) -> None:
    await load(factory, tmp_path)
    old = installed()
    assert old is not None
    new = Keyring(
        {**old.keys, "knew00001": b"n" * 32}, current="knew00001", index_key_id=old.index_key_id
    )
    async with factory() as session, session.begin():
        before = await rekey.census(session)
        changed = await rekey.rotate(session, new)
    assert changed == sum(before.values()) and set(before) == {privacy_keyring}
    install(new)
    async with factory() as session:
        assert await rekey.census(session) == {"knew00001": changed}
        d1 = await session.scalar(select(CaseRow).where(CaseRow.debtor_ref == "D1"))
        assert d1 is not None and d1.debtor_name == "Katherine Yellowstone"
        assert await CaseRepository(session).id_for_ref(1, "D1") == d1.id
    install(Keyring({"knew00001": b"n" * 32}, current="knew00001", index_key_id="knew00001"))
    async with factory() as session:  # the old key is no longer needed to read anything
        detail = await CaseRepository(session).get(d1.id)
        assert detail is not None and detail.case.numbers[0].e164 == "+12125550187"


async def test_identity_read_is_audited(factory: Factory, tmp_path: Path) -> None:
    await load(factory, tmp_path)
    async with factory() as session, session.begin():
        case_id = await CaseRepository(session).id_for_ref(1, "D1")
        assert case_id is not None
        who = await IdentityRepository(session).read(
            case_id, actor="alice", role="collector", reason="routed_call"
        )
        assert who is not None and who.name == "Katherine Yellowstone"
        assert who.date_of_birth is not None and who.date_of_birth.isoformat() == "1971-04-09"
        with pytest.raises(ValueError, match="reason"):
            await IdentityRepository(session).read(case_id, actor="x", role="x", reason="curious")
    async with factory() as session:
        audit = await IdentityRepository(session).audit_of(case_id)
    assert [(a.actor, a.reason) for a in audit] == [("alice", "routed_call")]


async def test_bad_identity_values_are_line_numbered_errors(
    factory: Factory, tmp_path: Path
) -> None:
    body = PORTFOLIO + "D3,Al Bo,+1 212 555 0111,,5,1,=cmd(),1971-02-30,10013,\n"
    body += "D4,Cy Do,+1 212 555 0112,,5,1,ACC-1,2999-01-01,<script>,\n"
    path = tmp_path / "bad.csv"
    path.write_text(body)
    report = await import_cases(factory, path, "demo", "US")
    assert not report.committed
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {4, 5}
    assert "account_ref" in reasons[4] and "formula" in reasons[4]
    assert "date_of_birth" in reasons[5] and "postcode" in reasons[5]


async def dump(url: str, engine: AsyncEngine) -> str:
    """Every stored value as text: sqlite3's .dump, or every row of every table."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[1]
        with sqlite3.connect(database) as connection:
            return "\n".join(connection.iterdump())
    lines: list[str] = []
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            for row in await connection.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(" ".join(str(value) for value in row))
    return "\n".join(lines)


async def test_a_dump_holds_no_clear_debtor_data(
    factory: Factory, migrated_engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with factory() as session, session.begin():
        case_id = await CaseRepository(session).id_for_ref(1, "D1")
        session.add(
            CallAttempt(
                case_id=case_id,
                campaign_id=1,
                number_e164="+12125550187",
                call_id="c1",
                dialed_at=datetime.now(UTC),
            )
        )
    text_of_db = await dump(db_url, migrated_engine)
    assert "K******** Y**********" in text_of_db  # the dump is real: the masked name is in it
    found = [clear for clear in CLEAR if clear in text_of_db.replace(" ", "")]
    assert found == []
    digits = "".join(c for c in text_of_db if c.isdigit() or c == "\n")
    assert "2125550187" not in digits.replace("\n", "|")


async def test_0007_seals_rows_written_before_it(db_url: str, privacy_keyring: str) -> None:
    await migrate(db_url, "0006")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO campaigns (name, pacing_mode, pacing_params, compliance_profile,"
                    " active, created_at) VALUES ('c', 'progressive', '{}', 'us_tsr_regf', true,"
                    " CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO cases (campaign_id, debtor_ref, display_name_masked, balance,"
                    " currency, days_past_due, bucket, status, skills, priority, do_not_call,"
                    " cease_communication, disputed, debtor_unreachable, created_at, updated_at)"
                    " VALUES (1, 'D1', 'K** Y******', 10, 'USD', 1, 'M0', 'open', '[]', 0,"
                    " false, false, false, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO case_numbers (case_id, e164, type, consent, dnc, position)"
                    " VALUES (1, '+12125550187', 'debtor', true, true, 0)"
                )
            )
        await migrate(db_url)
        async with engine.connect() as connection:
            value, _index = (
                await connection.execute(text("SELECT e164, e164_index FROM case_numbers"))
            ).one()
        assert value.startswith(f"v1.{privacy_keyring}.") and "2125550187" not in value
        factory = session_factory(engine)
        async with factory() as session, session.begin():
            await CaseRepository(session).set_number_dnc(1, "+12125550187", dnc=False)
            detail = await CaseRepository(session).get(1)
            assert detail is not None and detail.display_name_masked == "K** Y******"
            assert detail.case.numbers[0].e164 == "+12125550187"
            row = await session.get(CaseRow, 1)
            assert row is not None and row.debtor_name is None  # never stored in the clear
        async with factory() as session:
            number = await session.scalar(select(CaseNumber))
            assert number is not None and number.dnc is False  # found by its blind index
    finally:
        await engine.dispose()


def test_0007_downgrade_opens_the_numbers_again(db_url: str) -> None:
    async def seed() -> None:
        await migrate(db_url)
        engine = create_engine(db_url)
        try:
            factory = session_factory(engine)
            async with factory() as session, session.begin():
                await CampaignRepository(session).upsert("demo", compliance_profile="us_tsr_regf")
            async with factory() as session, session.begin():
                session.add(
                    CaseRow(
                        campaign_id=1,
                        debtor_ref="D1",
                        display_name_masked="A B",
                        balance=1,
                        currency="USD",
                        days_past_due=1,
                        bucket="M0",
                    )
                )
            async with factory() as session, session.begin():
                session.add(
                    CaseNumber(
                        case_id=1, e164="+12125550187", e164_index="i", type="debtor", position=0
                    )
                )
        finally:
            await engine.dispose()

    async def read() -> str:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as connection:
                return str(
                    (await connection.execute(text("SELECT e164 FROM case_numbers"))).scalar()
                )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    downgrade(db_url, "0006")
    assert asyncio.run(read()) == "+12125550187"
