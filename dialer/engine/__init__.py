"""The sans-I/O campaign engine: `Engine.handle(event, now)` and `Engine.tick(now)` take what
happened and the time and return the commands to carry out (DESIGN §3).

This is the package's public face. Its modules are layers of one engine (see
dialer.engine.state): the state and its bookkeeping, routing answered calls
(dialer.engine.answers), dialing (dialer.engine.dialing), presence (dialer.engine.presence:
no call for a collector whose console is gone) and the inputs and pacing
(dialer.engine.core), with inbound return calls (dialer.engine.inbound: routing, the
queue, the callback offer) the layer below it; the abandon-cap guard that holds the cap
whatever the pacer (dialer.engine.cap_guard), the routing policy (dialer.engine.routing),
the in-memory case hopper (dialer.engine.hopper) and the read-only views
(dialer.engine.views) beside them, and what a driver of the engine looks like to those who
watch it (dialer.engine.driver).
"""

from dialer.engine.cap_guard import AbandonCapGuard, GuardStatus, window_words
from dialer.engine.core import Engine
from dialer.engine.dialing import NO_SKILLED_COLLECTOR
from dialer.engine.driver import RunningCampaign, StepObserver
from dialer.engine.routing import RoutingPolicy, Stage
from dialer.engine.state import (
    MIN_RING_TIMEOUT,
    EngineConfig,
    EngineStats,
    OnMachine,
    UnknownCall,
    contact_outcome,
)
from dialer.engine.views import DecisionRecord, to_utc

__all__ = [
    "MIN_RING_TIMEOUT",
    "NO_SKILLED_COLLECTOR",
    "AbandonCapGuard",
    "DecisionRecord",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "GuardStatus",
    "OnMachine",
    "RoutingPolicy",
    "RunningCampaign",
    "Stage",
    "StepObserver",
    "UnknownCall",
    "contact_outcome",
    "to_utc",
    "window_words",
]
