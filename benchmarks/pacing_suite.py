"""Run the pacing suite on chosen scenarios and summarise predictive against the baselines.

    python benchmarks/pacing_suite.py run -r 20 --out /tmp/bench20 \
        s1-exp-n20 s1-exp-n5 s1-exp-n10 s1-exp-n50 b1 b4 b2 b3 2> suite.log
    python benchmarks/pacing_suite.py table suite.log [more.log ...]
    python benchmarks/pacing_suite.py plot docs/pacing/comparison.png suite.log [more.log ...]
    python benchmarks/pacing_suite.py paired /tmp/bench20/pacing.json
    python benchmarks/pacing_suite.py blended -r 10 -j 2 --out /tmp/blended bl2 2> bl.log
    python benchmarks/pacing_suite.py blended -r 60 --seed 2 --earlier \
        docs/pacing/bench-blended-60.json --out /tmp/blended bl2 bl3

``run`` is ``dialer bench pacing`` (simulation.bench.run_suite: manual, progressive,
adaptive, predictive and the best-ratio search, common random numbers) on the scenarios
given, in that order, with its progress lines on stderr: the suite takes hours on two cores,
and the lines let a partial run be read. ``table`` and ``plot`` read those lines (``plot``:
the first log given wins for a scenario and pacer); G = (occupancy - progressive) /
(optimum at the 3% cap - progressive) on the s1 scenarios, progressive by its closed form
0.7826 and the optimum from issue 5. ``paired`` reads the run's JSON and compares
predictive with the best holding ratio and with adaptive replication by replication (both
met the same debtors and collectors), which is far tighter than comparing two means.
``blended`` runs the blended scenarios (simulation.bench_blended): predictive with its
Erlang-C inbound reservation, the smallest fixed reservation that holds the inbound service
level, and no reservation, and writes ``blended.json`` and the table; with ``--earlier``
the baselines of an earlier run are reused where they reproduce (a change to the Erlang-C
pacer is measured in minutes instead of hours).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

PROGRESSIVE = 0.7826  # the closed form h / (h + d / p) on s1
OPTIMUM = {"s1-exp-n5": 0.8326, "s1-exp-n10": 0.8616, "s1-exp-n20": 0.8974, "s1-exp-n50": 0.9387}
ORDER = (
    "s1-exp-n5",
    "s1-exp-n10",
    "s1-exp-n20",
    "s1-exp-n50",
    "b1",
    "b2",
    "b3",
    "b4",
    "m30-drop",
    "m30-noamd",
    "m40-hangup",
    "m40-uk",
)
LINE = re.compile(r"\s+(\S+)\s+(\S+)\s+occupancy ([\d.]+) abandon ([\d.]+)% held (\d+)%")

Row = tuple[float, float, int]  # occupancy, abandon %, held %


def read(logs: list[str]) -> dict[str, dict[str, Row]]:
    rows: dict[str, dict[str, Row]] = {}
    for path in logs:
        seen: dict[str, dict[str, Row]] = {}
        for line in Path(path).read_text().splitlines():
            m = LINE.match(line)
            if m:
                row = (float(m.group(3)), float(m.group(4)), int(m.group(5)))
                seen.setdefault(m.group(1), {})[m.group(2)] = row
        for scenario, pacers in seen.items():
            for pacer, row in pacers.items():
                rows.setdefault(scenario, {}).setdefault(pacer, row)
    return rows


def best_ratio(pacers: dict[str, Row]) -> tuple[str, Row | None]:
    held = {k: v for k, v in pacers.items() if k.startswith("ratio:") and v[2] >= 95}
    if not held:
        return "ratio:1 = progressive", pacers.get("progressive")
    k = max(held, key=lambda name: float(name.split(":")[1]))
    return k, held[k]


def table(logs: list[str]) -> None:
    """One row per scenario and log, every figure from that log (the same replications)."""
    print("| scenario | log | progressive | adaptive | best ratio (held >= 95%) | predictive | G |")
    print("|---|---|---|---|---|---|---|")

    def cell(v: Row | None) -> str:
        return f"{v[0]:.4f}, {v[1]:.2f}% ({v[2]}%)" if v else "-"

    for scenario in ORDER:
        for path in logs:
            d = read([path]).get(scenario)
            if not d or "predictive" not in d:
                continue
            name, ratio = best_ratio(d)
            pred, prog = d["predictive"], d.get("progressive")
            g = "-"
            if scenario in OPTIMUM:
                g = f"{(pred[0] - PROGRESSIVE) / (OPTIMUM[scenario] - PROGRESSIVE):.2f}"
            print(
                f"| {scenario} | {Path(path).name} | {cell(prog)} | {cell(d.get('adaptive'))} "
                f"| {name}: {cell(ratio)} | {cell(pred)} | {g} |"
            )


def plot(out: str, logs: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = read(logs)
    order = [s for s in ORDER if s in rows]
    x = np.arange(len(order))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, name in enumerate(("progressive", "adaptive", "best ratio", "predictive")):
        values = []
        for s in order:
            v = best_ratio(rows[s])[1] if name == "best ratio" else rows[s].get(name)
            values.append(v if v else (np.nan, np.nan, 0))
        left.bar(x + (i - 1.5) * 0.2, [v[0] for v in values], 0.2, label=name)
        right.bar(x + (i - 1.5) * 0.2, [v[1] for v in values], 0.2, label=name)
    right.axhline(3.0, color="red", lw=1, ls="--", label="cap 3%")
    for ax, label in ((left, "occupancy"), (right, "abandon rate (%)")):
        ax.set_xticks(x, order, rotation=30)
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    left.set_ylim(0.6, 1.0)
    fig.suptitle("predictive against the baselines (mean over replications)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def paired(path: str) -> None:
    """Mean of predictive - rival per replication, with its 95% Student-t half-width."""
    import json
    import math

    from scipy import stats

    print("| scenario | rival | predictive - rival (occupancy, 95% CI) | replications ahead |")
    print("|---|---|---|---|")
    for block in json.loads(Path(path).read_text())["scenarios"]:
        by_pacer = {r["pacer"]: r for r in block["results"]}
        held = [k for k, r in by_pacer.items() if k.startswith("ratio:")]
        held = [k for k in held if by_pacer[k]["cap_held_fraction"] >= 0.95]
        rivals = ["adaptive"]
        if held:
            rivals.append(max(held, key=lambda name: float(name.split(":")[1])))
        pred = [r["occupancy"] for r in by_pacer["predictive"]["replications"]]
        for rival in rivals:
            other = [r["occupancy"] for r in by_pacer[rival]["replications"]]
            diff = [a - b for a, b in zip(pred, other, strict=True)]
            n = len(diff)
            mean = sum(diff) / n
            sd = math.sqrt(sum((d - mean) ** 2 for d in diff) / (n - 1)) if n > 1 else 0.0
            half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) if n > 1 else 0.0
            ahead = sum(d > 0 for d in diff)
            print(f"| {block['scenario']} | {rival} | {mean:+.4f} ± {half:.4f} | {ahead}/{n} |")


def blended(args: argparse.Namespace) -> None:
    from simulation import bench_blended
    from simulation.run import process_pool
    from simulation.scenario import load_scenario, resolve_scenario

    earlier: dict[str, dict[str, Any]] = {}
    if args.earlier is not None:
        try:
            earlier = {s["scenario"]: s for s in json.loads(args.earlier.read_text())}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            sys.exit(f"--earlier {args.earlier}: not a blended.json ({exc})")
    pool = process_pool(args.jobs)
    summaries = []
    try:
        for name in args.scenarios:
            scenario = load_scenario(resolve_scenario(name))
            summaries.append(
                bench_blended.run_blended(
                    scenario,
                    args.replications,
                    args.seed,
                    pool,
                    lambda text: print(text, file=sys.stderr, flush=True),
                    earlier=earlier.get(scenario.name),
                )
            )
            bench_blended.write(args.out, summaries)  # a partial run is kept
    finally:
        if pool is not None:
            pool.shutdown()
    print(bench_blended.table(summaries))
    print(f"wrote {args.out / 'blended.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("scenarios", nargs="+")
    run.add_argument("-r", "--replications", type=int, default=20)
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("-j", "--jobs", type=int, default=2)
    run.add_argument("--out", type=Path, default=Path("/tmp/bench"))
    tab = sub.add_parser("table")
    tab.add_argument("logs", nargs="+")
    plo = sub.add_parser("plot")
    plo.add_argument("out")
    plo.add_argument("logs", nargs="+")
    par = sub.add_parser("paired")
    par.add_argument("json")
    ble = sub.add_parser("blended")
    ble.add_argument("scenarios", nargs="+")
    ble.add_argument("-r", "--replications", type=int, default=10)
    ble.add_argument("--seed", type=int, default=1)
    ble.add_argument("-j", "--jobs", type=int, default=2)
    ble.add_argument("--out", type=Path, default=Path("/tmp/blended"))
    ble.add_argument(
        "--earlier",
        type=Path,
        help="an earlier blended.json: its baselines are reused where their first and "
        "last shifts reproduce exactly (same seed, same shifts)",
    )
    args = parser.parse_args()
    if args.cmd == "run":
        from simulation.bench import run_suite

        report = run_suite(
            args.out,
            replications=args.replications,
            seed=args.seed,
            jobs=args.jobs,
            scenarios=tuple(args.scenarios),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        print(f"wrote {report}")
    elif args.cmd == "paired":
        paired(args.json)
    elif args.cmd == "blended":
        blended(args)
    elif args.cmd == "table":
        table(args.logs)
    else:
        plot(args.out, args.logs)


if __name__ == "__main__":
    main()
