"""Settings for the whole daemon: a YAML file plus `DIALER_` environment overrides.

The file is `--config`, else `$DIALER_CONFIG`, else `config/dialer.yaml` in the working
directory, else the copy shipped with the package. Environment variables override the file
(`DIALER_DATABASE__URL=...`, nested keys joined with `__`). Unknown keys are errors. A bad
setting raises `SettingsError` whose message is one line naming the file, the key path and
the reason; the CLI prints it and exits with status 2.

It is over 400 lines on purpose: the sections the daemon itself reads are declared side by
side, so one file shows every key with its default and bounds (the parts with many keys of
their own keep them: dialer.orchestration.settings, dialer.telephony.sip_settings,
dialer.media.recording_settings).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from dialer.media.amd_settings import AmdPoolSettings, AmdSettings
from dialer.media.recording_settings import CampaignRecording, RecordingSettings
from dialer.orchestration.settings import OrchestrationSettings
from dialer.pacing.distribution_spec import DistributionError, parse_distribution
from dialer.telephony.inbound_settings import InboundSettings as InboundSettings
from dialer.telephony.simulated_callers_settings import SimulatedCallersSettings
from dialer.telephony.sip_settings import SipTrunkSettings

PACKAGE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
DEFAULT_CONFIG_NAME = "dialer.yaml"
_yaml_file: ContextVar[Path | None] = ContextVar("dialer_yaml_file", default=None)

DistributionSpec = dict[str, Any]
# Pause reasons the dialer sets itself (console gone, SIP phone gone, a manager's pause).
RESERVED_PAUSE_REASONS = frozenset({"disconnected", "phone_lost", "manager"})


class SettingsError(Exception):
    """A bad configuration; the message is one line fit for an operator."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_distribution(value: DistributionSpec, name: str) -> DistributionSpec:
    try:
        parse_distribution(value, name)
    except DistributionError as exc:
        raise ValueError(str(exc)) from None
    return value


class DatabaseSettings(_Strict):
    url: str = "sqlite+aiosqlite:///var/dialer.db"
    pool_size: int = Field(default=10, ge=1, le=200)
    spool_path: Path = Field(
        default=Path("var/store-spool.jsonl"),
        description="where writes still queued at shutdown go when the store is down; "
        "replayed at the next start-up before anything dials",
    )
    orphan_sweep_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often attempts a dead daemon left open are closed as interrupted",
    )

    @field_validator("url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return url


class PrivacySettings(_Strict):
    """Where the key that seals debtor data at rest comes from (docs/privacy.md)."""

    # base64 of 32 bytes; when set it is the only key (rotation needs the key file)
    key: str | None = None
    # without `key`, the keyring kept here (made at first start, 0600): back it up with
    # the database, which is unreadable without it
    key_file: Path = Path("var/privacy-keys.json")


class LoginThrottleSettings(_Strict):
    """Failed logins are counted per account and per client address, each against its own
    threshold: one collector's typing locks out that account only, never the site behind
    the same address (docs/web.md "Accounts and access")."""

    account_failures: int = Field(
        default=5, ge=1, le=1000, description="failures within the window that lock one account"
    )
    address_failures: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="failures within the window, over all accounts, that lock one address",
    )
    window_seconds: float = Field(default=300.0, gt=0, le=86400)
    lockout_seconds: float = Field(default=300.0, gt=0, le=86400)

    @model_validator(mode="after")
    def _address_above_account(self) -> LoginThrottleSettings:
        if self.address_failures < self.account_failures:
            raise ValueError(
                f"address_failures ({self.address_failures}) must be at least "
                f"account_failures ({self.account_failures}): one account's mistakes must "
                "not lock out everyone at its address"
            )
        return self


