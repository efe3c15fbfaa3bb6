"""Collectors' nailed-up legs: the daemon's side of `Trunk.collector_login`.

A collector who logs in (a simulated one, or a person through the web console: both push
`CollectorLoggedIn` through `CampaignRunner.push`) reaches the engine only once the trunk has
called their phone and the leg is up, so no debtor is ever bridged to a phone that is not
there. Logging out hangs the leg up. When the phone hangs up its leg, the collector is
paused ("phone_lost"); a call they were on (or reserved for) is hung up first, since the
debtor would hear nothing, and the pause follows that call's end. Going ready again calls
the phone again first. A logout that waits for the end of a call (`after_call`) hangs the
leg up once the engine has logged them out. With the simulated trunk there are no legs:
events pass straight on.

The legs also tell the engine what a collector whose console is gone keeps
(dialer.engine.presence): with a leg, the phone carries the call, so it goes on; without
legs nothing but the console links the collector to a call, so the engine ends it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Mapping

from dialer.daemon.runner import CampaignRunner
from dialer.domain.agents import PHONE_LOST, CollectorState
from dialer.domain.commands import Bridge, Command
from dialer.domain.events import (
    CallFailed,
    CallHungUp,
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
    Event,
)
from dialer.logs import event as log_event
from dialer.telephony.port import Trunk

log = logging.getLogger(__name__)


class LegAwareRunner(CampaignRunner):
    """A campaign runner whose collector events go through `CollectorLegs` first."""

    legs: CollectorLegs | None = None

    def push(self, event: Event) -> None:
        if self.legs is None or self.legs.admit(self, event):
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Put an event in the engine's inbox without asking the legs."""
        super().push(event)


