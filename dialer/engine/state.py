"""The engine's state and its bookkeeping, shared by the engine package's modules.

`EngineState` holds what the campaign engine knows (collectors, calls, the hopper, the
deadlines, this run's own attempts) and the two ways its states change, `_transition` for a
collector and `_set_call_state` for a call, which keep the counts the pacer reads up to date.
The engine is built on it in layers, each a module of this package: `Answers`
(dialer.engine.answers: routing answered calls, abandons, ring timeouts) on the state,
`Machines` (dialer.engine.machines: machine answers, voicemail drops, the end of every
call) on that, `Dialing` (dialer.engine.dialing: launches and the dial-time compliance
check) on that, `Presence` (dialer.engine.presence: absent collectors, actions waiting for
a call's end) on that, and `Engine` (dialer.engine.core: the inputs, pacing and views) on top. The
underscored names are the package's own: only its layers use them, through `self`.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from dialer.domain.agents import DISCONNECTED, Collector, CollectorState
from dialer.domain.calls import Call, CallOutcome
from dialer.domain.guard import DialGuard
from dialer.domain.model import Case, ContactOutcome, ContactRecord, DialTarget
from dialer.engine import routing
from dialer.engine.cap_guard import AbandonCapGuard
from dialer.engine.hopper import CaseHopper
from dialer.engine.views import DecisionRecord
from dialer.pacing.base import Pacer

MIN_RING_TIMEOUT = 15.0
# The longest look-back of any compliance rule is 7 local days (US Reg F); keep a margin.
HISTORY_KEEP = 9 * 86400.0
HISTORY_PRUNE_EVERY = 3600.0
_UNREACHABLE = frozenset({CollectorState.LOGGED_OUT, CollectorState.PAUSED})
# What a campaign does when AMD says machine (dialer.engine.machines).
HANGUP = "hangup"
VOICEMAIL_DROP = "voicemail_drop"
OnMachine = Literal["hangup", "voicemail_drop"]


class UnknownCall(KeyError):
    """An event named a call the engine does not know (already ended, or never placed)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    campaign: str
    connect_grace: float = 2.0
    ring_timeout: float = 25.0
    max_lines_per_collector: float = 3.0
    routing: routing.RoutingPolicy = field(default_factory=routing.RoutingPolicy)
    tick_interval: float = 0.5
    hopper_low_water: int = 20
    hopper_batch: int = 100
    hopper_retry_after: float = 1.0  # after an empty supply, wait before asking again
    preview_dial_delay: float = 0.0  # manual dialing: seconds a collector spends dialing
    auto_ready_after_wrap: float | None = None
    # Wrap-up ends by itself after this (None: no limit): ready again, or paused
    # `disconnected` when their console is gone (dialer.engine.presence).
    max_wrap: float | None = None
    # A collector found absent (their console gone) with a call in hand: end that call
    # (True: nothing else links them to it, as with the simulated trunk) or let it run
    # (False: their phone carries the audio), pausing them when it ends.
    hang_up_when_absent: bool = False
    call_id_prefix: str = "c"
    unservable_retry_after: float = 300.0  # a case no present collector can take
    decision_log_size: int = 20
    # The abandon-cap guard (dialer.engine.cap_guard): the profile's cap and window in
    # seconds (None: since the start). None: no guard (the simulator's rival pacers).
    abandon_cap: float | None = None
    abandon_window: float | None = None
    # A machine verdict: hang up, or leave the campaign's message (dialer.engine.machines).
    on_machine: OnMachine = "hangup"
    # The share of machine verdicts taken to be humans hung up on (AMD false positives),
    # which the guard's ledger counts as abandons, each with its live answer: > 0 only
    # under a profile that counts them (UK Ofcom) with AMD on.
    machine_false_positive_rate: float = 0.0
    # Inbound calls (dialer.engine.inbound): a caller queued this long is offered a callback.
    inbound_max_wait: float = 60.0

    def __post_init__(self) -> None:
        if self.connect_grace < 0:
            raise ValueError("connect_grace must be >= 0")
        if self.ring_timeout < MIN_RING_TIMEOUT:
            raise ValueError(f"ring_timeout must be >= {MIN_RING_TIMEOUT:g} s")
        if self.max_lines_per_collector < 1:
            raise ValueError("max_lines_per_collector must be >= 1")
        if not 0 < self.tick_interval <= 0.5:
            raise ValueError("tick_interval must be in (0, 0.5] s")
        if self.abandon_cap is not None and not 0 < self.abandon_cap < 1:
            raise ValueError("abandon_cap must be in (0, 1)")
        if self.abandon_window is not None and not self.abandon_window > 0:
            raise ValueError("abandon_window must be > 0 s")
        if self.max_wrap is not None and not self.max_wrap > 0:
            raise ValueError("max_wrap must be > 0 s")
        if self.on_machine not in (HANGUP, VOICEMAIL_DROP):
            raise ValueError(f"on_machine must be {HANGUP} or {VOICEMAIL_DROP}")
        if not 0 <= self.machine_false_positive_rate < 1:
            raise ValueError("machine_false_positive_rate must be in [0, 1)")
        if not self.inbound_max_wait > 0:
            raise ValueError("inbound_max_wait must be > 0 s")

    @property
    def wrap_limit(self) -> float | None:
        """Seconds after which a wrap-up ends by itself (the sooner of the two settings)."""
        limits = [x for x in (self.auto_ready_after_wrap, self.max_wrap) if x is not None]
        return min(limits) if limits else None