class WebSettings(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    metrics_allow: list[str] = Field(
        default_factory=list, description="addresses/networks allowed to read /metrics; empty = all"
    )
    session_secret: str | None = None  # signs cookies; daemons behind one address share it
    # without session_secret, the one kept here (made at first start, 0600): restarts keep
    # everyone logged in
    session_secret_file: Path = Path("var/session-secret")
    session_max_age: int = Field(default=12 * 3600, ge=60)
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="largest request body accepted, in bytes (413 beyond; a larger declared "
        "Content-Length is refused before any of the body is read)",
    )
    body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long a client may take to send a request body (408 beyond)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses/networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; empty = nobody's",
    )
    login_throttle: LoginThrottleSettings = Field(default_factory=LoginThrottleSettings)
    presence_timeout_seconds: float = Field(
        default=15.0,
        ge=1.0,
        le=600.0,
        description="a collector whose console has not answered for this long (real "
        "seconds) is paused 'disconnected' and routed no call (docs/web.md \"Presence\")",
    )
    wallboard_sample_seconds: float = Field(
        default=5.0,
        ge=1.0,
        le=300.0,
        description="the wallboard's charts take a sample of each campaign this often "
        "(engine seconds)",
    )
    wallboard_history_hours: float = Field(
        default=4.0,
        gt=0.0,
        le=24.0,
        description="the wallboard's charts keep this much history in memory",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {value!r}") from None
        return values


class SimulatedCarrierSettings(_Strict):
    """The in-process carrier: what happens to each dial."""

    answer_probability: float = Field(default=0.30, ge=0.0, le=1.0)
    machine_probability: float = Field(default=0.05, ge=0.0, le=1.0)
    answer_delay: DistributionSpec = Field(
        default_factory=lambda: {"dist": "exponential", "mean": 12.0}
    )
    failure_delay: DistributionSpec = Field(
        default_factory=lambda: {"dist": "exponential", "mean": 15.0}
    )
    busy_share: float = Field(default=0.3, ge=0.0, le=1.0, description="share of non-live: busy")
    callers: SimulatedCallersSettings = Field(default_factory=SimulatedCallersSettings)

    @field_validator("answer_delay", "failure_delay")
    @classmethod
    def _dist(cls, value: DistributionSpec, info: Any) -> DistributionSpec:
        return _check_distribution(value, info.field_name)


class SimulatedCollectorSettings(_Strict):
    """People who are not there: log in, talk, wrap up, pause now and then."""

    count: int = Field(default=10, ge=0, le=5000)
    team: str = "demo-team"
    skills: list[str] = Field(
        default_factory=lambda: ["es", "late_stage"], description="skills every one of them has"
    )
    talk: DistributionSpec = Field(
        default_factory=lambda: {"dist": "lognormal", "mean": 150.0, "cv": 0.8}
    )
    wrap: DistributionSpec = Field(
        default_factory=lambda: {"dist": "gamma", "mean": 20.0, "cv": 0.5}
    )
    pause_probability: float = Field(
        default=0.05, ge=0.0, le=1.0, description="chance of a pause after a call"
    )
    pause: DistributionSpec = Field(default_factory=lambda: {"dist": "exponential", "mean": 120.0})

    @field_validator("talk", "wrap", "pause")
    @classmethod
    def _dist(cls, value: DistributionSpec, info: Any) -> DistributionSpec:
        return _check_distribution(value, info.field_name)


class TrunkSettings(_Strict):
    kind: Literal["simulated", "sip"] = "simulated"
    simulated: SimulatedCarrierSettings = Field(default_factory=SimulatedCarrierSettings)
    sip: SipTrunkSettings | None = Field(
        default=None, description="SIP trunk options (see docs/sip.md); required when kind is sip"
    )

    @model_validator(mode="after")
    def _sip_needs_options(self) -> TrunkSettings:
        if self.kind == "sip" and self.sip is None:
            raise ValueError("kind is 'sip' but the 'sip' section is missing")
        return self


class PacingSettings(_Strict):
    mode: Literal["preview", "progressive", "ratio", "adaptive", "predictive"] = "progressive"
    ratio: float = Field(default=1.5, ge=1.0, le=10.0)
    target_abandon_rate: float = Field(default=0.025, gt=0.0, le=0.03)
    max_lines_per_collector: float = Field(default=3.0, ge=1.0, le=10.0)

    def pacer_spec(self) -> str:
        return f"ratio:{self.ratio}" if self.mode == "ratio" else self.mode


class RoutingSettings(_Strict):
    owner_wait: float = Field(default=0.5, ge=0.0, le=2.0)
    team_wait: float = Field(default=0.5, ge=0.0, le=2.0)


class VoicemailSettings(_Strict):
    """The message a voicemail drop plays (docs/compliance.md "Voicemail drops")."""

    message_file: Path | None = Field(
        default=None, description="the recorded message played on a machine (WAV)"
    )
    message_text: str | None = Field(
        default=None,
        max_length=2000,
        description="what the recording says, declared here so it is checked at start-up "
        "against the profile's limited-content rules ({consumer_name} where the name is said)",
    )


class CampaignAmdSettings(AmdSettings):
    """One campaign's answering-machine detection: whether it is on and the classifier's
    timings (dialer.media.amd_settings), and what a machine gets."""

    on_machine: Literal["hangup", "voicemail_drop"] = "hangup"
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)
    false_positive_rate: float | None = Field(
        default=None,
        ge=0.0,
        lt=0.5,
        description="share of machine verdicts taken to be people hung up on, counted as "
        "abandoned calls where the profile counts them (UK Ofcom); None: the profile's "
        "conservative default",
    )

    @model_validator(mode="after")
    def _drop_needs_a_message(self) -> CampaignAmdSettings:
        if self.enabled and self.on_machine == "voicemail_drop":
            if self.voicemail.message_file is None:
                raise ValueError("on_machine is voicemail_drop but voicemail.message_file is unset")
            if not (self.voicemail.message_text and self.voicemail.message_text.strip()):
                raise ValueError(
                    "on_machine is voicemail_drop but voicemail.message_text is unset: declare "
                    "what the recording says, so it can be checked"
                )
        return self


