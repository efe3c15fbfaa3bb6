"""How many simulated calls per second the daemon sustains with 500 collectors and ~2,000
concurrent calls, and the event-loop lag p99 while doing it.

Two runs in one process, same machine, same code: an idle daemon (the baseline: the loop's
own lag with nothing to do) and the loaded one. Each runs the real daemon — engine, runner,
store writer on SQLite, web server, metrics — against the simulated carrier at real speed.

    python benchmarks/bench_daemon.py [--seconds 60] [--collectors 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from dialer.daemon import Daemon
from dialer.settings import load_settings

CLOCK_START = datetime(2026, 3, 3, 16, 0, tzinfo=UTC).timestamp()  # 11:00 New York


def _config(tmp: Path, collectors: int, cases: int, lines: float) -> Path:
    path = tmp / "bench.yaml"
    path.write_text(
        f"""
database: {{url: "sqlite+aiosqlite:///{tmp}/bench.db"}}
web: {{port: 0}}
logging: {{level: WARNING}}
demo_cases: {cases}
drain_timeout: 5
trunk:
  simulated:
    answer_probability: 0.3
    machine_probability: 0.0
    answer_delay: {{dist: uniform, low: 15, high: 24}}
    failure_delay: {{dist: uniform, low: 15, high: 24}}
collectors:
  count: {collectors}
  talk: {{dist: lognormal, mean: 120, cv: 0.5}}
  wrap: {{dist: fixed, value: 5}}
  pause_probability: 0.0
campaigns:
  - name: bench
    compliance_profile: us_tsr_regf
    caller_id: "+12125550100"
    ring_timeout: 25
    pacing: {{mode: ratio, ratio: 10, max_lines_per_collector: {lines}}}
"""
    )
    return path


async def _measure(collectors: int, cases: int, seconds: float, lines: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(_config(Path(tmp), collectors, cases, lines))
        daemon = Daemon(settings, clock_start=CLOCK_START, seed=1)
        await daemon.prepare()
        task = asyncio.create_task(daemon.run(seconds + 5))
        await daemon.wait_ready()
        await asyncio.sleep(5)  # warm-up: calls ramp up to steady state
        runner = daemon.runners["bench"]
        engine = runner.engine
        daemon.lag_samples.clear()
        dials0, t0 = engine.stats.dials, time.perf_counter()
        cpu0 = time.process_time()
        concurrent: list[int] = []
        while time.perf_counter() - t0 < seconds:
            await asyncio.sleep(1.0)
            concurrent.append(len(engine.calls))
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        dials = engine.stats.dials - dials0
        lags = np.array(daemon.lag_samples)
        await task
        return {
            "calls_per_second": dials / elapsed,
            "concurrent_median": statistics.median(concurrent) if concurrent else 0,
            "concurrent_max": max(concurrent) if concurrent else 0,
            "lag_p50_ms": float(np.percentile(lags, 50) * 1000) if lags.size else 0.0,
            "lag_p99_ms": float(np.percentile(lags, 99) * 1000) if lags.size else 0.0,
            "cpu_share": cpu / elapsed,
            "bridged": engine.stats.bridged,
            "abandoned": engine.stats.abandoned,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--collectors", type=int, default=500)
    parser.add_argument("--cases", type=int, default=40_000)
    args = parser.parse_args()
    baseline = asyncio.run(_measure(0, 100, min(args.seconds, 20.0), 4.0))
    loaded = asyncio.run(_measure(args.collectors, args.cases, args.seconds, 4.0))
    print(f"{'':28}{'idle (baseline)':>18}{'loaded':>12}")
    for key in (
        "calls_per_second",
        "concurrent_median",
        "concurrent_max",
        "lag_p50_ms",
        "lag_p99_ms",
        "cpu_share",
    ):
        print(f"{key:28}{baseline[key]:>18.2f}{loaded[key]:>12.2f}")
    ratio = loaded["lag_p99_ms"] / max(baseline["lag_p99_ms"], 1e-3)
    print(f"lag p99 loaded / idle: {ratio:.1f}x; target: 2,000 concurrent calls, p99 < 20 ms")


if __name__ == "__main__":
    main()
