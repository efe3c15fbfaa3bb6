"""The abandon-cap guard against a pacer: the same replications guarded and unguarded.

    python benchmarks/bench_cap_guard.py rolling25 b1 -r 3 --pacer predictive
    python benchmarks/bench_cap_guard.py shift s1-exp-n5 -r 6 --pacer predictive
    python benchmarks/bench_cap_guard.py shift b1 -r 2 --pacer ratio:10

``shift``: the simulator's own engine (simulation.run.build_engine), the guard over the
shift from an empty ledger at the scenario's cap. ``rolling25`` / ``rolling30``: the pacer
as the daemon builds it (dialer.daemon.build.build_pacer: the profile's 3% cap, a 30-day
rolling window, target 2.5% or 3%), both the pacer's ledger and the guard's synced with a
campaign's history of 100,000 live answers at the target less 0.05 point, as a daemon
mid-month would be. One line per replication: occupancy, the shift's abandon rate, the
guard's clamped decisions and the occupancy difference (guarded - unguarded).
"""

from __future__ import annotations

import argparse

import numpy as np

from dialer.engine import Engine, EngineConfig
from dialer.pacing.policies import make_pacer
from simulation.loop import EPOCH, Simulator
from simulation.run import ReplicationMetrics, build_engine, measure
from simulation.scenario import Scenario, load_scenario, resolve_scenario

DAY30 = 30 * 86400.0
HISTORY_LIVE = 100_000


def engine_for(
    mode: str, scenario: Scenario, pacer: str, rng: np.random.Generator, guarded: bool
) -> Engine:
    if mode == "shift":
        return build_engine(scenario, pacer, rng, cap_guard=guarded)
    target = 0.025 if mode == "rolling25" else 0.03
    options = {"target_abandon_rate": target, "window_seconds": DAY30, "rolling": True}
    built = make_pacer(pacer, abandon_cap=0.03, **(options if pacer == "predictive" else {}))
    low = max(20, 4 * scenario.collectors)
    config = EngineConfig(
        campaign=scenario.name,
        connect_grace=scenario.connect_grace,
        ring_timeout=scenario.ring_timeout,
        hopper_low_water=low,
        hopper_batch=2 * low,
        abandon_cap=0.03 if guarded else None,
        abandon_window=DAY30,
    )
    engine = Engine(config, built, rng)
    drops = int(HISTORY_LIVE * (target - 0.0005))
    sync = getattr(built, "sync_ledger", None)
    if sync is not None:
        sync(HISTORY_LIVE, drops, EPOCH)
    if engine.cap_guard is not None:
        engine.cap_guard.sync(HISTORY_LIVE, drops, EPOCH, engine.stats)
    return engine


def replicate(
    mode: str, scenario: Scenario, pacer: str, r: int, guarded: bool
) -> tuple[ReplicationMetrics, int]:
    engine_seq, carrier_seq, agent_seq = np.random.SeedSequence(1, spawn_key=(r,)).spawn(3)
    engine = engine_for(mode, scenario, pacer, np.random.default_rng(engine_seq), guarded)
    sim = Simulator(
        scenario,
        engine,
        carrier_rng=np.random.default_rng(carrier_seq),
        agent_rng=np.random.default_rng(agent_seq),
        start=EPOCH,
    )
    sim.run()
    clamps = engine.cap_guard.clamps if engine.cap_guard is not None else 0
    return measure(engine, sim.end), clamps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("shift", "rolling25", "rolling30"))
    parser.add_argument("scenario")
    parser.add_argument("-r", "--replications", type=int, default=3)
    parser.add_argument("--pacer", default="predictive")
    args = parser.parse_args()
    scenario = load_scenario(resolve_scenario(args.scenario))
    for r in range(args.replications):
        bare, _ = replicate(args.mode, scenario, args.pacer, r, False)
        guarded, clamps = replicate(args.mode, scenario, args.pacer, r, True)
        print(
            f"{args.mode} {scenario.name} {args.pacer} r{r}: unguarded {bare.occupancy:.4f} "
            f"{bare.abandon_rate:.2%} ({bare.abandoned}/{bare.live_answers}); guarded "
            f"{guarded.occupancy:.4f} {guarded.abandon_rate:.2%} "
            f"({guarded.abandoned}/{guarded.live_answers}), {clamps} clamps; "
            f"occupancy {guarded.occupancy - bare.occupancy:+.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
