"""`dialer compliance report`: read one campaign from the store, print its compliance report.

The I/O half of the command (the figures are built by the pure `dialer.compliance.report`):
load the settings, the campaign's profile, the abandonment ledger's totals over the
profile's window, and every open case with its contact history, read in chunks.

Errors are one line on standard error: bad settings, an unknown campaign or profile (exit
status 2); the store failing (exit status 1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import typer
from alembic.util import CommandError
from rich.console import Console, Group
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.compliance.profiles import ProfileError, UnknownProfileError, load_profile
from dialer.compliance.report import (
    AbandonSummary,
    CaseTally,
    ComplianceReport,
    abandon_window,
    build_report,
    history_since,
)
from dialer.domain.model import Case, CaseFlag, CaseStatus, ContactRecord, NumberType, PhoneNumber
from dialer.settings import Settings, SettingsError, load_settings
from dialer.store.attempts_repo import LedgerRepository, contact_history
from dialer.store.db import create_engine, migrate, session_factory
from dialer.store.keyfile import KeyFileError, install_from
from dialer.store.org_repo import CampaignRepository
from dialer.store.tables import CaseNumber, CaseRow

EXIT_BAD_INPUT = 2
EXIT_STORE_FAILED = 1
CHUNK = 1000  # cases per read: bounded memory, and IN lists under every backend's limit
OPEN_STATUSES = (CaseStatus.OPEN.value, CaseStatus.PROMISED.value)  # what the hopper selects
_FLAG_COLUMNS = tuple((flag.value, getattr(CaseRow, flag.value)) for flag in CaseFlag)


class ReportError(Exception):
    """A one-line reason the report cannot be made, and the exit status."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def utcnow() -> datetime:
    return datetime.now(UTC)


# ----- reading the store ----------------------------------------------------------------------


async def open_cases(
    session: AsyncSession, campaign_id: int, since: datetime
) -> AsyncIterator[tuple[Case, tuple[ContactRecord, ...]]]:
    """Every open case of the campaign (status open or promised) with its contact history
    since `since`, in id order, read CHUNK cases at a time."""
    last_id = 0
    while True:
        rows = (
            await session.execute(
                select(CaseRow.id, CaseRow.timezone, *(column for _, column in _FLAG_COLUMNS))
                .where(
                    CaseRow.campaign_id == campaign_id,
                    CaseRow.status.in_(OPEN_STATUSES),
                    CaseRow.id > last_id,
                )
                .order_by(CaseRow.id)
                .limit(CHUNK)
            )
        ).all()
        if not rows:
            return
        ids = [row[0] for row in rows]
        numbers = await _numbers(session, ids)
        histories = await contact_history(session, ids, since)
        for case_id, timezone, *flags in rows:
            case = Case(
                ref=str(case_id),
                numbers=numbers.get(case_id, ()),
                timezone=timezone,
                flags=frozenset(
                    name for (name, _), on in zip(_FLAG_COLUMNS, flags, strict=True) if on
                ),
            )
            yield case, histories.get(case_id, ())
        last_id = ids[-1]


async def _numbers(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, tuple[PhoneNumber, ...]]:
    found: dict[int, list[PhoneNumber]] = {}
    result = await session.execute(
        select(
            CaseNumber.case_id, CaseNumber.e164, CaseNumber.type, CaseNumber.consent, CaseNumber.dnc
        )
        .where(CaseNumber.case_id.in_(case_ids))
        .order_by(CaseNumber.case_id, CaseNumber.position)
    )
    for case_id, e164, kind, consent, dnc in result.tuples():
        found.setdefault(case_id, []).append(PhoneNumber(e164, NumberType(kind), consent, dnc))
    return {case_id: tuple(numbers) for case_id, numbers in found.items()}


