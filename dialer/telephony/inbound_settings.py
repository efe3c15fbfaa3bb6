"""Settings of inbound return calls (`inbound:` in dialer.yaml): the trunk takes calls to
these numbers, dialer.daemon.inbound_desk routes them.

Every campaign's `caller_id` is one of our numbers: a debtor calling it back reaches that
campaign. `numbers` adds others (a published collections line), each mapped to the
campaign whose collectors take its calls. The service level is the share of offered calls
answered by a collector within `service_level_seconds`, over the last
`service_level_window_seconds`; under `service_level_target` the manager's page says so
and the DialerInboundServiceLevelLow alert fires (ops/README.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InboundSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="take calls to our numbers (SIP trunk)")
    numbers: dict[str, str] = Field(
        default_factory=dict, description="inbound number (E.164) -> campaign name"
    )
    service_level_seconds: float = Field(default=20.0, gt=0, le=600)
    service_level_target: float = Field(default=0.8, gt=0, le=1)
    service_level_window_seconds: float = Field(default=1800.0, ge=60, le=86400)
    callback_delay_seconds: float = Field(
        default=900.0, ge=0, le=7 * 86400, description="a requested callback, at the earliest"
    )