@dataclass(slots=True)
class EngineStats:
    dials: int = 0
    live_answers: int = 0
    abandoned: int = 0
    bridged: int = 0
    machine_verdicts: int = 0  # answers AMD called machine (hung up on or left a message)
    outcomes: Counter[str] = field(default_factory=Counter)
    talk_seconds: float = 0.0
    answer_to_bridge_max: float = 0.0


_CONTACT_OUTCOME = {
    CallOutcome.BUSY: ContactOutcome.BUSY,
    CallOutcome.NO_ANSWER: ContactOutcome.NO_ANSWER,
    CallOutcome.FAILED: ContactOutcome.FAILED,
    CallOutcome.MACHINE: ContactOutcome.MACHINE,
    CallOutcome.MACHINE_MESSAGE_LEFT: ContactOutcome.MACHINE_MESSAGE_LEFT,
    CallOutcome.ABANDONED: ContactOutcome.ABANDONED,
    CallOutcome.TRUNK_FAILED: ContactOutcome.TRUNK_FAILED,
}


def contact_outcome(call: Call) -> ContactOutcome:
    """How compliance counts a finished call: a bridged call is a conversation; a dead
    call is one only if the debtor's audio flowed in the bridge before the media stopped
    (they talked, and the line then dropped), otherwise `media_lost`."""
    if call.outcome is CallOutcome.MEDIA_LOST:
        return ContactOutcome.CONVERSATION if call.talk_seconds > 0 else ContactOutcome.MEDIA_LOST
    if call.outcome is CallOutcome.COMPLETED:
        return (
            ContactOutcome.CONVERSATION if call.bridged_at is not None else ContactOutcome.ANSWERED
        )
    assert call.outcome is not None
    return _CONTACT_OUTCOME[call.outcome]


