"""`dialer run`: the daemon in the foreground, with a live summary on a terminal."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from dialer.cli.common import ConfigOption, console, fail, settings_from
from dialer.daemon import Daemon, StartupError


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
    settings = settings_from(config)
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