class CampaignInboundSettings(_Strict):
    """Return calls on a blended campaign: the queue's longest wait and the service level
    the predictive pacer keeps collectors free for (dialer.pacing.blending)."""

    max_wait_seconds: float = Field(
        default=60.0, gt=0.0, le=3600.0, description="queued this long: offered a callback"
    )
    service_level: float = Field(
        default=0.80, gt=0.0, lt=1.0, description="share of inbound calls to answer in time"
    )
    answer_within_seconds: float = Field(default=20.0, gt=0.0, le=600.0)
    expected_calls_per_hour: float = Field(
        default=0.0, ge=0.0, description="the arrival rate assumed before any is seen"
    )


class CampaignSettings(_Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    compliance_profile: str = Field(min_length=1)
    pacing: PacingSettings = Field(default_factory=PacingSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    connect_grace: float = Field(default=2.0, ge=0.0, le=10.0)
    ring_timeout: float = Field(default=25.0, ge=15.0, le=120.0)
    caller_id: str | None = None
    wrap_up_seconds: float | None = Field(
        default=None,
        ge=0,
        description="ready again automatically after this wrap-up; None = by click",
    )
    max_wrap_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600.0,
        description="a wrap-up ends by itself after this: ready again if the collector's "
        "console is there, else paused 'disconnected'",
    )
    pause_reasons: list[str] = Field(
        default_factory=lambda: ["break", "lunch", "training", "meeting", "technical"]
    )
    max_promise_days: int = Field(default=30, ge=1, le=365)
    amd: CampaignAmdSettings = Field(default_factory=CampaignAmdSettings)
    # None: no inbound configured, and pacing is exactly as for an outbound-only campaign.
    inbound: CampaignInboundSettings | None = None
    recording: CampaignRecording = Field(default_factory=CampaignRecording)

    @field_validator("pause_reasons")
    @classmethod
    def _own_reasons(cls, reasons: list[str]) -> list[str]:
        taken = sorted(set(reasons) & RESERVED_PAUSE_REASONS)
        if taken:
            raise ValueError(f"{', '.join(taken)}: kept for the pauses the dialer makes itself")
        return reasons

    @model_validator(mode="after")
    def _wrap_limit_last(self) -> CampaignSettings:
        if self.wrap_up_seconds is not None and self.wrap_up_seconds > self.max_wrap_seconds:
            raise ValueError(
                f"wrap_up_seconds ({self.wrap_up_seconds:g}) is longer than max_wrap_seconds "
                f"({self.max_wrap_seconds:g}): every wrap-up would end at the limit first"
            )
        return self

    @model_validator(mode="after")
    def _routing_fits_grace(self) -> CampaignSettings:
        # Otherwise the "anyone" step never opens and answered calls are dropped at the
        # deadline although collectors are free.
        waits = self.routing.owner_wait + self.routing.team_wait
        if self.connect_grace > 0 and waits >= self.connect_grace:
            raise ValueError(
                f"routing.owner_wait + routing.team_wait ({waits:g} s) must be shorter than "
                f"connect_grace ({self.connect_grace:g} s)"
            )
        return self

    managers: list[str] = Field(
        default_factory=list,
        description="usernames of the managers who see and steer this campaign; empty = all",
    )


class LoggingSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIALER_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    trunk: TrunkSettings = Field(default_factory=TrunkSettings)
    collectors: SimulatedCollectorSettings = Field(default_factory=SimulatedCollectorSettings)
    campaigns: list[CampaignSettings] = Field(default_factory=list)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    compliance_dir: Path = PACKAGE_CONFIG_DIR / "compliance"
    demo_cases: int = Field(default=500, ge=0, le=1_000_000)
    demo_portfolio: Path | None = Field(
        default=None, description="CSV loaded into an empty campaign instead of demo_cases"
    )
    drain_timeout: float = Field(default=30.0, ge=0.0, le=3600.0)
    instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,  # the store's cases.lease_owner column (dialer.daemon.startup checks)
        description="names this daemon in leases; default: host name + pid",
    )
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    inbound: InboundSettings = Field(default_factory=InboundSettings)
    # the worker threads every campaign's answering-machine detection shares (dialer.media)
    amd_pool: AmdPoolSettings = Field(default_factory=AmdPoolSettings)
    # The file these settings were read from (load_settings), for errors found later.
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        return self._source_file

    def remember_source(self, file: Path | None) -> None:
        """The file these settings were read from (load_settings), for later errors."""
        self._source_file = file

    def source_of(self, key: str) -> str:
        """Where a setting (a dotted key) came from: its DIALER_ variable, else the file."""
        return _from_env(key.split(".")) or str(self._source_file or "(defaults)")

    @model_validator(mode="after")
    def _unique_campaigns(self) -> Settings:
        names = [c.name for c in self.campaigns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"campaign names must be unique: {', '.join(duplicates)}")
        return self

    @field_validator("demo_portfolio")
    @classmethod
    def _portfolio_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"no such file: {path} (relative to the working directory)")
        return path

    def campaign(self, name: str) -> CampaignSettings:
        for campaign in self.campaigns:
            if campaign.name == name:
                return campaign
        raise SettingsError(f"no campaign named {name!r} in the configuration")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _yaml_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("DIALER_CONFIG")
    if from_env:
        return Path(from_env)
    local = Path("config") / DEFAULT_CONFIG_NAME
    return local if local.exists() else PACKAGE_CONFIG_DIR / DEFAULT_CONFIG_NAME


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    token = _yaml_file.set(path)
    try:
        yield
    finally:
        _yaml_file.reset(token)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the configuration; raises SettingsError with a one-line reason."""
    file = config_path(path)
    _read_yaml(file)  # clear errors for a missing file or bad YAML before pydantic sees it
    with _reading(file):
        try:
            settings = Settings()
        except ValidationError as exc:
            raise SettingsError(_describe(exc, file)) from None
    settings.remember_source(file)
    return settings


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{file}: no such configuration file") from None
    except OSError as exc:
        raise SettingsError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise SettingsError(f"{file}: invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{file}: the top level must be a mapping of settings")
    return data


def _describe(exc: ValidationError, file: Path) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        key = ".".join(loc) or "(top level)"
        reason = error["msg"]
        if error["type"] == "extra_forbidden":
            reason = "unknown setting"
        source = _from_env(loc) or str(file)
        parts.append(f"{source}: {key}: {reason}")
    more = f" (and {len(parts) - 1} more)" if len(parts) > 1 else ""
    return parts[0] + more if parts else f"{file}: invalid configuration"


def _from_env(loc: list[str]) -> str | None:
    """The DIALER_ variable that set this key (or one of its parents), if any."""
    for end in range(len(loc), 0, -1):
        name = _env_name(loc[:end])
        if name in os.environ:
            return name
    return None


def _env_name(loc: list[str]) -> str:
    return "DIALER_" + "__".join(p.upper() for p in loc)


def service_level_terms(settings: Settings, campaign: str) -> tuple[float, float]:
    """The inbound service level a campaign must hold, as (share, within seconds): its own
    `campaigns[].inbound` (which the blended pacer reserves collectors for) where set, else
    the site's `inbound.service_level_target` and `inbound.service_level_seconds`."""
    for c in settings.campaigns:
        if c.name == campaign and c.inbound is not None:
            return c.inbound.service_level, c.inbound.answer_within_seconds
    return settings.inbound.service_level_target, settings.inbound.service_level_seconds
