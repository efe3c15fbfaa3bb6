"""The check made at the moment of dialing: may this target be called now?

The engine asks it for every call it is about to place (the case may have changed since
the hopper selected it); the compliance package supplies the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dialer.domain.model import ContactRecord, DialTarget


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    allowed: bool
    reasons: tuple[str, ...] = ()
    not_before: float | None = None  # POSIX seconds; None = time alone will not lift it


class DialGuard(Protocol):
    def __call__(
        self, target: DialTarget, history: tuple[ContactRecord, ...], now: float
    ) -> GuardVerdict: ...
