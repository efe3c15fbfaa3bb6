"""`dialer simulate` and `dialer bench pacing` as the lead mounts them: reproducible JSON
in the issue's shape, one-line errors with exit status 2."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import typer
from sim_helpers import make_scenario, write_scenario
from typer.testing import CliRunner

import simulation.bench
from dialer.cli.simulate import bench_pacing, simulate
from simulation.run import run_replications

app = typer.Typer()
app.command("simulate")(simulate)
bench = typer.Typer()
bench.command("pacing")(bench_pacing)
app.add_typer(bench, name="bench")
runner = CliRunner()

PACERS = [
    "--pacer",
    "progressive",
    "--pacer",
    "ratio:1.5",
    "--pacer",
    "adaptive",
    "--pacer",
    "manual",
]


def _simulate_json(tmp_path: Path, scenario: Path, seed: int, name: str) -> str:
    out = tmp_path / name
    result = runner.invoke(
        app,
        [
            "simulate",
            str(scenario),
            *PACERS,
            "--replications",
            "2",
            "--seed",
            str(seed),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "progressive" in result.stdout and "±" in result.stdout
    return out.read_text(encoding="utf-8")


def test_same_seed_same_json_different_seed_different(tmp_path: Path) -> None:
    scenario = write_scenario(
        tmp_path / "s.yaml",
        collectors=4,
        shift_hours=0.5,
        connect_grace=2,
        wrap={"dist": "gamma", "mean": 20, "cv": 0.5},
    )
    first = _simulate_json(tmp_path, scenario, 42, "a.json")
    again = _simulate_json(tmp_path, scenario, 42, "b.json")
    other = _simulate_json(tmp_path, scenario, 43, "c.json")
    assert first == again
    assert first != other


def test_json_has_exactly_the_issue_shape(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", name="shape", shift_hours=0.25)
    doc = json.loads(_simulate_json(tmp_path, scenario, 1, "x.json"))
    assert set(doc) == {"scenario", "results"} and doc["scenario"] == "shape"
    assert [r["pacer"] for r in doc["results"]] == [
        "progressive",
        "ratio:1.5",
        "adaptive",
        "manual",
    ]
    for result in doc["results"]:
        assert set(result) == {"pacer", "mean", "cap_held_fraction", "replications"}
        assert set(result["mean"]) == {
            "occupancy",
            "talk_minutes_per_collector_hour",
            "connects_per_collector_hour",
            "abandon_rate",
        }
        assert len(result["replications"]) == 2
        for rep in result["replications"]:
            assert set(rep) == {*result["mean"], "dials", "live_answers", "abandoned"}
            assert isinstance(rep["dials"], int)
            held = rep["abandon_rate"] <= 0.03
            assert 0.0 <= rep["abandon_rate"] <= 1.0 and isinstance(held, bool)
        mean_occ = sum(r["occupancy"] for r in result["replications"]) / 2
        assert abs(result["mean"]["occupancy"] - mean_occ) < 1e-12


def test_scenario_seed_is_the_default(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.yaml", shift_hours=0.25, seed=42)
    default = tmp_path / "d.json"
    result = runner.invoke(app, ["simulate", str(scenario), "--json", str(default)])
    assert result.exit_code == 0, result.output
    explicit = tmp_path / "e.json"
    result = runner.invoke(
        app, ["simulate", str(scenario), "--seed", "42", "--json", str(explicit)]
    )
    assert default.read_text() == explicit.read_text()


def test_processes_give_the_same_replications() -> None:
    scenario = make_scenario(shift_hours=0.25)
    serial = run_replications(scenario, "ratio:1.5", 3, seed=9)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = run_replications(scenario, "ratio:1.5", 3, seed=9, pool=pool)
    assert serial == parallel


def test_bad_scenario_is_one_line_on_stderr_and_exit_2(tmp_path: Path) -> None:
    bad = write_scenario(tmp_path / "bad.yaml", talk={"dist": "exponential", "mean": 0})
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == f"{bad}: talk.mean: must be > 0\n"
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["simulate", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1


def test_bad_pacer_is_one_line_and_exit_2(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "s.yaml")
    result = runner.invoke(app, ["simulate", str(scenario), "--pacer", "ratio:0.5"])
    assert result.exit_code == 2
    assert result.stderr.startswith("--pacer: pacer 'ratio:0.5'")
    assert result.stderr.count("\n") == 1


def test_shipped_scenario_by_name() -> None:
    result = runner.invoke(app, ["simulate", "s1-exp-n5", "--replications", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("s1-exp-n5: 1 replication(s)")


def test_bench_pacing_quick_writes_report_plots_and_json(tmp_path: Path) -> None:
    # A tiny suite through the same entry point (the standard one takes minutes).
    from simulation.bench import run_suite

    scenario = write_scenario(
        tmp_path / "tiny.yaml", name="tiny", collectors=3, shift_hours=0.25, connect_grace=2
    )
    out = tmp_path / "bench"
    report = run_suite(out, replications=2, seed=1, quick=True, jobs=1, scenarios=[str(scenario)])
    text = report.read_text(encoding="utf-8")
    assert "## Occupancy" in text and "| tiny | 3 |" in text
    assert "## Field results" in text and "collectors needed" in text
    for png in ("talk_manual_vs_automated.png",):
        assert (out / png).stat().st_size > 1000
    doc = json.loads((out / "pacing.json").read_text())
    assert doc["scenarios"][0]["scenario"] == "tiny"
    pacers = [r["pacer"] for r in doc["scenarios"][0]["results"]]
    assert pacers[:3] == ["manual", "progressive", "adaptive"]


def test_bench_pacing_passes_its_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_run_suite(out: Path, **kwargs: object) -> Path:
        seen.update(kwargs, out=out)
        return out / "pacing.md"

    monkeypatch.setattr(simulation.bench, "run_suite", fake_run_suite)
    result = runner.invoke(
        app,
        [
            "bench",
            "pacing",
            "--out",
            str(tmp_path),
            "--replications",
            "3",
            "--seed",
            "5",
            "--quick",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen["out"] == tmp_path
    assert (seen["replications"], seen["seed"], seen["quick"]) == (3, 5, True)
    assert result.stdout.strip() == f"wrote {tmp_path / 'pacing.md'}"
