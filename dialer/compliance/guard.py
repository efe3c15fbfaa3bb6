"""The engine's dial-time check, backed by a compliance profile."""

from __future__ import annotations

from datetime import UTC, datetime

from dialer.compliance.evaluate import evaluate
from dialer.compliance.profiles import Profile
from dialer.domain.guard import GuardVerdict
from dialer.domain.model import ContactRecord, DialTarget

_ALLOWED = GuardVerdict(True)


class ProfileGuard:
    """Refuses every call the profile forbids, with its reasons and when to retry."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def __call__(
        self, target: DialTarget, history: tuple[ContactRecord, ...], now: float
    ) -> GuardVerdict:
        decision = evaluate(
            self.profile, target.case, target.number, history, datetime.fromtimestamp(now, UTC)
        )
        if decision.allowed:
            return _ALLOWED
        retry = decision.next_allowed_at
        return GuardVerdict(False, decision.reasons, None if retry is None else retry.timestamp())
