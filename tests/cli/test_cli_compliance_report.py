"""`dialer compliance report` against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dialer.cli import app
from dialer.cli import compliance_report as compliance_report_cli
from dialer.cli.compliance import compliance_app
from dialer.domain.model import (
    CaseStatus,
    ContactOutcome,
)
from dialer.portfolio.csv_import import import_cases
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.repositories import (
    AttemptRepository,
    CampaignRepository,
    CaseRepository,
    LedgerRepository,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # Monday: 10:00 in New York, 07:00 in LA
runner = CliRunner()


# ----- a real store ---------------------------------------------------------------------------

CSV = """\
debtor_ref,name,phone,phone_type,phone2,phone2_type,balance,days_past_due,do_not_call,cease_communication,disputed
D1,Ann One,+12125550101,,,,100,40,,,
D2,Bob Two,+12125550102,,,,100,40,,,
D3,Cy Three,+12125550103,,,,100,40,,,
D4,Di Four,+12125550104,,,,100,40,yes,,
D5,Ed Five,+13105550105,,,,100,40,,,
D6,Fay Six,+12125550106,,,,100,40,,,
D7,Gil Seven,+12125550107,third_party_refused,+12125550117,debtor,100,40,,,
D8,Hal Eight,+12125550108,,,,100,40,,yes,
D9,Ivy Nine,+13105550109,,,,100,40,,,yes
"""
SETTINGS = """\
database:
  url: {url}
campaigns:
  - {{name: east, compliance_profile: us_tsr_regf}}
  - {{name: west, compliance_profile: us_tsr_regf}}
  - {{name: uk, compliance_profile: uk_ofcom, caller_id: "+442079460000"}}
  - {{name: cn, compliance_profile: cn_ifac}}
  - {{name: later, compliance_profile: us_tsr_regf}}
