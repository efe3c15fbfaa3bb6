"""Scenario files: load a YAML scenario and validate every key.

A scenario describes the world the simulator plays (team, shift, carrier, debtors,
collectors) and nothing about the pacer. A malformed file fails with one line naming the
file, the key and the reason, e.g. ``simulation/scenarios/x.yaml: talk.mean: must be > 0``;
unknown keys are errors too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from dialer.engine import MIN_RING_TIMEOUT, OnMachine
from dialer.pacing.distribution_spec import DistributionError, parse_distribution
from dialer.pacing.distributions import Distribution
from simulation.inbound import InboundTraffic

__all__ = [
    "SCENARIO_DIR",
    "Amd",
    "Breaks",
    "Machines",
    "PauseSchedule",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario",
]

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario is invalid: ``str()`` is ``"<file>: <key>: <reason>"``."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PauseSchedule:
    """A share of the collectors pause for ``duration`` s every ``every`` s, the first
    ``offset`` s after login (all of them at once: the hardest case for a pacer)."""

    share: float
    every: float
    duration: float
    offset: float


@dataclass(frozen=True, slots=True)
class Breaks:
    """After each wrap-up a collector takes a break with ``probability`` (AgentModel)."""

    probability: float
    duration: Distribution


@dataclass(frozen=True, slots=True)
class Machines:
    """Answering machines among the answers: ``share`` of the calls answered (after
    ``answer_delay``) are machines, whose greeting lasts ``greeting`` s; a voicemail drop
    then plays ``message_seconds``. A machine put through to a collector (AMD off, or it
    took the machine for a person) holds them ``misrouted_talk`` s before they hang up."""

    share: float
    greeting: Distribution
    message_seconds: float
    misrouted_talk: Distribution


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection on the campaign's calls: the trunk reports the answer at
    AMD's decision, ``human_decision`` s after a person answered (the end of their hello)
    or ``machine_decision`` s after a machine did. ``false_positive``: the share of people
    it calls machines (hung up on, or played the message); ``false_negative``: the share of
    machines it calls people. ``counted_false_positive_rate``: the share of machine verdicts
    the ledger counts as abandoned live answers (UK Ofcom); 0: none counted."""

    on_machine: OnMachine
    human_decision: Distribution
    machine_decision: Distribution
    false_positive: float
    false_negative: float
    counted_false_positive_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    collectors: int
    shift_hours: float
    answer_probability: tuple[float, ...]  # one value, or one per hour of the shift
    answer_delay: Distribution
    failure_delay: Distribution
    talk: Distribution
    wrap: Distribution
    connect_grace: float
    abandon_cap: float
    manual_dial_overhead: float
    ring_timeout: float = math.inf  # no timeout: every dial rings until it resolves
    seed: int = 0
    pauses: PauseSchedule | None = None
    breaks: Breaks | None = None
    description: str = ""
    machines: Machines | None = None
    amd: Amd | None = None
    inbound: InboundTraffic | None = None  # debtors calling back (blended scenarios)

    @property
    def shift_seconds(self) -> float:
        return self.shift_hours * 3600.0

    def answer_probability_at(self, hour: int) -> float:
        """The answer probability in hour ``hour`` of the shift (0-based)."""
        probs = self.answer_probability
        return probs[min(hour, len(probs) - 1)]


_REQUIRED = (
    "name",
    "collectors",
    "shift_hours",
    "answer_probability",
    "answer_delay",
    "failure_delay",
    "talk",
    "wrap",
    "connect_grace",
    "abandon_cap",
    "manual_dial_overhead",
)
_OPTIONAL = (
    "ring_timeout",
    "seed",
    "pauses",
    "breaks",
    "description",
    "machines",
    "amd",
    "inbound",
)
_DISTRIBUTIONS = ("answer_delay", "failure_delay", "talk", "wrap")