class CollectorLegs:
    """Which collectors have a leg up, and what to do when one comes or goes."""

    def __init__(
        self,
        trunk: Trunk,
        *,
        nailed_up: bool,
        addresses: Mapping[str, str] | None = None,
    ) -> None:
        self._trunk = trunk
        self.nailed_up = nailed_up  # False: the trunk has no legs (simulated)
        self._addresses = dict(addresses or {})  # collector -> phone; else the trunk's own
        self._up: dict[str, LegAwareRunner] = {}  # logged in, leg up
        self._lost: dict[str, LegAwareRunner] = {}  # logged in, paused, leg gone
        self._dialing: dict[str, asyncio.Task[None]] = {}
        self._dropped: set[str] = set()  # hung up again before the dial returned
        self._pause_after: dict[str, str] = {}  # call id -> collector to pause when it ends
        self._leaving: dict[str, LegAwareRunner] = {}  # to log out when their call ends
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, runner: LegAwareRunner) -> None:
        runner.legs = self
        engine = runner.engine
        engine.config = dataclasses.replace(engine.config, hang_up_when_absent=not self.nailed_up)
        runner.step_observers.append(
            lambda _runner, event, commands: self._observe(runner, event, commands)
        )

    @property
    def up(self) -> frozenset[str]:
        """Collectors whose leg is up."""
        return frozenset(self._up)

    # ----- events on their way to the engine -------------------------------------------------

    def admit(self, runner: LegAwareRunner, event: Event) -> bool:
        """Whether `event` goes to the engine now; False: it is held (or dropped) here."""
        if not self.nailed_up:
            return True
        if isinstance(event, CollectorLoggedIn):
            collector_id = event.collector_id
            if collector_id in self._dialing:
                return False  # a second click while the phone rings
            if collector_id in self._up or collector_id in self._lost:
                return True  # already logged in: the engine says what that means
            self._dial(runner, collector_id, event)
            return False
        if isinstance(event, CollectorReady):
            collector_id = event.collector_id
            if collector_id in self._dialing:
                return False
            if collector_id in self._lost:
                self._dial(runner, collector_id, event)
                return False
            return True
        if isinstance(event, CollectorLoggedOut) and event.collector_id in self._dialing:
            # Left before the phone answered: stop calling it. The engine hears of it only
            # if it had them logged in (their leg was lost and was being called again).
            self._dialing.pop(event.collector_id).cancel()
            self._spawn("collector_logout", self._trunk.collector_logout(event.collector_id))
            return event.collector_id in self._lost
        return True

    def _dial(self, runner: LegAwareRunner, collector_id: str, then: Event) -> None:
        task = asyncio.get_running_loop().create_task(self._bring_up(runner, collector_id, then))
        self._dialing[collector_id] = task

    async def _bring_up(self, runner: LegAwareRunner, collector_id: str, then: Event) -> None:
        error = ""
        try:
            await self._trunk.collector_login(collector_id, self._addresses.get(collector_id))
            if collector_id in self._dropped:
                error = "the phone hung up at once"
        except Exception as exc:
            error = str(exc) or type(exc).__name__
        finally:
            if self._dialing.get(collector_id) is asyncio.current_task():
                del self._dialing[collector_id]
            self._dropped.discard(collector_id)
        if error:
            log_event(
                log, "collector.leg_failed", logging.WARNING, collector=collector_id, error=error
            )
            return
        self._lost.pop(collector_id, None)
        self._up[collector_id] = runner
        log_event(log, "collector.leg_up", logging.INFO, collector=collector_id)
        runner.deliver(then)

    # ----- the trunk's report --------------------------------------------------------------

    def leg_lost(self, collector_id: str) -> None:
        """The collector's phone hung up its leg (`SipTrunk(on_collector_leg_lost=...)`)."""
        if collector_id in self._dialing:
            self._dropped.add(collector_id)
            return
        runner = self._up.pop(collector_id, None)
        if runner is None:
            return
        log_event(log, "collector.leg_lost", logging.WARNING, collector=collector_id)
        collector = runner.engine.collectors.get(collector_id)
        if collector is None or collector.state is CollectorState.LOGGED_OUT:
            return
        self._lost[collector_id] = runner
        runner.metrics.presence_lost.labels(runner.name, PHONE_LOST).inc()
        if collector.call_id is not None:  # on a call, or reserved for one being dialed
            self._end_call(collector.call_id, collector_id)
        else:
            runner.deliver(CollectorPaused(collector_id, PHONE_LOST))

    def _end_call(self, call_id: str, collector_id: str) -> None:
        """Hang up a call of a collector without a leg; pause them once it has ended."""
        self._pause_after[call_id] = collector_id
        self._spawn("hangup", self._trunk.hangup(call_id))

    # ----- what the engine made of the events ----------------------------------------------

    def _observe(
        self, runner: LegAwareRunner, event: Event | None, commands: list[Command]
    ) -> None:
        if not self.nailed_up:
            return
        if isinstance(event, CollectorLoggedOut):
            collector = runner.engine.collectors.get(event.collector_id)
            if collector is None or collector.state is CollectorState.LOGGED_OUT:
                self._drop_leg(event.collector_id)
            elif event.after_call:
                self._leaving[event.collector_id] = runner
        elif isinstance(event, CallHungUp | CallFailed):
            collector_id = self._pause_after.pop(event.call_id, None)
            collector = runner.engine.collectors.get(collector_id or "")
            if collector is not None and collector.state in _PAUSABLE:
                runner.deliver(CollectorPaused(collector.collector_id, PHONE_LOST))
            for leaving, where in list(self._leaving.items()):
                found = where.engine.collectors.get(leaving)
                if where is runner and found is not None and found.state is _S_OUT:
                    self._drop_leg(leaving)
        for command in commands:
            # Routed to a collector whose phone just went: the debtor would hear nothing.
            if isinstance(command, Bridge) and command.collector_id in self._lost:
                self._end_call(command.call_id, command.collector_id)

    def _drop_leg(self, collector_id: str) -> None:
        """The collector left the campaign: hang up their leg, if it is up."""
        self._leaving.pop(collector_id, None)
        had_leg = self._up.pop(collector_id, None) is not None
        self._lost.pop(collector_id, None)
        if had_leg:
            self._spawn("collector_logout", self._trunk.collector_logout(collector_id))

    # ----- housekeeping --------------------------------------------------------------------

    def _spawn(self, name: str, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(self._quietly(name, coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(name: str, coro: Awaitable[None]) -> None:
        try:
            await coro
        except Exception as exc:
            log_event(log, "collector.trunk_failed", logging.ERROR, command=name, error=str(exc))

    async def close(self) -> None:
        """Stop dialing phones (the trunk hangs up every leg when it stops)."""
        for task in self._dialing.values():
            task.cancel()
        pending = [*self._dialing.values(), *self._tasks]
        self._dialing.clear()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


_S_OUT = CollectorState.LOGGED_OUT
_PAUSABLE = frozenset({CollectorState.READY, CollectorState.PAUSED, CollectorState.WRAP_UP})
