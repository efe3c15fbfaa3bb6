"""The `dialer` command."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from dialer.compliance.cli import compliance_app
from dialer.daemon import Daemon
from dialer.logs import setup_logging
from dialer.settings import Settings, SettingsError, load_settings
from dialer.web.cli_users import user_app
from simulation.cli import bench_pacing, simulate

app = typer.Typer(
    help="dialer: predictive dialer and collections orchestration daemon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(compliance_app, name="compliance")
app.add_typer(user_app, name="user")
bench_app = typer.Typer(help="Benchmarks (figures with their baselines).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
app.command("simulate", help="Run a scenario in virtual time with one or more pacers.")(simulate)
bench_app.command("pacing", help="The standard scenario suite: tables, plots, field results.")(
    bench_pacing
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (default: $DIALER_CONFIG or config/dialer.yaml)."
    ),
]
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    setup_logging(settings.logging.level, settings.logging.format)
    return settings


@app.command()
def run(
    config: ConfigOption = None,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds and print a summary.")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Run the simulated carrier and collectors this much faster.")
    ] = 1.0,
    clock_start: Annotated[
        datetime | None,
        typer.Option(
            help="Start the daemon's clock at this time (demos and tests), e.g. "
            "2026-03-02T15:00:00+00:00."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the simulated parts.")] = None,
) -> None:
    """Run the daemon: migrate the store, load the demo portfolio if empty, and dial."""
    from dialer.daemon import StartupError

    settings = _settings(config)
    if speed <= 0 or speed > 1000:
        fail("--speed must be in (0, 1000]")
    if clock_start is not None and clock_start.tzinfo is None:
        fail("--clock-start needs a time zone, e.g. 2026-03-02T15:00:00+00:00")
    start = clock_start.timestamp() if clock_start is not None else None
    daemon = Daemon(settings, speed=speed, clock_start=start, seed=seed)

    async def main() -> None:
        report = await daemon.prepare()
        console.print(
            f"store {report.database}: "
            + ", ".join(f"campaign {n} with {c} cases" for n, c in report.campaigns.items())
            + "".join(
                f"; demo portfolio of {n} cases loaded into {c}"
                for c, n in report.demo_loaded.items()
            )
            + f"; trunk {report.trunk}; {report.collectors} simulated collectors",
            highlight=False,
        )
        task = asyncio.create_task(daemon.run(duration))
        await daemon.wait_ready()
        if console.is_terminal:
            with Live(_summary_table(daemon), console=console, refresh_per_second=2) as live:
                while not task.done():
                    live.update(_summary_table(daemon))
                    await asyncio.wait({task}, timeout=0.5)
        await task
        console.print(_summary_table(daemon, final=True))

    try:
        asyncio.run(main())
    except* StartupError as group:
        fail(str(group.exceptions[0]))
    except* KeyboardInterrupt:
        sys.exit(130)


def _summary_rows(daemon: Daemon) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name, snap in daemon.summary().items():
        counts: dict[str, int] = snap["counts"]  # type: ignore[assignment]
        live = int(snap["live_answers"])  # type: ignore[call-overload]
        abandoned = int(snap["abandoned"])  # type: ignore[call-overload]
        people = ", ".join(
            f"{state} {counts[state]}"
            for state in ("ready", "reserved", "on_call", "wrap_up", "paused")
            if counts.get(state)
        )
        rate = f"{abandoned / live:.2%}" if live else "-"
        rows += [
            ("campaign", f"{name} (pacer {snap['pacer']})"),
            ("dials", str(snap["dials"])),
            ("live answers", str(live)),
            ("abandons", f"{abandoned} (rate {rate})"),
            ("collectors", people or "none logged in"),
            ("occupancy", f"{float(snap['occupancy']):.1%}"),  # type: ignore[arg-type]
            ("hopper", f"{snap['hopper']} cases"),
        ]
    return rows


def _summary_table(daemon: Daemon, final: bool = False) -> Table:
    table = Table(title="final summary" if final else "dialer (Ctrl-C to stop)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in _summary_rows(daemon):
        table.add_row(what, value)
    return table


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply the database migrations (creates the SQLite file if needed)."""
    from dialer.store.db import migrate as run_migrate

    settings = _settings(config)
    asyncio.run(run_migrate(settings.database.url))
    console.print("database is at the latest schema", highlight=False)


@app.command("import-cases")
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
    from dialer.importer import ImportFileError
    from dialer.importer import import_cases as run_import
    from dialer.store.db import create_engine, session_factory
    from dialer.store.db import migrate as run_migrate
    from dialer.store.org_repo import CampaignRepository

    settings = _settings(config)
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
    from dialer.importer import ImportReport

    assert isinstance(report, ImportReport)
    for error in report.errors[:50]:
        err_console.print(f"{file}:{error.line}: {error.reason}", markup=False, highlight=False)
    if len(report.errors) > 50:
        err_console.print(f"... and {len(report.errors) - 50} more bad rows", markup=False)
    console.print(report.summary(), markup=False, highlight=False)
    if report.rejects_path is not None and report.errors:
        console.print(f"rejected rows written to {report.rejects_path}", markup=False)
    if not report.committed:
        raise typer.Exit(1)


@app.command("demo-data")
def demo_data(
    cases: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many cases.")] = 500,
    out: Annotated[Path, typer.Option(help="CSV file to write.")] = Path("var/demo-cases.csv"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Write a synthetic portfolio (fictional numbers from reserved ranges) as CSV."""
    import numpy as np

    from dialer.demo_data import generate_portfolio, write_csv

    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(generate_portfolio(cases, np.random.default_rng(seed)), out)
    console.print(f"wrote {cases} synthetic cases to {out}", highlight=False)


@app.command("config")
def show_config(config: ConfigOption = None) -> None:
    """Validate the settings and print them as resolved (secrets hidden)."""
    settings = _settings(config)
    console.print_json(settings.model_dump_json(exclude={"web": {"session_secret"}}))


def main() -> None:  # pragma: no cover - console entry point
    app()