"""


async def _populate(url: str, tmp_path: Path) -> None:
    await migrate(url)
    engine = create_engine(url)
    factory = session_factory(engine)
    try:
        async with factory() as session, session.begin():
            campaigns = CampaignRepository(session)
            ids = {
                name: await campaigns.upsert(name, compliance_profile=profile)
                for name, profile in [
                    ("east", "us_tsr_regf"),
                    ("west", "us_tsr_regf"),
                    ("uk", "uk_ofcom"),
                    ("cn", "cn_ifac"),
                ]
            }
        portfolio = tmp_path / "east.csv"
        portfolio.write_text(CSV, encoding="utf-8")
        report = await import_cases(factory, portfolio, "east", "US")
        assert report.ok and report.inserted == 9, report.summary()
        west = tmp_path / "west.csv"
        west.write_text(CSV.splitlines()[0] + "\nW1,Wes,+12125550199,,,,5,3,,,\n")
        assert (await import_cases(factory, west, "west", "US")).inserted == 1
        uk = tmp_path / "uk.csv"
        uk.write_text(
            "debtor_ref,name,phone,balance,days_past_due\n"
            "U1,Una,+442079460123,50,10\nU2,Ula,+442079460188,50,10\n"
        )
        assert (await import_cases(factory, uk, "uk", "GB")).inserted == 2

        async with factory() as session, session.begin():
            cases = CaseRepository(session)
            east = {ref: await cases.id_for_ref(ids["east"], ref) for ref in ("D2", "D3", "D6")}
            await cases.set_status(_id(east["D6"]), CaseStatus.PAID)
            attempts = AttemptRepository(session)
            seq = iter(range(1000))

            async def attempt(
                campaign: str, case_id: int | None, number: str, at: datetime, outcome: str | None
            ) -> None:
                call_id = f"call-{next(seq)}"
                await attempts.start(call_id, _id(case_id), ids[campaign], number, at)
                if outcome is not None:
                    ended = at + timedelta(seconds=30)
                    await attempts.finish(call_id, ContactOutcome(outcome), ended_at=ended)

            # D2: a conversation yesterday -> locked out for 7 days
            await attempt(
                "east", east["D2"], "+12125550102", NOW - timedelta(days=1), "conversation"
            )
            # D3: 6 attempts and one still in flight within 7 local days -> attempt cap
            for days in (5, 4, 3, 2, 1):
                at = NOW - timedelta(days=days)
                await attempt("east", east["D3"], "+12125550103", at, "no_answer")
            await attempt("east", east["D3"], "+12125550103", NOW - timedelta(hours=1), "busy")
            await attempt("east", east["D3"], "+12125550103", NOW - timedelta(minutes=1), None)
            # U1: abandoned 71 h ago -> locked out; U2: abandoned 72 h ago -> callable
            u1 = await cases.id_for_ref(ids["uk"], "U1")
            u2 = await cases.id_for_ref(ids["uk"], "U2")
            await attempt("uk", u1, "+442079460123", NOW - timedelta(hours=71), "abandoned")
            await attempt("uk", u2, "+442079460188", NOW - timedelta(hours=72), "abandoned")

            ledger = LedgerRepository(session)
            for campaign, age, live, dropped in [
                ("east", timedelta(days=29), 400, 5),
                ("east", timedelta(hours=1), 600, 7),
                ("east", timedelta(days=31), 500, 100),  # outside the 30 days
                ("west", timedelta(hours=1), 10, 10),
                ("uk", timedelta(hours=23), 1000, 30),
                ("uk", timedelta(hours=25), 100, 50),  # outside the 24 h
                ("cn", timedelta(hours=2), 200, 9),
            ]:
                await ledger.record(ids[campaign], NOW - age, live, dropped)
    finally:
        await engine.dispose()


def _id(value: int | None) -> int:
    assert value is not None
    return value


@pytest.fixture
def config(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file naming a populated store; the report's clock reads NOW."""
    asyncio.run(_populate(db_url, tmp_path))
    path = tmp_path / "dialer.yaml"
    path.write_text(SETTINGS.format(url=json.dumps(db_url)), encoding="utf-8")
    monkeypatch.setattr(compliance_report_cli, "utcnow", lambda: NOW)
    for name in ("DIALER_CONFIG", "DIALER_DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    return path


def report(config: Path, campaign: str, *extra: str) -> Any:
    result = runner.invoke(
        compliance_app, ["report", "--campaign", campaign, "--config", str(config), *extra]
    )
    return result


def report_json(config: Path, campaign: str) -> dict[str, Any]:
    result = report(config, campaign, "--json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_report_json_of_a_us_campaign(config: Path) -> None:
    doc = report_json(config, "east")
    assert doc == {
        "campaign": "east",
        "profile": "us_tsr_regf v2",
        "now": "2026-03-02T15:00:00Z",
        "abandonment": {
            "since": "2026-01-31T15:00:00Z",
            "window_seconds": 2592000,
            "live_answers": 1000,
            "abandons": 12,
            "rate": pytest.approx(0.012),
            "cap": 0.03,
            "strict": False,
            "within_cap": True,
            "budget": {"abandons_left": pytest.approx(18.0), "share_left": pytest.approx(0.6)},
        },
        "cases": {
            "open": 8,  # D6 is paid
            "callable_now": 2,  # D1, and D7 on its second number
            "blocked_now": 6,
            "blocked_for_good": 3,  # D4, D8, D9
            "blocked_by_reason": {
                "outside_calling_hours": 2,  # D5, D9: 07:00 in Los Angeles
                "attempt_cap": 1,
                "cease_communication": 1,
                "disputed": 1,
                "do_not_call": 1,
                # D2's conversation, and D3's open attempt: an attempt without an outcome
                # reads as interrupted, a conversation for the lockout (docs/compliance.md).
                "post_conversation_lockout": 2,
            },
        },
    }


def test_report_json_of_a_uk_campaign_at_the_cap(config: Path) -> None:
    doc = report_json(config, "uk")
    a = doc["abandonment"]
    assert (a["window_seconds"], a["live_answers"], a["abandons"]) == (86400, 1000, 30)
    assert a["rate"] == pytest.approx(0.03)
    assert a["strict"] is True
    assert a["within_cap"] is False  # "less than 3 %"
    assert a["budget"] == {"abandons_left": pytest.approx(0.0), "share_left": pytest.approx(0.0)}
    assert doc["cases"] == {
        "open": 2,
        "callable_now": 1,  # U2: abandoned 72 h ago
        "blocked_now": 1,
        "blocked_for_good": 0,
        "blocked_by_reason": {"abandon_lockout": 1},  # U1: 71 h ago
    }


def test_report_json_of_a_campaign_without_a_cap_or_cases(config: Path) -> None:
    doc = report_json(config, "cn")
    a = doc["abandonment"]
    assert (a["live_answers"], a["abandons"], a["window_seconds"]) == (200, 9, 86400)
    assert a["rate"] == pytest.approx(0.045)
    assert (a["cap"], a["strict"], a["within_cap"], a["budget"]) == (None, None, None, None)
    assert doc["cases"]["open"] == 0
    assert doc["cases"]["blocked_by_reason"] == {}


def words(table: str) -> str:
    """The table's text without its box drawing, words separated by single spaces."""
    return " ".join(table.translate({c: " " for c in range(0x2500, 0x2580)}).split())


def test_report_table(config: Path) -> None:
    result = runner.invoke(app, ["compliance", "report", "--campaign", "east", "-c", str(config)])
    assert result.exit_code == 0, result.output
    text = words(result.stdout)
    for expected in (
        "campaign east, profile us_tsr_regf v2, at 2026-03-02 15:00:00 UTC",
        "window 30 days, since 2026-01-31 15:00 UTC",
        "live answers 1000",
        "abandons 12",
        "abandon rate 1.20 %",
        "cap <= 3.00 %",
        "within the cap yes",
        "budget left 18.0 of 30.0 abandons (60.00 %)",
        "open 8 100.00 %",
        "callable now 2 25.00 %",
        "blocked now 6 75.00 %",
        "blocked for good 3 37.50 %",
        "blocked: outside_calling_hours 2 25.00 %",
        "blocked: post_conversation_lockout 2 25.00 %",
    ):
        assert expected in text, (expected, result.stdout)
    assert "within the cap NO" in words(report(config, "uk").stdout)
    cn = words(report(config, "cn").stdout)
    assert "cap none in the profile" in cn
    assert "window 24 h" in cn


def one_error_line(result: Any, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


def test_unknown_campaign(config: Path) -> None:
    line = one_error_line(report(config, "nope"))
    assert line == (
        "error: --campaign: unknown campaign 'nope' (configured: cn, east, later, uk, west)"
    )


def test_campaign_not_yet_in_the_store(config: Path) -> None:
    line = one_error_line(report(config, "later", "--json"))
    assert line.startswith("error: --campaign: campaign 'later' is not in the store yet")


def test_bad_settings(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    path.write_text("database:\n  url: mysql://x\n")
    line = one_error_line(report(path, "east"))
    assert line.startswith(f"error: {path}: database.url:")
    missing = one_error_line(report(tmp_path / "missing.yaml", "east"))
    assert missing == f"error: {tmp_path / 'missing.yaml'}: no such configuration file"


def test_unknown_profile(tmp_path: Path) -> None:
    path = tmp_path / "dialer.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    path.write_text(
        f"database: {{url: {json.dumps(url)}}}\n"
        "campaigns: [{name: east, compliance_profile: us_tsr_regx}]\n"
    )
    line = one_error_line(report(path, "east"))
    assert line.startswith("error: campaign 'east': unknown compliance profile 'us_tsr_regx'")


def test_store_failure(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("not a directory")
    url = f"sqlite+aiosqlite:///{tmp_path / 'blocker' / 'x.db'}"
    path = tmp_path / "dialer.yaml"
    path.write_text(
        f"database: {{url: {json.dumps(url)}}}\n"
        "campaigns: [{name: east, compliance_profile: us_tsr_regf}]\n"
    )
    line = one_error_line(report(path, "east"), code=1)
    assert line.startswith("error: store: ")
