"""Answering-machine detection settings: one campaign's `campaigns[].amd`, and the pool's.

The cadence timings carry Asterisk app_amd's documented defaults (amd.conf: initial
silence 2500 ms, greeting 1500 ms, after-greeting silence 800 ms, total analysis 5000 ms,
minimum word 100 ms, between words 50 ms, maximum word 5000 ms), in seconds as our
settings are. The word cap is 3 (machine when the third word starts), as FreeSWITCH's
mod_amd port of the same algorithm ships it; `silence_threshold` becomes the VAD's own
speech threshold. The greeting-end fields are for a voicemail drop after a machine
verdict: the message starts after the beep, or after this much silence following speech.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dialer.media.vad import VadKind, VadOptions


class AmdSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description="listen to the answer before routing it")
    vad: VadKind = Field(
        default="silero", description="voice detector: silero (default), webrtc, energy"
    )
    speech_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="VAD probability from which a window is speech"
    )
    webrtc_mode: int = Field(default=2, ge=0, le=3)
    energy_threshold: float = Field(
        default=256.0, gt=0.0, le=32767.0, description="mean level of speech, energy VAD only"
    )
    initial_silence: float = Field(
        default=2.5, gt=0.0, description="silence before any word longer than this: machine"
    )
    greeting: float = Field(
        default=1.5, gt=0.0, description="voiced time of the greeting beyond this: machine"
    )
    after_greeting_silence: float = Field(
        default=0.8, gt=0.0, description="silence after the greeting this long: human"
    )
    total_analysis_time: float = Field(
        default=5.0, gt=0.0, le=30.0, description="no decision by then: notsure"
    )
    min_word_length: float = Field(
        default=0.1, gt=0.0, description="voice at least this long counts as a word"
    )
    between_words_silence: float = Field(
        default=0.05, gt=0.0, description="silence at least this long ends a word"
    )
    maximum_words: int = Field(default=3, ge=1, description="this many words: machine")
    maximum_word_length: float = Field(
        default=5.0, gt=0.0, description="one word longer than this: machine"
    )
    greeting_end_silence: float = Field(
        default=1.5, gt=0.0, description="silence after speech that ends a machine's greeting"
    )
    greeting_end_timeout: float = Field(
        default=30.0, gt=0.0, description="longest wait for a machine's greeting to end"
    )
    beep_min_seconds: float = Field(
        default=0.08, gt=0.0, description="a steady tone at least this long is the beep"
    )
    beep_min_hz: float = Field(default=400.0, gt=0.0)
    beep_max_hz: float = Field(default=2600.0, lt=4000.0)

    @model_validator(mode="after")
    def _decidable(self) -> Self:
        # A rule whose threshold lies beyond the analysis time can never fire.
        for key in ("initial_silence", "greeting", "after_greeting_silence"):
            if getattr(self, key) >= self.total_analysis_time:
                raise ValueError(f"{key} must be shorter than total_analysis_time")
        if self.beep_min_hz >= self.beep_max_hz:
            raise ValueError("beep_min_hz must be below beep_max_hz")
        return self

    def vad_options(self) -> VadOptions:
        return VadOptions(
            kind=self.vad, webrtc_mode=self.webrtc_mode, energy_threshold=self.energy_threshold
        )


class AmdPoolSettings(BaseModel):
    """The worker pool that runs every call's classifier off the event loop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(default=2, ge=1, le=64, description="worker threads")
    max_backlog_seconds: float = Field(
        default=1.0,
        gt=0.0,
        description="audio a call may have waiting for a worker; beyond it the call's "
        "analysis is dropped (verdict notsure) rather than delay it further",
    )
    idle_detectors: int = Field(
        default=32,
        ge=0,
        description="built detectors kept for the next calls; a silero detector holds "
        "about 10 MB, one per call under analysis, so a burst's extra ones are let go",
    )
