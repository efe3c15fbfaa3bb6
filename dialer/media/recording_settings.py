"""Settings of call recording: the daemon-wide `recording` section and each campaign's
`campaigns[].recording` (declared here, composed by dialer.settings; nothing here imports
the settings module)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordingSettings(_Strict):
    """Where recordings go and how the writer behind the relay is sized."""

    directory: Path = Field(
        default=Path("var/recordings"), description="one file per call, under campaign/date/"
    )
    encrypt: bool = Field(
        default=False,
        description="seal files at rest with the privacy keyring (AES-GCM in 64 KiB chunks)",
    )
    queue_frames: int = Field(
        default=200_000,
        ge=1000,
        le=10_000_000,
        description="packets waiting for the writer thread; beyond, frames are dropped "
        "(counted), never the call",
    )
    batch_frames: int = Field(
        default=25, ge=1, le=500, description="packets a call hands the writer at a time"
    )
    default_retention_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="kept this long unless the campaign says longer or its profile more",
    )


class CampaignRecording(_Strict):
    """`campaigns[].recording`: on by default; kept at least the profile's minimum."""

    enabled: bool = True
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="days a recording is kept (default: recording.default_retention_days); "
        "never less than the compliance profile's minimum",
    )
