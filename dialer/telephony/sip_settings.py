"""Settings of the SIP trunk (nested in the daemon settings under `trunk.sip`).

The password can come inline (a `SecretStr`, never shown by `repr`/logs), from an
environment variable named by `password_env`, or from a file named by `password_file`;
at most one of the three. It is resolved when the trunk starts, not when the settings load.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_UNSAFE = re.compile(r'[\r\n"<>;@]')
DEFAULT_SAFE_HARBOR = Path(__file__).resolve().parent / "media" / "safe_harbor.pcmu"


# The field `register` (its name in the issue and in YAML) shadows `BaseModel.register`
# (ABCMeta's); pydantic warns about that, harmlessly: instances read the field.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r'Field name "register"', UserWarning)

    class SipTrunkSettings(BaseModel):
        """Where the SIP server is, how we authenticate, and how hard we may dial."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        server: str = Field(description="SIP server / carrier host (IP or DNS name, A record)")
        port: int = Field(default=5060, ge=1, le=65535)
        transport: Literal["udp"] = "udp"
        username: str | None = Field(default=None, description="auth user and Contact user")
        password: SecretStr | None = None
        password_env: str | None = Field(default=None, description="env var holding the password")
        password_file: Path | None = Field(default=None, description="file holding the password")
        register: bool = Field(default=False, description="REGISTER in the background")
        register_expires: int = Field(default=300, ge=60, le=86400)
        caller_id: str | None = Field(default=None, description="the caller ID the debtor sees")
        caller_name: str | None = Field(default=None, description="From display name")
        from_user: Literal["auth", "caller_id"] | None = Field(
            default=None,
            description="From user: the auth username (caller ID in P-Asserted-Identity) or "
            "the caller ID; default auth when a username is set",
        )
        local_ip: str | None = Field(
            default=None, description="IP to bind and advertise (None: the route to the server)"
        )
        local_port: int = Field(default=0, ge=0, le=65535, description="SIP port, 0 = ephemeral")
        rtp_port_range: tuple[int, int] = (20000, 30000)
        rtp_symmetric: bool = Field(
            default=False, description="send RTP back to where the far end's RTP comes from (NAT)"
        )
        calls_per_second: float = Field(default=20.0, gt=0, le=1000)
        ring_timeout: float = Field(default=25.0, ge=15, le=300)
        recv_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
        collectors: dict[str, str] = Field(
            default_factory=dict, description="collector id -> SIP URI or number of their phone"
        )
        safe_harbor_file: Path = DEFAULT_SAFE_HARBOR
        # Inbound calls (sip_inbound_media): how long the callback offer waits for a key
        # after its prompt, where callers' voicemails go, and their longest.
        inbound_offer_timeout: float = Field(default=10.0, ge=1, le=120)
        voicemail_dir: Path = Path("var/voicemail")
        voicemail_max_seconds: float = Field(default=120.0, ge=5, le=900)
        timer_t1: float = Field(default=0.5, gt=0, le=5, description="RFC 3261 T1 (RTT estimate)")
        user_agent: str = "dialer"
        # Dead calls (sip_liveness): no RTP for this long from a far end that sends media,
        # confirmed by an in-dialog OPTIONS, and the call is torn down as media_lost.
        media_timeout: float = Field(default=30.0, ge=1, le=3600)
        media_timeout_initial: float = Field(
            default=10.0, ge=1, le=3600, description="for a leg that never sent a packet"
        )
        keepalive_interval: float = Field(
            default=60.0, ge=0, le=3600, description="in-dialog OPTIONS every; 0 = off"
        )
        keepalive_timeout: float = Field(default=4.0, gt=0, le=60)
        # Trunk health (trunk_health): carrier failures in a row that open the breaker, and
        # the probe backoff while it is open.
        breaker_failures: int = Field(default=3, ge=1, le=1000)
        breaker_backoff: float = Field(default=2.0, gt=0, le=3600)
        breaker_backoff_max: float = Field(default=60.0, gt=0, le=86400)
        probe_timeout: float = Field(default=4.0, gt=0, le=60)

        @field_validator("server")
        @classmethod
        def _server_not_blank(cls, value: str) -> str:
            value = value.strip()
            if not _HOST.fullmatch(value):
                raise ValueError("server must be a host name or IPv4 address (port in `port`)")
            return value

        @field_validator("username", "caller_id", "caller_name", "user_agent")
        @classmethod
        def _header_safe(cls, value: str | None) -> str | None:
            if value is not None and (not value.strip() or _UNSAFE.search(value)):
                raise ValueError("must be non-blank, without quotes, <>, ;, @ or line breaks")
            return value

        @field_validator("rtp_port_range")
        @classmethod
        def _rtp_range(cls, value: tuple[int, int]) -> tuple[int, int]:
            low, high = value
            if not 1024 <= low < high <= 65535:
                raise ValueError(
                    "rtp_port_range must be (low, high) with 1024 <= low < high <= 65535"
                )
            if high - low < 4:
                raise ValueError("rtp_port_range must hold at least two RTP ports")
            return value

        @field_validator("collectors")
        @classmethod
        def _collectors(cls, value: dict[str, str]) -> dict[str, str]:
            for collector_id, address in value.items():
                if not address.strip() or any(ch in address for ch in ' \r\n<>"'):
                    raise ValueError(f"collector {collector_id!r}: give a SIP URI or a number")
            return value

        @model_validator(mode="after")
        def _one_password_source(self) -> SipTrunkSettings:
            sources = [self.password is not None, bool(self.password_env), bool(self.password_file)]
            if sum(sources) > 1:
                raise ValueError("give at most one of password, password_env, password_file")
            return self

        @model_validator(mode="after")
        def _from_user_has_a_value(self) -> SipTrunkSettings:
            if self.from_user == "auth" and not self.username:
                raise ValueError("from_user: auth needs a username")
            if self.from_user == "caller_id" and not self.caller_id:
                raise ValueError("from_user: caller_id needs a caller_id")
            return self

        @property
        def from_user_mode(self) -> Literal["auth", "caller_id"]:
            """What goes in the From user part (see `from_user`)."""
            if self.from_user is not None:
                return self.from_user
            return "auth" if self.username else "caller_id"

        @property
        def timer_b(self) -> float:
            """RFC 3261 timer B / F: how long a transaction waits for a final answer."""
            return 64 * self.timer_t1

        def resolve_password(self) -> str | None:
            """The password from its configured source (may read a file: call it off-loop)."""
            if self.password is not None:
                return self.password.get_secret_value()
            if self.password_env:
                value = os.environ.get(self.password_env)
                if value is None:
                    raise ValueError(
                        f"password_env: environment variable {self.password_env} unset"
                    )
                return value
            if self.password_file:
                return self.password_file.read_text(encoding="utf-8").strip()
            return None
