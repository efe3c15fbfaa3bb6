"""`dialer run`: the daemon in the foreground, with a live summary on a terminal.

No silent stops: whatever fails before the daemon is ready (a setting the start-up checks
refuse, a store that cannot be reached, a port already taken, any error inside the run
before its first dial) ends the command at once with one line naming the reason and a
non-zero status (2: the settings, 1: anything else), so a supervisor (systemd) sees the
failure and restarts or reports it. The traceback goes to the log at DEBUG level.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime
from typing import Annotated, NoReturn

import typer
from rich.live import Live
from rich.table import Table

from dialer.cli.common import ConfigOption, console, fail, settings_from
from dialer.daemon import Daemon, StartupError

log = logging.getLogger(__name__)


class NotReady(Exception):
    """The daemon failed before it was ready; the message says why in one line."""


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
    clock_anchor: Annotated[
        datetime | None,
        typer.Option(
            help="The real time at which the daemon's clock reads --clock-start (default: "
            "when it starts). Daemons sharing a store at --speed > 1 need the same one."
        ),
    ] = None,
) -> None:
    """Run the daemon: migrate the store, load the demo portfolio if empty, and dial."""
    settings = settings_from(config)
    if speed <= 0 or speed > 1000:
        fail("--speed must be in (0, 1000]")
    for name, given in (("--clock-start", clock_start), ("--clock-anchor", clock_anchor)):
        if given is not None and given.tzinfo is None:
            fail(f"{name} needs a time zone, e.g. 2026-03-02T15:00:00+00:00")
    if clock_anchor is not None and clock_start is None:
        fail("--clock-anchor needs --clock-start")
    start = clock_start.timestamp() if clock_start is not None else None
    anchor = clock_anchor.timestamp() if clock_anchor is not None else None
    daemon = Daemon(settings, speed=speed, clock_start=start, seed=seed, clock_anchor=anchor)

    async def main() -> None:
        try:
            report = await daemon.prepare()
        except StartupError:
            raise
        except Exception as exc:
            raise NotReady(_reason("the daemon could not start", exc)) from exc
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
        await _ready_or_failed(daemon, task)
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
        _fail_with(group, 2)
    except* NotReady as group:
        _fail_with(group, 1)
    except* KeyboardInterrupt:
        sys.exit(130)


async def _ready_or_failed(daemon: Daemon, task: asyncio.Task[None]) -> None:
    """Wait until the daemon is ready; if its run ends first, raise why (a run that ends
    before it was ready is a failure even without an exception)."""
    ready = asyncio.create_task(daemon.wait_ready())
    try:
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if ready.done() and not ready.cancelled():
        return
    try:
        await task
    except StartupError:
        raise
    except BaseExceptionGroup as group:
        startup, rest = group.split(StartupError)
        if startup is not None:
            raise _first(startup) from None
        raise NotReady(_reason("the daemon failed before it was ready", _first(rest))) from group
    except Exception as exc:
        raise NotReady(_reason("the daemon failed before it was ready", exc)) from exc
    raise NotReady("the daemon stopped before it was ready")


def _first(error: BaseException | None) -> BaseException:
    """The first leaf of a (possibly nested) exception group."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert error is not None
    return error


def _reason(what: str, exc: BaseException) -> str:
    log.debug("%s", what, exc_info=exc)
    detail = str(exc).strip().splitlines()
    first = detail[0] if detail else ""
    return f"{what}: {type(exc).__name__}" + (f": {first}" if first else "")


def _fail_with(group: BaseExceptionGroup[Exception], code: int) -> NoReturn:
    fail(str(_first(group)), code)


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
        inbound: dict[str, float] = snap.get("inbound") or {}  # type: ignore[assignment]
        if inbound.get("offered"):
            rows.append(("inbound", _inbound_words(inbound)))
    return rows


def _inbound_words(stats: dict[str, float]) -> str:
    """Return calls: offered, and what became of them (the engine's InboundStats)."""
    answered = int(stats["answered"])
    wait = f", mean wait {stats['wait_seconds'] / answered:.0f} s" if answered else ""
    parts = [
        f"{int(stats[key])} {words}"
        for key, words in (
            ("abandoned", "hung up waiting"),
            ("callbacks", "asked for a callback"),
            ("voicemails", "left a voicemail"),
            ("unanswered", "unanswered"),
        )
        if stats[key]
    ]
    rest = f"; {', '.join(parts)}" if parts else ""
    return f"{int(stats['offered'])} offered, {answered} answered{wait}{rest}"


def _summary_table(daemon: Daemon, final: bool = False) -> Table:
    table = Table(title="final summary" if final else "dialer (Ctrl-C to stop)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in _summary_rows(daemon):
        table.add_row(what, value)
    return table
