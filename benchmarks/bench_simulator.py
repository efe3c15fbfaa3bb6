"""How fast the simulator plays a shift: one replication of b3 (100 collectors, 8 h).

Target (issue 4): progressive on b3 in <= 10 s on a 2-core machine, i.e. >= 3,000x real
time. The baseline measured in the same run is the bare event queue: the same number of
heap pushes and pops with no engine behind them, so the gap is what the production engine
and the simulated world cost per event.

    python benchmarks/bench_simulator.py [--repeat 3] [--pacer progressive --pacer adaptive]
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import time

import numpy as np

from simulation.loop import EPOCH, Simulator
from simulation.run import build_engine, measure
from simulation.scenario import load_scenario, resolve_scenario


def _one(scenario_name: str, pacer: str, seed: int) -> tuple[float, int, float]:
    scenario = load_scenario(resolve_scenario(scenario_name))
    seqs = np.random.SeedSequence(seed, spawn_key=(0,)).spawn(3)
    rngs = [np.random.default_rng(s) for s in seqs]
    started = time.perf_counter()
    engine = build_engine(scenario, pacer, rngs[0])
    sim = Simulator(scenario, engine, rngs[1], rngs[2], start=EPOCH)
    sim.run()
    measure(engine, sim.end)
    return time.perf_counter() - started, sim.stats.events, scenario.shift_seconds


def _bare_queue(events: int) -> float:
    """Push and pop ``events`` (time, seq, kind, payload) tuples: the loop's floor."""
    rng = np.random.default_rng(0)
    delays = rng.exponential(15.0, events).tolist()
    heap: list[tuple[float, int, int, object]] = []
    started = time.perf_counter()
    now = 0.0
    for seq, delay in enumerate(delays):
        heapq.heappush(heap, (now + delay, seq, 0, None))
        if len(heap) > 200:
            now = heapq.heappop(heap)[0]
    while heap:
        heapq.heappop(heap)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="b3")
    parser.add_argument("--pacer", action="append", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    pacers = args.pacer or ["progressive"]
    print(f"scenario {args.scenario}, {args.repeat} run(s) each, median wall time")
    for pacer in pacers:
        runs = [_one(args.scenario, pacer, args.seed) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        events, shift = runs[0][1], runs[0][2]
        floor = _bare_queue(events)
        verdict = "meets" if pacer != "progressive" or wall <= 10.0 else "MISSES"
        print(
            f"{pacer:<12} {wall:6.2f} s  {events:>8,} events  {events / wall:>9,.0f} events/s  "
            f"{shift / wall:>8,.0f}x real time  (bare heap for the same events: "
            f"{floor:.3f} s)" + (f"  target <= 10 s: {verdict}" if pacer == "progressive" else "")
        )


if __name__ == "__main__":
    main()
