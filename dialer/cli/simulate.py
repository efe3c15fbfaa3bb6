"""The ``dialer simulate`` and ``dialer bench pacing`` commands as plain functions.

``dialer.cli`` mounts them (``app.command("simulate")(simulate)`` and
``bench.command("pacing")(bench_pacing)``); they carry their own typer annotations. A bad
scenario or pacer name prints one line on stderr and exits with status 2, no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simulation.report import PacerResult, format_table, results_json
from simulation.run import check_pacer, process_pool, run_replications
from simulation.scenario import ScenarioError, load_scenario, resolve_scenario

__all__ = ["bench_pacing", "simulate"]

USAGE_ERROR = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(USAGE_ERROR)


def simulate(
    scenario: Annotated[
        Path,
        typer.Argument(
            help="Scenario YAML file, or the name of a shipped one (s1-exp-n10, b1, ...)."
        ),
    ],
    pacer: Annotated[
        list[str] | None,
        typer.Option(
            "--pacer",
            help="Pacer to compare (repeatable): manual, progressive, ratio:K, adaptive, "
            "predictive, blind:RATE. Default: progressive.",
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option("--replications", "-r", min=1, help="Shifts simulated per pacer.")
    ] = 10,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Random seed (default: the scenario's `seed` key)."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the results as JSON here.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Worker processes (results are equal).")
    ] = 1,
) -> None:
    """Simulate a campaign shift in virtual time with each pacer and compare them."""
    try:
        loaded = load_scenario(resolve_scenario(scenario))
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    pacers = pacer or ["progressive"]
    for spec in pacers:
        try:
            check_pacer(spec, loaded)
        except ValueError as exc:
            raise _fail(f"--pacer: {exc}") from None
    run_seed = loaded.seed if seed is None else seed
    pool = process_pool(jobs)
    try:
        results = [
            PacerResult(
                spec,
                loaded.abandon_cap,
                tuple(run_replications(loaded, spec, replications, run_seed, pool)),
            )
            for spec in pacers
        ]
    finally:
        if pool is not None:
            pool.shutdown()
    typer.echo(format_table(loaded.name, results))
    if json_out is not None:
        document = json.dumps(results_json(loaded.name, results), indent=2)
        json_out.write_text(document + "\n", encoding="utf-8")


def bench_pacing(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the Markdown report, plots and JSON.")
    ] = Path("docs/bench"),
    replications: Annotated[
        int, typer.Option("--replications", "-r", min=2, help="Shifts per pacer and scenario.")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="A smoke run: 5 replications and a coarser ratio search."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Worker processes (default: one per core)."),
    ] = None,
) -> None:
    """Run the standard scenario suite with every pacer; write the comparison report."""
    from simulation.bench import run_suite  # matplotlib is only needed here

    report = run_suite(
        out,
        replications=replications,
        seed=seed,
        quick=quick,
        jobs=jobs,
        progress=lambda line: typer.echo(line, err=True),
    )
    typer.echo(f"wrote {report}")
