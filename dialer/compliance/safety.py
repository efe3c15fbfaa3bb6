"""Start-up refusals: campaign settings a compliance profile does not allow.

`check_campaign_config` returns every refusal as a human-readable sentence (empty = safe);
`require_safe_campaign_config` raises them together. Profile loading is re-exported here so
start-up code has one place to import from.
"""

from __future__ import annotations

from dialer.compliance.profiles import (
    Profile,
    ProfileError,
    available_profiles,
    load_profile,
    load_profile_file,
)

__all__ = [
    "ProfileError",
    "UnsafeConfigError",
    "available_profiles",
    "check_campaign_config",
    "load_profile",
    "load_profile_file",
    "require_safe_campaign_config",
]


class UnsafeConfigError(ValueError):
    def __init__(self, refusals: list[str]) -> None:
        self.refusals = list(refusals)
        super().__init__("; ".join(self.refusals))


def _fmt(value: float) -> str:
    return f"{value:g}"


def check_campaign_config(
    profile: Profile | None,
    *,
    connect_grace: float,
    ring_timeout: float,
    target_abandon_rate: float,
    caller_id: str | None,
    safe_harbor_message_configured: bool,
) -> list[str]:
    """Every reason the campaign settings are unsafe under `profile` (seconds, rate 0..1)."""
    if profile is None:
        return ["campaign has no compliance profile; set one (e.g. us_tsr_regf)"]
    refusals: list[str] = []
    who = f"profile {profile.label}"
    setup = profile.call_setup
    if connect_grace < 0:
        refusals.append(f"connect grace {_fmt(connect_grace)} s is negative")
    if (
        setup.max_connect_grace_seconds is not None
        and connect_grace > setup.max_connect_grace_seconds
    ):
        refusals.append(
            f"connect grace {_fmt(connect_grace)} s exceeds the maximum "
            f"{_fmt(setup.max_connect_grace_seconds)} s of {who}"
        )
    if ring_timeout <= 0:
        refusals.append(f"ring timeout {_fmt(ring_timeout)} s must be positive")
    if setup.min_ring_seconds is not None and ring_timeout < setup.min_ring_seconds:
        refusals.append(
            f"ring timeout {_fmt(ring_timeout)} s is below the minimum "
            f"{_fmt(setup.min_ring_seconds)} s of {who}"
        )
    if not 0 <= target_abandon_rate < 1:
        refusals.append(f"target abandon rate {_fmt(target_abandon_rate)} must be in [0, 1)")
    cap = profile.abandonment
    if cap is not None and not cap.rate_allowed(target_abandon_rate):
        relation = "below" if cap.strict else "at most"
        refusals.append(
            f"target abandon rate {_fmt(target_abandon_rate)} must be {relation} the cap "
            f"{_fmt(cap.max_rate)} of {who}"
        )
    if setup.caller_id_required and not (caller_id and caller_id.strip()):
        refusals.append(f"{who} requires a caller ID; none is configured")
    if setup.safe_harbor_required and not safe_harbor_message_configured:
        refusals.append(f"{who} requires a safe-harbor message for abandoned calls; none is set")
    return refusals


def require_safe_campaign_config(
    profile: Profile | None,
    *,
    connect_grace: float,
    ring_timeout: float,
    target_abandon_rate: float,
    caller_id: str | None,
    safe_harbor_message_configured: bool,
) -> None:
    """Raise UnsafeConfigError listing every refusal, if any."""
    refusals = check_campaign_config(
        profile,
        connect_grace=connect_grace,
        ring_timeout=ring_timeout,
        target_abandon_rate=target_abandon_rate,
        caller_id=caller_id,
        safe_harbor_message_configured=safe_harbor_message_configured,
    )
    if refusals:
        raise UnsafeConfigError(refusals)
