"""Compliance profiles: versioned, validated data loaded from YAML.

A profile says *what* the rules enforce (calling hours, caps, lockouts, abandonment cap,
call-setup limits, callable number types); `dialer.compliance.rules` says *how*. Profiles
live as `<name>.yaml` under `config/compliance/` (see docs/compliance.md for the schema).
Loading is the only I/O here; a bad file raises `ProfileError` naming the file, the key
path and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dialer.domain.model import ContactOutcome, NumberType

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parents[2] / "config" / "compliance"

_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")

ALL_OUTCOMES: tuple[ContactOutcome, ...] = tuple(o for o in ContactOutcome if o.reached_network)
DEFAULT_UNANSWERED: tuple[ContactOutcome, ...] = (
    ContactOutcome.NO_ANSWER,
    ContactOutcome.BUSY,
    ContactOutcome.FAILED,
    ContactOutcome.MACHINE,
)


class ProfileError(ValueError):
    """A profile that cannot be loaded: `file: key: reason` on one line."""

    def __init__(self, file: str | Path, reason: str, key: str | None = None) -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.file}: {key}: {reason}" if key else f"{self.file}: {reason}")


class UnknownProfileError(ProfileError):
    """No profile of that name in the directory."""


def _parse_local_time(value: object) -> time:
    """Accept only 'HH:MM' or 'HH:MM:SS' strings (unquoted 21:00 is the int 1260 in YAML)."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _TIME_RE.match(value):
        raise ValueError(f"expected a quoted local time such as '08:00', got {value!r}")
    return time.fromisoformat(value)


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


LocalTime = Annotated[time, BeforeValidator(_parse_local_time)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallingHours(_Model):
    """Calls allowed when `start <= local wall-clock time < end` in every zone of the debtor."""

    start: LocalTime
    end: LocalTime
    default_timezones: tuple[str, ...] = Field(min_length=1)

    @field_validator("default_timezones")
    @classmethod
    def _zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_zone(name) for name in value)

    @model_validator(mode="after")
    def _order(self) -> CallingHours:
        if self.start >= self.end:
            raise ValueError("start must be earlier than end (windows across midnight: no)")
        return self


def _placed_only(outcomes: tuple[ContactOutcome, ...]) -> tuple[ContactOutcome, ...]:
    """A trunk failure never reached the debtor: no cap may count it (Reg F counts calls
    placed), so a profile that lists it is refused rather than silently ignored."""
    unplaced = [o.value for o in outcomes if not o.reached_network]
    if unplaced:
        raise ValueError(f"{', '.join(unplaced)} never reached the debtor and counts toward no cap")
    return outcomes


class PerDebtCap(_Model):
    """At most `max_attempts` attempts per debt within any `window_days` local calendar days."""

    max_attempts: int = Field(ge=1)
    window_days: int = Field(ge=1)
    outcomes: tuple[ContactOutcome, ...] = ALL_OUTCOMES

    _outcomes = field_validator("outcomes")(_placed_only)


class DailyNumberCap(_Model):
    """At most `max` attempts with these outcomes per number per local calendar day."""

    max: int = Field(ge=1)
    outcomes: tuple[ContactOutcome, ...] = DEFAULT_UNANSWERED

    _outcomes = field_validator("outcomes")(_placed_only)


class Attempts(_Model):
    per_debt: PerDebtCap | None = None
    unanswered_per_number_per_day: DailyNumberCap | None = None
    conversations_per_debtor_per_day: int | None = Field(default=None, ge=1)


class Lockouts(_Model):
    post_conversation_days: int | None = Field(default=None, ge=1)
    abandon_hours: float | None = Field(default=None, gt=0)


class Abandonment(_Model):
    """Abandoned / live answers per campaign over a rolling window must stay under `max_rate`."""

    max_rate: float = Field(gt=0, lt=1)
    strict: bool  # True: rate < max_rate; False: rate <= max_rate
    window_seconds: int = Field(gt=0)
    counts_machine_false_positives: bool = False
    # The share of machine verdicts taken to be people AMD hung up on, where the profile
    # counts them and the campaign gives no measured rate: conservative, about twice the
    # error the AMD benchmark measured (docs/compliance.md "AMD false positives").
    machine_false_positive_rate: float = Field(default=0.05, ge=0, lt=0.5)

    def rate_allowed(self, rate: float) -> bool:
        return rate < self.max_rate if self.strict else rate <= self.max_rate

    def within_cap(
        self, abandoned: int, live_answers: int, machine_false_positives: float = 0.0
    ) -> bool:
        """Whether these window counts respect the cap.

        When the profile counts answering-machine false positives (humans classified as
        machines and hung up on), the estimate is added to both abandons and live answers.
        """
        extra = machine_false_positives if self.counts_machine_false_positives else 0.0
        numerator = abandoned + extra
        denominator = live_answers + extra
        if denominator <= 0:
            return numerator <= 0
        return self.rate_allowed(numerator / denominator)


