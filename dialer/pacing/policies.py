"""The rule-based pacers: preview, progressive, ratio and the VICIdial-style adaptive baseline.

The model-based `predictive` pacer lives in predictive.py; `make_pacer` builds any of them
from a name such as ``"ratio:2.0"``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from dialer.pacing.base import EngineView, Pacer, PacingDecision, PacingInputs


class PreviewPacer(Pacer):
    """One call per ready collector, dialed on that collector's behalf (they are reserved
    from dial to outcome). `manual` in the simulator is this plus a hand-dialing delay."""

    name = "preview"

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        return PacingDecision(inputs.ready, "one reserved call per ready collector", True)


class ProgressivePacer(Pacer):
    """Calls in flight (dialing + ringing + answered waiting) kept equal to ready collectors."""

    name = "progressive"

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        return PacingDecision(max(0, inputs.ready - inputs.in_flight), "ready - in flight")


class RatioPacer(Pacer):
    """Calls in flight kept at ceil(K x ready collectors)."""

    name = "ratio"

    def __init__(self, ratio: float) -> None:
        self.ratio = _check_ratio(ratio)

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        target = math.ceil(self.ratio * inputs.ready - 1e-9)
        return PacingDecision(
            max(0, target - inputs.in_flight), f"ceil({self.ratio:g} x ready) - in flight"
        )

    def configure(self, **params: Any) -> None:
        ratio = params.pop("ratio", None)
        super().configure(**params)
        if ratio is not None:
            self.ratio = _check_ratio(float(ratio))


def _check_ratio(ratio: float) -> float:
    if not 1.0 <= ratio <= 10.0:
        raise ValueError(f"ratio must be between 1.0 and 10.0, got {ratio}")
    return ratio


class AdaptivePacer(Pacer):
    """A baseline modelled on VICIdial's ADAPT_HARD_LIMIT (DESIGN §4).

    Dial level L starts at 1.0. Every second a sample of ready collectors and answered calls
    waiting is taken (15-sample window); every 15 s L *= 1 + (mean ready - mean waiting) /
    mean logged in, clamped to [1, 3]. L drops to 1.0 when the shift (over 50 dials) is over
    the cap, and is halved when the last minute had over 20 dials and over 50% drops.
    """

    name = "adaptive"
    periodic = True

    def __init__(self, abandon_cap: float = 0.03) -> None:
        self.abandon_cap = abandon_cap
        self.level = 1.0
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=15)
        self._last: PacingInputs | None = None
        self._next_sample: float | None = None
        self._next_adjust: float | None = None
        self._dials = 0
        self._live = 0
        self._drops = 0
        self._recent_dials: deque[float] = deque()
        self._recent_live: deque[float] = deque()
        self._recent_drops: deque[float] = deque()

    def observe_launch(self, count: int, now: float) -> None:
        self._dials += count
        self._recent_dials.extend([now] * count)

    def observe_dial_resolved(self, delay: float, live_answer: bool, now: float) -> None:
        if live_answer:
            self._live += 1
            self._recent_live.append(now)

    def observe_abandon(self, now: float) -> None:
        self._drops += 1
        self._recent_drops.append(now)

    def _sample_until(self, now: float) -> None:
        if self._next_sample is None:
            self._next_sample = now + 1.0
            self._next_adjust = now + 15.0
        last = self._last
        while self._next_sample <= now:
            # The state was constant since the previous decision, so every 1-s mark passed
            # meanwhile saw the previous inputs.
            if last is not None:
                self._samples.append((last.ready, last.waiting, last.logged_in - last.paused))
            self._next_sample += 1.0
        assert self._next_adjust is not None
        while self._next_adjust <= now:
            self._adjust(self._next_adjust)
            self._next_adjust += 15.0

    def _adjust(self, at: float) -> None:
        if self._samples:
            ready = sum(s[0] for s in self._samples) / len(self._samples)
            waiting = sum(s[1] for s in self._samples) / len(self._samples)
            logged_in = sum(s[2] for s in self._samples) / len(self._samples)
            if logged_in > 0:
                self.level *= 1.0 + (ready - waiting) / logged_in
        self.level = min(3.0, max(1.0, self.level))
        if self._dials > 50 and self._live > 0 and self._drops / self._live > self.abandon_cap:
            self.level = 1.0
        for window in (self._recent_dials, self._recent_live, self._recent_drops):
            while window and window[0] < at - 60.0:
                window.popleft()
        live = len(self._recent_live)
        if len(self._recent_dials) > 20 and live > 0 and len(self._recent_drops) / live > 0.5:
            self.level = max(1.0, self.level / 2.0)

    def decide(
        self, inputs: PacingInputs, view: EngineView, rng: np.random.Generator
    ) -> PacingDecision:
        self._sample_until(inputs.now)
        self._last = inputs
        target = round(self.level * (inputs.ready + inputs.on_call))
        busy_lines = inputs.in_flight + inputs.on_call
        return PacingDecision(
            max(0, target - busy_lines),
            f"round(L={self.level:.2f} x (ready + on call)) - lines in use",
            detail={"level": self.level},
        )


def make_pacer(spec: str, *, abandon_cap: float = 0.03, **options: Any) -> Pacer:
    """Build a pacer from its name: preview, manual, progressive, ratio:K, adaptive,
    predictive. Raises ValueError naming the spec when it is unknown or malformed."""
    name, _, arg = spec.partition(":")
    name = name.strip().lower()
    if name in ("preview", "manual"):
        return PreviewPacer()
    if name == "progressive":
        return ProgressivePacer()
    if name == "ratio":
        try:
            return RatioPacer(float(arg) if arg else float(options.get("ratio", 2.0)))
        except ValueError as exc:
            raise ValueError(f"pacer {spec!r}: {exc}") from None
    if name == "adaptive":
        return AdaptivePacer(abandon_cap=abandon_cap)
    if name == "predictive":
        from dialer.pacing.predictive import PredictivePacer

        return PredictivePacer(abandon_cap=abandon_cap, **options)
    raise ValueError(
        f"unknown pacer {spec!r}: expected preview, manual, progressive, ratio:K, adaptive, "
        "predictive"
    )
