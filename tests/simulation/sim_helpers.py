"""Helpers for the simulator tests (not a conftest: tests/engine owns the name `conftest`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulation.scenario import Scenario, parse_scenario


def scenario_dict(**overrides: Any) -> dict[str, Any]:
    """The issue's s1 form, shortened; keyword arguments replace keys."""
    base: dict[str, Any] = {
        "name": "t",
        "collectors": 5,
        "shift_hours": 1,
        "answer_probability": 0.30,
        "answer_delay": {"dist": "exponential", "mean": 15},
        "failure_delay": {"dist": "exponential", "mean": 15},
        "talk": {"dist": "exponential", "mean": 180},
        "wrap": {"dist": "fixed", "value": 0},
        "connect_grace": 0,
        "abandon_cap": 0.03,
        "manual_dial_overhead": 10,
    }
    base.update(overrides)
    return base


def make_scenario(**overrides: Any) -> Scenario:
    return parse_scenario(scenario_dict(**overrides), "test.yaml")


def write_scenario(path: Path, **overrides: Any) -> Path:
    path.write_text(yaml.safe_dump(scenario_dict(**overrides)), encoding="utf-8")
    return path