async def collect_report(settings: Settings, campaign: str, now: datetime) -> ComplianceReport:
    """The report of `campaign` at `now`, read from the store named in `settings`."""
    configured = {c.name: c for c in settings.campaigns}
    if campaign not in configured:
        known = ", ".join(sorted(configured)) or "none"
        raise ReportError(f"--campaign: unknown campaign {campaign!r} (configured: {known})")
    try:
        profile = load_profile(configured[campaign].compliance_profile, settings.compliance_dir)
    except UnknownProfileError as exc:
        raise ReportError(f"campaign {campaign!r}: {exc.reason}") from None
    except ProfileError as exc:
        raise ReportError(str(exc)) from None
    url = settings.database.url
    engine = create_engine(url)
    try:
        await migrate(url)
        async with session_factory(engine)() as session:
            info = await CampaignRepository(session).get_by_name(campaign)
            if info is None:
                raise ReportError(
                    f"--campaign: campaign {campaign!r} is not in the store yet "
                    "(the daemon adds it when it starts)"
                )
            totals = await LedgerRepository(session).rate(info.id, now - abandon_window(profile))
            tally = CaseTally(profile, now)
            async for case, history in open_cases(session, info.id, history_since(profile, now)):
                tally.add(case, history)
    finally:
        await engine.dispose()
    return build_report(
        campaign,
        profile,
        now,
        live_answers=totals.live_answers,
        abandons=totals.abandons,
        cases=tally,
    )


# ----- output ---------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _abandon_table(a: AbandonSummary) -> Table:
    table = Table(title="Abandoned calls", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    hours = a.window_seconds / 3600
    window = f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} h"
    table.add_row("window", f"{window}, since {a.since:%Y-%m-%d %H:%M} UTC")
    table.add_row("live answers", str(a.live_answers))
    table.add_row("abandons", str(a.abandons))
    table.add_row("abandon rate", _percent(a.rate))
    if a.cap is None:
        table.add_row("cap", "none in the profile")
        return table
    table.add_row("cap", ("< " if a.strict else "<= ") + _percent(a.cap))
    table.add_row("within the cap", "yes" if a.within_cap else "NO")
    assert a.abandons_left is not None and a.allowance is not None
    table.add_row(
        "budget left",
        f"{a.abandons_left:.1f} of {a.allowance:.1f} abandons ({_percent(a.share_left)})",
    )
    return table


def _cases_table(report: ComplianceReport) -> Table:
    c = report.cases
    table = Table(
        title="Open cases now",
        title_justify="left",
        caption="A blocked case counts under every reason that blocks one of its numbers.",
        caption_justify="left",
    )
    table.add_column("open cases")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")

    def share(count: int) -> str:
        return _percent(count / c.open_cases) if c.open_cases else "-"

    table.add_row("open", str(c.open_cases), share(c.open_cases))
    table.add_row("callable now", str(c.callable_now), share(c.callable_now))
    table.add_row("blocked now", str(c.blocked_now), share(c.blocked_now))
    table.add_row("blocked for good", str(c.blocked_for_good), share(c.blocked_for_good))
    if c.by_reason:
        table.add_section()
    for reason, count in c.by_reason.items():
        table.add_row(f"blocked: {reason}", str(count), share(count))
    return table


def render(report: ComplianceReport) -> Group:
    """The report as rich tables."""
    title = (
        f"Compliance report: campaign {report.campaign}, profile {report.profile}, "
        f"at {report.now:%Y-%m-%d %H:%M:%S} UTC"
    )
    return Group(title, _abandon_table(report.abandonment), _cases_table(report))


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code)


def report_command(
    campaign: str, config: Path | None, as_json: bool, now: datetime | None = None
) -> None:
    """Print the compliance report of `campaign` (`dialer compliance report`)."""
    try:
        settings = load_settings(config)
        install_from(settings.privacy)  # the numbers are sealed at rest
    except (SettingsError, KeyFileError) as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    at = now or utcnow()
    try:
        report = asyncio.run(collect_report(settings, campaign, at))
    except ReportError as exc:
        raise _fail(str(exc), exc.code) from None
    except (SQLAlchemyError, CommandError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc  # the driver's message, without the SQL
        raise _fail(f"store: {reason}", EXIT_STORE_FAILED) from None
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        Console(highlight=False).print(render(report))
