"""Publish/subscribe between the campaign runners and the web's event streams.

Each runner calls `EventsHub.observe` after every engine step with the event it handled and
the commands it got back. For the collectors who work through the web (they are tracked
once they go ready there), the hub remembers the call last routed to each of them, and
publishes to their subscribers:
- ``call``: a call was bridged to the collector (the screen pop);
- ``ended``: that call ended (the disposition form, the wrap-up countdown);
- ``state``: the collector's state changed (ready, paused, on a call, wrap-up, ...).

Observing costs a dictionary look-up per tracked collector and per command; simulated
collectors are never tracked. Subscribers get bounded queues: a slow browser loses old
messages, never slows a runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dialer.domain.agents import Collector, CollectorState
from dialer.domain.commands import AttemptFinished, Bridge, Command, InboundFinished
from dialer.domain.events import Event
from dialer.engine import RunningCampaign
from dialer.logs import event as log_event
from dialer.web.facade import InboundPop

log = logging.getLogger(__name__)
QUEUE_SIZE = 64


@dataclass(slots=True)
class RoutedCall:
    """The call last bridged to a collector, and its case. An inbound call (the debtor
    called us back) names the other cases the number matches and the caller's number,
    masked; an unknown caller has no case (`case_id` None)."""

    campaign: str
    call_id: str
    case_id: int | None
    bridged_at: float
    ended_at: float | None = None
    recorded: list[str] = field(default_factory=list)  # dispositions recorded, by kind
    inbound: bool = False
    other_case_ids: tuple[int, ...] = ()
    caller_masked: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "call_id": self.call_id,
            "case_id": self.case_id,
            "bridged_at": self.bridged_at,
            "ended_at": self.ended_at,
            "active": self.ended_at is None,
            "recorded": list(self.recorded),
            "inbound": self.inbound,
            "other_case_ids": list(self.other_case_ids),
            "caller_masked": self.caller_masked,
        }


@dataclass(frozen=True, slots=True)
class HubMessage:
    kind: str  # "state" | "call" | "ended"
    data: dict[str, Any] = field(default_factory=dict)


# Where a collector is logged in: (campaign, their engine record), or None.
Locator = Callable[[str], tuple[str, Collector] | None]
# The screen pop of an inbound call by call id (None: not an inbound call).
InboundLookup = Callable[[str], InboundPop | None]
# (campaign, state, pause reason, call id, what waits for the end of the call)
_StateKey = tuple[str | None, str, str | None, str | None, tuple[str, str | None] | None]


class EventsHub:
    def __init__(
        self,
        locate: Locator,
        inbound: InboundLookup | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._locate = locate
        self._inbound = inbound  # the daemon's inbound calls (dialer.daemon.inbound_desk)
        self._now = now  # the daemon's clock: when an inbound call is bridged
        self._subscribers: dict[str, set[asyncio.Queue[HubMessage | None]]] = {}
        self._tracked: set[str] = set()
        self._seen: dict[tuple[str, str], _StateKey] = {}  # (campaign, collector) -> state
        self._published: dict[str, _StateKey] = {}
        self._calls: dict[str, str] = {}  # call id -> tracked collector on it
        self.routed: dict[str, RoutedCall] = {}
        self.closed = False

    # ----- collectors and subscribers ---------------------------------------------------------

    def track(self, collector_id: str) -> None:
        """Follow this collector's calls and state (a person using the web console)."""
        self._tracked.add(collector_id)

    def tracked(self, collector_id: str) -> bool:
        return collector_id in self._tracked

    @contextlib.contextmanager
    def subscription(self, collector_id: str) -> Iterator[asyncio.Queue[HubMessage | None]]:
        """A queue of this collector's messages while the block runs; None means closed."""
        queue: asyncio.Queue[HubMessage | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.setdefault(collector_id, set()).add(queue)
        if self.closed:
            queue.put_nowait(None)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(collector_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[collector_id]

    def subscribers(self, collector_id: str) -> int:
        return len(self._subscribers.get(collector_id, ()))

    def publish(self, collector_id: str, message: HubMessage) -> None:
        for queue in self._subscribers.get(collector_id, ()):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(message)

    def disconnect(self, collector_id: str) -> int:
        """End this collector's open streams (their sessions were ended: a reconnect must
        show its session again); returns how many there were."""
        queues = self._subscribers.get(collector_id, set())
        for queue in queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(None)
        return len(queues)

    def close(self) -> None:
        """The daemon is stopping: end every stream."""
        self.closed = True
        for queues in self._subscribers.values():
            for queue in queues:
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(None)

    # ----- the runners' hook ------------------------------------------------------------------

    def observe(
        self, runner: RunningCampaign, event: Event | None, commands: list[Command]
    ) -> None:
        """Called by a runner after each engine step; never raises into the runner."""
        if not self._tracked:
            return
        try:
            self._observe(runner, commands)
        except Exception as exc:  # a bug here must not stop a campaign
            log_event(log, "web.hub_failed", logging.ERROR, campaign=runner.name, error=repr(exc))

    def _routed(self, runner: RunningCampaign, command: Bridge) -> RoutedCall | None:
        """The call a Bridge puts on a collector's screen: an outbound call of the engine's,
        or an inbound one (a debtor calling back, known to the daemon's inbound desk)."""
        call = runner.engine.calls.get(command.call_id)
        if call is not None:
            if not call.case_ref.isdigit():
                return None
            bridged_at = call.bridged_at if call.bridged_at is not None else 0.0
            return RoutedCall(runner.name, call.call_id, int(call.case_ref), bridged_at)
        pop = self._inbound(command.call_id) if self._inbound is not None else None
        if pop is None:
            return None
        return RoutedCall(
            runner.name,
            command.call_id,
            pop.case_id,
            self._now(),
            inbound=True,
            other_case_ids=pop.other_case_ids,
            caller_masked=pop.caller_masked,
        )

    def _observe(self, runner: RunningCampaign, commands: list[Command]) -> None:
        engine = runner.engine
        for command in commands:
            if isinstance(command, Bridge) and command.collector_id in self._tracked:
                routed = self._routed(runner, command)
                if routed is None:
                    continue
                self.routed[command.collector_id] = routed
                self._calls[routed.call_id] = command.collector_id
                self.publish(command.collector_id, HubMessage("call", routed.as_dict()))
            elif (
                isinstance(command, AttemptFinished | InboundFinished)
                and command.call.call_id in self._calls
            ):
                collector_id = self._calls.pop(command.call.call_id)
                last = self.routed.get(collector_id)
                if last is not None and last.call_id == command.call.call_id:
                    last.ended_at = command.call.ended_at
                    self.publish(collector_id, HubMessage("ended", last.as_dict()))
        for collector_id in self._tracked:
            collector = engine.collectors.get(collector_id)
            if collector is None:
                continue
            # A manager's pause or logout waiting for the call's end is news to the console.
            pending = engine.after_call(collector_id)
            key = _key(runner.name, collector, pending)
            if self._seen.get((runner.name, collector_id)) == key:
                continue
            self._seen[(runner.name, collector_id)] = key
            self._state_changed(collector_id, pending)

    def _state_changed(
        self, collector_id: str, pending: tuple[str, str | None] | None = None
    ) -> None:
        found = self._locate(collector_id)
        key: _StateKey = (None, CollectorState.LOGGED_OUT.value, None, None, None)
        if found is not None:
            key = _key(*found, pending)
        if self._published.get(collector_id) == key:
            return
        self._published[collector_id] = key
        campaign, state, reason, call_id, _ = key
        self.publish(
            collector_id,
            HubMessage(
                "state",
                {"campaign": campaign, "state": state, "pause_reason": reason, "call_id": call_id},
            ),
        )


def _key(campaign: str, collector: Collector, pending: tuple[str, str | None] | None) -> _StateKey:
    return (campaign, collector.state.value, collector.pause_reason, collector.call_id, pending)
