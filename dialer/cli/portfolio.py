"""`dialer import-cases` and `dialer demo-data`: loading a portfolio, and writing a
synthetic one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from dialer.cli.common import ConfigOption, console, err_console, fail, settings_from
from dialer.settings import SettingsError


def import_cases(
    file: Annotated[Path, typer.Argument(help="CSV portfolio (see README for columns).")],
    campaign: Annotated[str, typer.Option(help="Campaign to load the cases into.")],
    config: ConfigOption = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Load the good rows; write rejects to a file.")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default FILE.rejects.csv).")
    ] = None,
) -> None:
    """Load a portfolio. Nothing is written if any row is bad, unless --skip-bad."""
    from dialer.portfolio.csv_import import ImportFileError
    from dialer.portfolio.csv_import import import_cases as run_import
    from dialer.store.db import create_engine, session_factory
    from dialer.store.db import migrate as run_migrate
    from dialer.store.org_repo import CampaignRepository

    settings = settings_from(config)
    if not file.exists():
        fail(f"{file}: no such file")
    try:
        campaign_settings = settings.campaign(campaign)
    except SettingsError as exc:
        fail(str(exc))
    rejects_path = rejects or (file.with_suffix(".rejects.csv") if skip_bad else None)

    async def main() -> object:
        await run_migrate(settings.database.url)
        engine = create_engine(settings.database.url)
        sessions = session_factory(engine)
        try:
            async with sessions() as session, session.begin():
                await CampaignRepository(session).upsert(
                    campaign,
                    pacing_mode=campaign_settings.pacing.mode,
                    compliance_profile=campaign_settings.compliance_profile,
                    caller_id=campaign_settings.caller_id,
                )
            return await run_import(
                sessions, file, campaign, settings.default_region, skip_bad, rejects_path
            )
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(main())
    except ImportFileError as exc:
        fail(f"{file}: {exc}")
    from dialer.portfolio.csv_import import ImportReport

    assert isinstance(report, ImportReport)
    for error in report.errors[:50]:
        err_console.print(
            f"{file}:{error.line}: {error.reason}", markup=False, highlight=False, soft_wrap=True
        )
    if len(report.errors) > 50:
        err_console.print(f"... and {len(report.errors) - 50} more bad rows", markup=False)
    console.print(report.summary(), markup=False, highlight=False)
    if report.rejects_path is not None and report.errors:
        console.print(f"rejected rows written to {report.rejects_path}", markup=False)
    if not report.committed:
        raise typer.Exit(1)


def demo_data(
    cases: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many cases.")] = 500,
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("var/demo-cases.csv"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Write a synthetic portfolio (fictional numbers from reserved ranges) as CSV."""
    import numpy as np

    from dialer.portfolio.demo import generate_portfolio, write_csv

    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(generate_portfolio(cases, np.random.default_rng(seed)), out)
    console.print(f"wrote {cases} synthetic cases to {out}", highlight=False)