class EngineState:
    def __init__(
        self,
        config: EngineConfig,
        pacer: Pacer,
        rng: np.random.Generator,
        guard: DialGuard | None = None,
    ) -> None:
        self.config = config
        self.pacer = pacer
        self.rng = rng
        self.guard = guard
        self.stats = EngineStats()
        self.decisions: deque[DecisionRecord] = deque(maxlen=config.decision_log_size)
        self.collectors: dict[str, Collector] = {}
        self.calls: dict[str, Call] = {}
        self.draining = False
        self.paused = False  # a manager paused the campaign: no new dials
        # Why the daemon stops this campaign launching (reason -> plain words), e.g. the
        # store cannot take writes: no record, no call.
        self.holds: dict[str, str] = {}
        # Holds the abandon cap whatever the pacer (None: unguarded, as in the simulator).
        self.cap_guard: AbandonCapGuard | None = None
        if config.abandon_cap is not None:
            self.cap_guard = AbandonCapGuard(
                config.abandon_cap,
                config.abandon_window,
                machine_false_positive_rate=config.machine_false_positive_rate,
            )
        self._pace_due = False  # a hold was lifted: pace at the next tick, event or not
        self._ready: OrderedDict[str, Collector] = OrderedDict()  # longest idle first
        self._waiting: OrderedDict[str, Call] = OrderedDict()  # answered, in answer order
        self._targets: dict[str, DialTarget] = {}
        self.case_hopper = CaseHopper(
            config.hopper_low_water, config.hopper_batch, config.hopper_retry_after
        )
        self._ring_deadlines: list[tuple[float, str]] = []
        self._preview_dials: list[tuple[float, str]] = []  # (dial at, call id)
        self._wrap_deadlines: list[tuple[float, str, float]] = []
        self._own_history: dict[str, list[ContactRecord]] = {}
        self._pruned_at = -math.inf
        self._seq = 0
        self._count: Counter[str] = Counter()  # calls and collectors by state
        # Skill sets of the collectors calls can reach (not paused, not logged out): a case
        # is only dialed when one of them (or its owner) could take it.
        self._skillsets: Counter[frozenset[str]] = Counter()
        self._counted_skills: dict[str, frozenset[str]] = {}
        # Presence (dialer.engine.presence): until when each watched collector counts as
        # present, those deadlines in a heap (stale entries skipped), and what waits for
        # the end of a collector's call: ("logout", None) or ("pause", reason).
        self._present_until: dict[str, float] = {}
        self._presence_due: list[tuple[float, str]] = []
        self._after_call: dict[str, tuple[str, str | None]] = {}

    def _collector(self, collector_id: str) -> Collector:
        collector = self.collectors.get(collector_id)
        if collector is None:
            raise KeyError(f"unknown collector {collector_id!r}")
        return collector

    def _transition(self, collector: Collector, move: Callable[..., None], *args: Any) -> None:
        before = collector.state
        move(*args)
        # str() of a StrEnum is its value without the (slow, Python-level) .value property.
        if before is not CollectorState.LOGGED_OUT:
            self._count[str(before)] -= 1
        if collector.state is not CollectorState.LOGGED_OUT:
            self._count[str(collector.state)] += 1
        if collector.state is CollectorState.READY:
            if before is not CollectorState.READY:
                self._ready[collector.collector_id] = collector
        else:
            self._ready.pop(collector.collector_id, None)
        self._count_skills(collector)

    def _count_skills(self, collector: Collector) -> None:
        counted = self._counted_skills.pop(collector.collector_id, None)
        if counted is not None:
            self._skillsets[counted] -= 1
            if not self._skillsets[counted]:
                del self._skillsets[counted]
        if collector.state not in _UNREACHABLE:
            self._counted_skills[collector.collector_id] = collector.skills
            self._skillsets[collector.skills] += 1

    def _present(self, collector_id: str, now: float) -> bool:
        """Unwatched collectors (never seen: simulated ones) are always present."""
        until = self._present_until.get(collector_id)
        return until is None or until > now

    def _settle(self, collector: Collector, now: float) -> None:
        """A collector just came free (ready, or in wrap-up at the end of a call): what
        waited for that applies now, a logout or a pause; else a ready collector who is
        absent is paused `disconnected`. So no one absent is ever ready to be routed."""
        pending = self._after_call.pop(collector.collector_id, None)
        if pending is not None:
            action, reason = pending
            if action == "logout":
                self._transition(collector, collector.log_out, now)
            else:
                self._transition(collector, collector.pause, reason, now)
        elif collector.state is CollectorState.READY and not self._present(
            collector.collector_id, now
        ):
            self._transition(collector, collector.pause, DISCONNECTED, now)

    def _end_talk(self, collector: Collector, now: float) -> None:
        """The collector's call ended (outbound or inbound): wrap-up, with its limit, unless
        a pause or logout waited for this call."""
        self._transition(collector, collector.hang_up, now)
        self._settle(collector, now)
        limit = self.config.wrap_limit
        if limit is not None and collector.state is CollectorState.WRAP_UP:
            heapq.heappush(self._wrap_deadlines, (now + limit, collector.collector_id, now))

    def can_take(self, case: Case) -> bool:
        """Whether a collector calls can reach (not paused or logged out) could take a call
        on `case`: its owner, or anyone with the skills it needs."""
        if case.owner is not None and case.owner in self._counted_skills:
            return True
        needed = case.skills
        return any(needed <= skills for skills in self._skillsets)

    def _call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise UnknownCall(call_id)
        return call

    def _set_call_state(
        self, call: Call, move: Callable[..., None], *args: Any, **kwargs: Any
    ) -> None:
        before = call.state
        move(*args, **kwargs)
        # A StrEnum concatenates as its value: no call to the slow .value property.
        self._count["call_" + before] -= 1
        self._count["call_" + call.state] += 1
