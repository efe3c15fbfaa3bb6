"""Scenario files: the shipped ones load, malformed ones fail naming the file and the key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from sim_helpers import make_scenario, scenario_dict, write_scenario

from simulation.scenario import (
    SCENARIO_DIR,
    ScenarioError,
    load_scenario,
    parse_scenario,
    resolve_scenario,
)

SHIPPED = ["s1-exp-n5", "s1-exp-n10", "s1-exp-n20", "s1-exp-n50", "b1", "b2", "b3", "b4"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(resolve_scenario(name))
    assert scenario.name == name
    assert scenario.shift_hours == 8
    assert scenario.abandon_cap == 0.03
    assert math.isinf(scenario.ring_timeout)


def test_s1_sizes_and_b_scenarios_match_the_issue() -> None:
    for n in (5, 10, 20, 50):
        s = load_scenario(SCENARIO_DIR / f"s1-exp-n{n}.yaml")
        assert s.collectors == n
        assert s.answer_probability == (0.30,)
        assert s.talk.mean() == 180 and s.wrap.mean() == 0 and s.connect_grace == 0
    b1 = load_scenario(SCENARIO_DIR / "b1.yaml")
    assert b1.collectors == 20 and b1.connect_grace == 2
    assert b1.talk.mean() == pytest.approx(150) and b1.talk.cv() == pytest.approx(1.0)
    assert b1.wrap.mean() == pytest.approx(30) and b1.wrap.cv() == pytest.approx(0.5)
    assert b1.answer_delay.mean() == pytest.approx(0.7 * 8 + 0.3 * 20)
    assert b1.failure_delay.mean() == pytest.approx(0.4 * 25 + 0.6 * 3)
    b3 = load_scenario(SCENARIO_DIR / "b3.yaml")
    assert (b3.collectors, b3.answer_probability, b3.wrap.mean()) == (100, (0.2,), 20)
    b4 = load_scenario(SCENARIO_DIR / "b4.yaml")
    assert len(b4.answer_probability) == 8
    assert b4.answer_probability[0] == 0.35 and b4.answer_probability[-1] == 0.15
    assert list(b4.answer_probability) == sorted(b4.answer_probability, reverse=True)
    assert b4.pauses is not None and b4.pauses.share == 0.25
    assert (b4.pauses.every, b4.pauses.duration) == (3600, 900)


def _error(tmp_path: Path, **overrides: object) -> str:
    path = write_scenario(tmp_path / "x.yaml", **overrides)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def test_unknown_key_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path, colectors=5)
    assert ": colectors: unknown key" in message


def test_bad_distribution_parameter_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path, talk={"dist": "exponential", "mean": -3})
    assert message.endswith("x.yaml: talk.mean: must be > 0")


def test_unknown_distribution_is_named(tmp_path: Path) -> None:
    assert ": wrap.dist: unknown distribution 'weibull'" in _error(
        tmp_path, wrap={"dist": "weibull", "mean": 3}
    )


def test_mixture_weight_error_is_named(tmp_path: Path) -> None:
    answer = {
        "dist": "mixture",
        "components": [
            {"weight": 0.7, "dist": "fixed", "value": 8},
            {"weight": 0.2, "dist": "fixed", "value": 20},
        ],
    }
    assert ": answer_delay.components: weights sum to 0.9" in _error(tmp_path, answer_delay=answer)


def test_missing_key_is_named(tmp_path: Path) -> None:
    raw = scenario_dict()
    del raw["connect_grace"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"m\.yaml: connect_grace: missing required key$"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"collectors": 0}, "collectors"),
        ({"collectors": 2.5}, "collectors"),
        ({"answer_probability": 1.5}, "answer_probability"),
        ({"answer_probability": [0.3, "x"]}, "answer_probability[1]"),
        ({"answer_probability": [0.3, 0.2], "shift_hours": 3}, "answer_probability"),
        ({"abandon_cap": 0}, "abandon_cap"),
        ({"ring_timeout": 10}, "ring_timeout"),
        ({"pauses": {"share": 0.25, "every": 3600}}, "pauses.duration"),
        ({"pauses": {"share": 0.25, "every": 3600, "duration": 900, "x": 1}}, "pauses.x"),
        (
            {"breaks": {"probability": 2, "duration": {"dist": "fixed", "value": 1}}},
            "breaks.probability",
        ),
        ({"seed": -1}, "seed"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_values_name_their_key(
    tmp_path: Path, overrides: dict[str, object], key: str
) -> None:
    assert f": {key}: " in _error(tmp_path, **overrides)


def test_hourly_answer_probability_and_optional_keys() -> None:
    s = make_scenario(
        shift_hours=2,
        answer_probability=[0.4, 0.2],
        ring_timeout=30,
        seed=7,
        pauses={"share": 0.5, "every": 1800, "duration": 300},
    )
    assert s.answer_probability_at(0) == 0.4
    assert s.answer_probability_at(1) == 0.2
    assert s.answer_probability_at(5) == 0.2
    assert s.ring_timeout == 30 and s.seed == 7
    assert s.pauses is not None and s.pauses.offset == 900


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: <yaml>: not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match=r"nope\.yaml: <file>: cannot read"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"<document>"):
        parse_scenario([1, 2], "list.yaml")
