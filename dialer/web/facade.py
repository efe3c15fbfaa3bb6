"""What the web app needs of the running dialer, as a small typed facade.

The daemon (dialer.daemon) implements it; the web app depends on it alone, never on the
daemon, so the composition root can build the app without a circle and tests can build the
app on any object that has these members.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.compliance import Profile
from dialer.engine import RunningCampaign
from dialer.metrics import Metrics
from dialer.settings import Settings


@dataclass(frozen=True, slots=True)
class NotDialing:
    """One reason a campaign launches no new calls."""

    reason: str  # a stable code: paused, outside_window, draining, trunk_down, an engine hold...
    detail: str  # plain words for an operator
    fault: bool  # the campaign should dial and cannot (/healthz answers 503)


@dataclass(frozen=True, slots=True)
class CampaignHealth:
    """Dialing (no reasons), or not dialing and why."""

    reasons: tuple[NotDialing, ...] = ()

    @property
    def dialing(self) -> bool:
        return not self.reasons

    @property
    def fault(self) -> bool:
        return any(r.fault for r in self.reasons)


@dataclass(frozen=True, slots=True)
class InboundPop:
    """What the console shows of an inbound call (a debtor calling back): the case the
    number identifies (None: an unknown caller), the other matching cases, and the
    caller's number masked (the clear number never reaches the web)."""

    case_id: int | None
    other_case_ids: tuple[int, ...]
    caller_masked: str


class CampaignHandle(RunningCampaign, Protocol):
    """A running campaign as the consoles steer it."""

    def register_collector(self, collector_id: str, row_id: int) -> None:
        """Tell the runner a collector's store row before their first call is recorded."""

    async def hang_up(self, call_id: str) -> None:
        """End one of the campaign's calls now."""


class DialerFacade(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The store's session factory."""
        ...

    @property
    def profiles(self) -> Mapping[str, Profile]:
        """Each campaign's compliance profile, by campaign name."""
        ...

    @property
    def runners(self) -> Mapping[str, CampaignHandle]:
        """The running campaigns, by name."""
        ...

    @property
    def trunk_registered(self) -> bool:
        """The trunk is up (and registered, where it registers)."""
        ...

    @property
    def trunk_problem(self) -> str | None:
        """Why the trunk cannot place calls (None: it can)."""
        ...

    @property
    def store_problem(self) -> str | None:
        """Why the store cannot take writes now (None: it can). No record, no call."""
        ...

    @property
    def stopping(self) -> bool:
        """A stop was requested: long-lived web streams end."""
        ...

    async def flush_writes(self) -> None:
        """Wait until every store write queued so far has landed."""

    def hopper_reason(self, campaign: str) -> str | None:
        """Why the campaign's last hopper refill found nothing (None: it found cases)."""

    def health(self) -> Mapping[str, CampaignHealth]:
        """Per campaign: dialing, or not dialing and why."""
        ...

    def inbound_pop(self, call_id: str) -> InboundPop | None:
        """The screen pop of an open inbound call (None: not an inbound call of ours)."""
        ...
