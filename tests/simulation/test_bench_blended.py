"""The blended benchmark: baselines reused from an earlier run only where they reproduce."""

from __future__ import annotations

import copy

from sim_helpers import make_scenario

from simulation.bench_blended import run_blended
from simulation.run import BLENDED

INBOUND = {
    "calls_per_hour": [40, 120],
    "talk": {"dist": "exponential", "mean": 200},
    "patience": {"dist": "exponential", "mean": 60},
    "max_wait": 45,
}


def test_an_earlier_runs_baselines_are_reused_only_where_they_reproduce() -> None:
    scenario = make_scenario(collectors=4, shift_hours=1, inbound=INBOUND)
    first = run_blended(scenario, 2, seed=3, max_reserve=1)
    names = [row["pacer"] for row in first["results"]]
    assert names[0] == BLENDED and len(names) == 3 and first["seed"] == 3

    said: list[str] = []
    again = run_blended(scenario, 2, seed=3, progress=said.append, max_reserve=1, earlier=first)
    assert again == first
    reused = [line for line in said if "reused" in line]
    assert len(reused) == 2 and not any(BLENDED in line for line in reused)

    # A baseline whose stored shift this code does not reproduce is run again, and so is
    # one from a run of another length or seed.
    tampered = copy.deepcopy(first)
    tampered["results"][1]["replications"][0]["occupancy"] += 0.01
    tampered["results"][1]["occupancy"] += 0.01
    said.clear()
    fresh = run_blended(scenario, 2, seed=3, progress=said.append, max_reserve=1, earlier=tampered)
    assert fresh == first
    assert sum("reused" in line for line in said) == 1
    said.clear()
    other = run_blended(scenario, 2, seed=4, progress=said.append, max_reserve=1, earlier=first)
    assert not any("reused" in line for line in said)
    assert other["results"][1]["replications"] != first["results"][1]["replications"]