def resolve_scenario(name_or_path: str | Path) -> Path:
    """A path as given when it exists, else a scenario shipped in simulation/scenarios
    (``b1`` or ``b1.yaml``)."""
    path = Path(name_or_path)
    if path.exists() or path.parent != Path("."):
        return path
    shipped = SCENARIO_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    return shipped if shipped.exists() else path


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError`."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(source, "<file>", f"cannot read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ScenarioError(source, "<yaml>", f"not valid YAML: {reason}") from None
    return parse_scenario(raw, source)


def parse_scenario(raw: object, source: str = "<scenario>") -> Scenario:
    """Validate an already-parsed mapping; ``source`` names it in errors."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(source, "<document>", "must be a mapping of keys to values")
    _reject_unknown(raw, (*_REQUIRED, *_OPTIONAL), "", source)
    for key in _REQUIRED:
        if key not in raw:
            raise ScenarioError(source, key, "missing required key")
    v = _Validator(source)
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError(source, "name", "must be a non-empty string")
    collectors = v.integer(raw, "collectors", minimum=1)
    shift_hours = v.number(raw, "shift_hours", positive=True)
    dists: dict[str, Distribution] = {}
    for key in _DISTRIBUTIONS:
        dists[key] = v.distribution(raw[key], key)
    for key in ("answer_delay", "failure_delay"):
        if dists[key].mean() <= 0:
            raise ScenarioError(source, key, "mean must be > 0 (a dial cannot resolve at once)")
    ring_timeout = math.inf
    if raw.get("ring_timeout") is not None:
        ring_timeout = v.number(raw, "ring_timeout", positive=True)
        if ring_timeout < MIN_RING_TIMEOUT:
            raise ScenarioError(source, "ring_timeout", f"must be >= {MIN_RING_TIMEOUT:g} s")
    seed = v.integer(raw, "seed", minimum=0) if "seed" in raw else 0
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(source, "description", "must be a string")
    machines = v.machines(raw["machines"]) if raw.get("machines") is not None else None
    amd = v.amd(raw["amd"]) if raw.get("amd") is not None else None
    if amd is not None and machines is None:
        raise ScenarioError(source, "amd", "needs a 'machines' section: what would it detect?")
    return Scenario(
        name=name.strip(),
        collectors=collectors,
        shift_hours=shift_hours,
        answer_probability=v.answer_probability(raw, math.ceil(shift_hours)),
        answer_delay=dists["answer_delay"],
        failure_delay=dists["failure_delay"],
        talk=dists["talk"],
        wrap=dists["wrap"],
        connect_grace=v.number(raw, "connect_grace", positive=False),
        abandon_cap=v.fraction(raw, "abandon_cap", "abandon_cap", open_top=True),
        manual_dial_overhead=v.number(raw, "manual_dial_overhead", positive=False),
        ring_timeout=ring_timeout,
        seed=seed,
        pauses=v.pauses(raw["pauses"]) if raw.get("pauses") is not None else None,
        breaks=v.breaks(raw["breaks"]) if raw.get("breaks") is not None else None,
        description=description,
        machines=machines,
        amd=amd,
        inbound=v.inbound(raw["inbound"], shift_hours) if raw.get("inbound") is not None else None,
    )


def _reject_unknown(
    raw: Mapping[object, object], allowed: tuple[str, ...], prefix: str, source: str
) -> None:
    for key in raw:
        if key not in allowed:
            raise ScenarioError(
                source, f"{prefix}{key}", f"unknown key (allowed: {', '.join(allowed)})"
            )


class _Validator:
    """Typed accessors that raise ScenarioError naming the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, reason: str) -> ScenarioError:
        return ScenarioError(self.source, key, reason)

    def _float(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise self.fail(key, "must be finite")
        return float(value)

    def number(
        self, raw: Mapping[str, object], key: str, *, positive: bool, path: str = ""
    ) -> float:
        where = f"{path}{key}"
        value = self._float(raw[key], where)
        if positive and value <= 0:
            raise self.fail(where, "must be > 0")
        if not positive and value < 0:
            raise self.fail(where, "must be >= 0")
        return value

    def integer(self, raw: Mapping[str, object], key: str, *, minimum: int) -> int:
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {type(value).__name__}")
        if value < minimum:
            raise self.fail(key, f"must be >= {minimum}")
        return value

    def fraction(
        self, raw: Mapping[str, object], key: str, where: str, *, open_top: bool = False
    ) -> float:
        value = self._float(raw[key], where)
        inside = 0.0 < value < 1.0 if open_top else 0.0 < value <= 1.0
        if not inside:
            raise self.fail(where, f"must be in (0, 1{')' if open_top else ']'}")
        return value

    def answer_probability(self, raw: Mapping[str, object], hours: int) -> tuple[float, ...]:
        key = "answer_probability"
        value = raw[key]
        if not isinstance(value, list):
            return (self.fraction(raw, key, key),)
        if not value:
            raise self.fail(key, "must be a number or a non-empty list, one value per hour")
        if len(value) < hours:
            raise self.fail(
                key, f"has {len(value)} values; needs one per hour of the {hours}-hour shift"
            )
        return tuple(self.fraction({key: item}, key, f"{key}[{i}]") for i, item in enumerate(value))

    def distribution(self, spec: object, key: str) -> Distribution:
        try:
            return parse_distribution(spec, key)
        except DistributionError as exc:
            raise self.fail(exc.path, exc.reason) from None
        except ValueError as exc:  # a parameter the distribution itself refused
            raise self.fail(key, str(exc)) from None

    def _mapping(self, value: object, key: str, allowed: tuple[str, ...]) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a mapping")
        _reject_unknown(value, allowed, f"{key}.", self.source)
        return value

    def pauses(self, value: object) -> PauseSchedule:
        spec = self._mapping(value, "pauses", ("share", "every", "duration", "offset"))
        for key in ("share", "every", "duration"):
            if key not in spec:
                raise self.fail(f"pauses.{key}", "missing required key")
        share = self.fraction(spec, "share", "pauses.share")
        every = self.number(spec, "every", positive=True, path="pauses.")
        duration = self.number(spec, "duration", positive=True, path="pauses.")
        if duration >= every:
            raise self.fail("pauses.duration", f"must be shorter than pauses.every ({every:g})")
        offset = every / 2.0
        if "offset" in spec:
            offset = self.number(spec, "offset", positive=False, path="pauses.")
        return PauseSchedule(share, every, duration, offset)

    def breaks(self, value: object) -> Breaks:
        spec = self._mapping(value, "breaks", ("probability", "duration"))
        for key in ("probability", "duration"):
            if key not in spec:
                raise self.fail(f"breaks.{key}", "missing required key")
        probability = self._float(spec["probability"], "breaks.probability")
        if not 0.0 <= probability <= 1.0:
            raise self.fail("breaks.probability", "must be in [0, 1]")
        return Breaks(probability, self.distribution(spec["duration"], "breaks.duration"))

    def _share(self, spec: Mapping[str, object], key: str, where: str) -> float:
        value = self._float(spec[key], where)
        if not 0.0 <= value < 1.0:
            raise self.fail(where, "must be in [0, 1)")
        return value

    def _required(self, spec: Mapping[str, object], prefix: str, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key not in spec:
                raise self.fail(f"{prefix}.{key}", "missing required key")

    def machines(self, value: object) -> Machines:
        keys = ("share", "greeting", "message_seconds", "misrouted_talk")
        spec = self._mapping(value, "machines", keys)
        self._required(spec, "machines", keys)
        return Machines(
            share=self._share(spec, "share", "machines.share"),
            greeting=self.distribution(spec["greeting"], "machines.greeting"),
            message_seconds=self.number(spec, "message_seconds", positive=True, path="machines."),
            misrouted_talk=self.distribution(spec["misrouted_talk"], "machines.misrouted_talk"),
        )

    def amd(self, value: object) -> Amd:
        required = (
            "on_machine",
            "human_decision",
            "machine_decision",
            "false_positive",
            "false_negative",
        )
        spec = self._mapping(value, "amd", (*required, "counted_false_positive_rate"))
        self._required(spec, "amd", required)
        on_machine = spec["on_machine"]
        if on_machine != "hangup" and on_machine != "voicemail_drop":
            raise self.fail("amd.on_machine", "must be hangup or voicemail_drop")
        counted = 0.0
        if "counted_false_positive_rate" in spec:
            counted = self._share(
                spec, "counted_false_positive_rate", "amd.counted_false_positive_rate"
            )
        return Amd(
            on_machine=on_machine,
            human_decision=self.distribution(spec["human_decision"], "amd.human_decision"),
            machine_decision=self.distribution(spec["machine_decision"], "amd.machine_decision"),
            false_positive=self._share(spec, "false_positive", "amd.false_positive"),
            false_negative=self._share(spec, "false_negative", "amd.false_negative"),
            counted_false_positive_rate=counted,
        )

    def inbound(self, value: object, shift_hours: float) -> InboundTraffic:
        allowed = (
            "calls_per_hour",
            "talk",
            "patience",
            "service_level",
            "answer_within",
            "max_wait",
        )
        spec = self._mapping(value, "inbound", allowed)
        for key in ("calls_per_hour", "talk", "patience"):
            if key not in spec:
                raise self.fail(f"inbound.{key}", "missing required key")
        raw_rates = spec["calls_per_hour"]
        items = raw_rates if isinstance(raw_rates, list) else [raw_rates]
        if not items:
            raise self.fail("inbound.calls_per_hour", "must be a number or a non-empty list")
        hours = math.ceil(shift_hours)
        if isinstance(raw_rates, list) and len(items) < hours:
            raise self.fail(
                "inbound.calls_per_hour",
                f"has {len(items)} values; needs one per hour of the {hours}-hour shift",
            )
        rates = []
        for i, item in enumerate(items):
            where = (
                f"inbound.calls_per_hour[{i}]"
                if isinstance(raw_rates, list)
                else ("inbound.calls_per_hour")
            )
            rate = self._float(item, where)
            if rate < 0:
                raise self.fail(where, "must be >= 0")
            rates.append(rate)
        talk = self.distribution(spec["talk"], "inbound.talk")
        patience = self.distribution(spec["patience"], "inbound.patience")
        for key, dist in (("inbound.talk", talk), ("inbound.patience", patience)):
            if dist.mean() <= 0:
                raise self.fail(key, "mean must be > 0")
        level = 0.8
        if "service_level" in spec:
            level = self.fraction(spec, "service_level", "inbound.service_level", open_top=True)
        within = 20.0
        if "answer_within" in spec:
            within = self.number(spec, "answer_within", positive=True, path="inbound.")
        max_wait = 60.0
        if "max_wait" in spec:
            max_wait = self.number(spec, "max_wait", positive=True, path="inbound.")
        return InboundTraffic(tuple(rates), talk, patience, level, within, max_wait)
