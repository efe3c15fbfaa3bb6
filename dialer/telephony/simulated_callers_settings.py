"""Settings of the simulated carrier's callers (`trunk.simulated.callers` in dialer.yaml):
debtors calling back on the demo's trunk (dialer.telephony.simulated_callers)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dialer.pacing.distribution_spec import DistributionError, parse_distribution

DistributionSpec = dict[str, Any]


class SimulatedCallersSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calls_per_hour: float = Field(
        default=0.0, ge=0.0, le=100000.0, description="callers a Poisson hour brings (0: none)"
    )
    talk: DistributionSpec = Field(
        default_factory=lambda: {"dist": "lognormal", "mean": 240.0, "cv": 0.8}
    )
    patience: DistributionSpec = Field(
        default_factory=lambda: {"dist": "exponential", "mean": 120.0}
    )
    callback_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="offered a callback: share who press 1"
    )
    unknown_share: float = Field(
        default=0.1, ge=0.0, le=1.0, description="callers from a number never dialed"
    )

    @field_validator("talk", "patience")
    @classmethod
    def _dist(cls, value: DistributionSpec, info: Any) -> DistributionSpec:
        try:
            parse_distribution(value, info.field_name)
        except DistributionError as exc:
            raise ValueError(str(exc)) from None
        return value