class Recordings(_Model):
    """Whether calls must be recorded, and the least time a recording must be kept."""

    required: bool = False
    min_retention_days: int | None = Field(default=None, ge=1)


class CallSetup(_Model):
    min_ring_seconds: float | None = Field(default=None, gt=0)
    max_connect_grace_seconds: float | None = Field(default=None, gt=0)
    safe_harbor_required: bool = False
    caller_id_required: bool = False


def _compile(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {pattern!r} ({exc})") from None
    return patterns


class ContentElement(_Model):
    """One thing a message must say (or must not): in words, and the patterns that find it
    (regular expressions, case-insensitive; any one of them is enough)."""

    element: str = Field(min_length=1)
    patterns: tuple[str, ...] = Field(min_length=1)

    _patterns = field_validator("patterns")(_compile)


class LimitedContent(_Model):
    """What a message left on a machine must contain and must not (US: Reg F 1006.2(j))."""

    citation: str = ""
    required: tuple[ContentElement, ...] = ()
    forbidden: tuple[ContentElement, ...] = ()


class Voicemail(_Model):
    limited_content: LimitedContent | None = None


class NumberTypes(_Model):
    """Number types not listed anywhere are forbidden."""

    allowed: tuple[NumberType, ...]
    allowed_when_debtor_unreachable: tuple[NumberType, ...] = ()
    forbidden: tuple[NumberType, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> NumberTypes:
        seen: dict[NumberType, str] = {}
        for group in ("allowed", "allowed_when_debtor_unreachable", "forbidden"):
            for number_type in getattr(self, group):
                if number_type in seen:
                    raise ValueError(
                        f"number type {number_type.value!r} is listed in both "
                        f"{seen[number_type]} and {group}"
                    )
                seen[number_type] = group
        return self


class Profile(_Model):
    name: str
    version: int = Field(ge=1)
    description: str = ""
    calling_hours: CallingHours
    attempts: Attempts = Attempts()
    lockouts: Lockouts = Lockouts()
    abandonment: Abandonment | None = None
    call_setup: CallSetup = CallSetup()
    voicemail: Voicemail = Voicemail()
    recordings: Recordings = Recordings()
    number_types: NumberTypes

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must be lower-case letters, digits and underscores")
        return value

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


# -- loading -------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    keys: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", mark)
        keys.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def parse_profile(data: object, source: str | Path = "<profile>") -> Profile:
    """Validate already-parsed YAML/JSON data into a Profile (raises ProfileError)."""
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        parts = []
        for error in exc.errors(include_url=False):
            key = _format_loc(tuple(error["loc"])) or "(top level)"
            message = str(error["msg"])
            if error["type"] == "missing":
                message = "required key is missing"
            elif error["type"] == "extra_forbidden":
                message = "unknown key"
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            parts.append((key, message))
        key, reason = parts[0]
        if len(parts) > 1:
            reason += "; " + "; ".join(f"{k}: {m}" for k, m in parts[1:])
        raise ProfileError(source, reason, key) from None


def load_profile_file(path: str | Path) -> Profile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ProfileError(path, f"{where}invalid YAML: {problem}") from None
    profile = parse_profile(data, path)
    if profile.name != path.stem:
        raise ProfileError(
            path, f"profile name {profile.name!r} does not match the file name", "name"
        )
    return profile


def available_profiles(directory: str | Path | None = None) -> list[str]:
    """Names of the profiles in `directory` (default: config/compliance), sorted."""
    folder = Path(directory) if directory is not None else DEFAULT_PROFILE_DIR
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if _NAME_RE.match(p.stem))


def load_profile(name: str, directory: str | Path | None = None) -> Profile:
    """Load and validate the profile `name` from `directory` (default: config/compliance)."""
    folder = Path(directory) if directory is not None else DEFAULT_PROFILE_DIR
    path = folder / f"{name}.yaml"
    if not _NAME_RE.match(name) or not path.is_file():
        known = ", ".join(available_profiles(folder)) or "none"
        raise UnknownProfileError(
            folder, f"unknown compliance profile {name!r} (available: {known})"
        )
    return load_profile_file(path)
