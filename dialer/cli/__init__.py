"""The `dialer` command: one module per command group, assembled here.

run (the daemon), portfolio (import-cases, demo-data), maintenance (migrate, config),
compliance (evaluate, report), users (web accounts), keys (status, rotate), simulate
(simulate, bench pacing).
"""

from __future__ import annotations

import typer

from dialer.cli.compliance import compliance_app
from dialer.cli.keys import keys_app
from dialer.cli.maintenance import migrate, show_config
from dialer.cli.portfolio import demo_data, import_cases
from dialer.cli.run import run
from dialer.cli.simulate import bench_pacing, simulate
from dialer.cli.users import user_app

app = typer.Typer(
    help="dialer: predictive dialer and collections orchestration daemon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(migrate)
app.command("import-cases")(import_cases)
app.command("demo-data")(demo_data)
app.command("config")(show_config)
app.add_typer(compliance_app, name="compliance")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.command("simulate", help="Run a scenario in virtual time with one or more pacers.")(simulate)
bench_app = typer.Typer(help="Benchmarks (figures with their baselines).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
bench_app.command("pacing", help="The standard scenario suite: tables, plots, field results.")(
    bench_pacing
)


def main() -> None:  # pragma: no cover - console entry point
    app()
