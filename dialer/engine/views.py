"""Read-only views of the engine: what pacers, metrics and the manager pages ask of it.

`busy_elapsed` and `ringing_elapsed` are the detail model-based pacers read through the
`EngineView` protocol (dialer.pacing.base); `counts`, `occupancy` and `snapshot` feed the
metrics and the web pages; `DecisionRecord` is one entry of the engine's decision log.
They only read the engine's state, never change it, so they live apart from the state
machine in `dialer.engine`, which keeps thin methods delegating here. Sans-I/O like the
engine: the time is always passed in.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.calls import Call, CallState
from dialer.pacing.base import PacingDecision, PacingInputs

if TYPE_CHECKING:  # only for annotations: dialer.engine.core imports this module
    from dialer.engine.core import Engine


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One pacing decision that launched calls or wanted to (the manager page lists them)."""

    at: float
    inputs: PacingInputs
    decision: PacingDecision
    launched: int


def to_utc(now: float) -> datetime:
    """Engine time (epoch seconds) as the aware datetime compliance records carry."""
    return datetime.fromtimestamp(now, UTC)


def busy_elapsed(
    collectors: Iterable[Collector], now: float, inbound: Container[str | None] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(elapsed seconds in the current talk or wrap-up, True where in wrap-up).

    Collectors talking on a call in ``inbound`` are left out: the talk model is learned
    on outbound talks, and a return call (longer, and the caller's) is no evidence of
    when they come free; the blended reservation counts them apart."""
    elapsed: list[float] = []
    in_wrap: list[bool] = []
    for collector in collectors:
        if collector.state is CollectorState.ON_CALL and collector.call_id in inbound:
            continue
        if collector.state is CollectorState.ON_CALL and collector.talk_started_at is not None:
            elapsed.append(now - collector.talk_started_at)
            in_wrap.append(False)
        elif collector.state is CollectorState.WRAP_UP and collector.wrap_started_at is not None:
            elapsed.append(now - collector.wrap_started_at)
            in_wrap.append(True)
    return np.asarray(elapsed, dtype=float), np.asarray(in_wrap, dtype=bool)


def ringing_elapsed(calls: Iterable[Call], now: float) -> np.ndarray:
    """Seconds since dial for every call not yet answered."""
    return np.asarray(
        [
            now - call.dialed_at
            for call in calls
            if call.dialed_at is not None and call.state in (CallState.DIALING, CallState.RINGING)
        ],
        dtype=float,
    )


def counts(count: Counter[str]) -> dict[str, int]:
    """Collectors and calls by state (calls prefixed ``call_``), zeros left out."""
    return {k: v for k, v in count.items() if v}


def occupancy(collectors: Iterable[Collector], now: float) -> float:
    """(talk + wrap time) / logged-in time over all collectors so far."""
    busy = logged = 0.0
    for collector in collectors:
        seconds = dict(collector.seconds)
        # The current state's time is only added to `seconds` when it ends: count it so far.
        if collector.state is not CollectorState.LOGGED_OUT:
            key = collector.state.value
            seconds[key] = seconds.get(key, 0.0) + now - collector.since
        busy += seconds.get("on_call", 0.0) + seconds.get("wrap_up", 0.0)
        logged += sum(seconds.values())
    return busy / logged if logged > 0 else 0.0


def snapshot(engine: Engine, now: float) -> dict[str, Any]:
    """The campaign's headline figures, for the daemon's status."""
    return {
        "campaign": engine.config.campaign,
        "pacer": engine.pacer.name,
        "counts": engine.counts(),
        "hopper": engine.hopper_size,
        "dials": engine.stats.dials,
        "live_answers": engine.stats.live_answers,
        "abandoned": engine.stats.abandoned,
        "occupancy": engine.occupancy(now),
        "inbound": dataclasses.asdict(engine.inbound_stats),
    }
