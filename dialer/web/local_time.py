"""Times as the debtor lives them: every instant is stored in UTC and shown in the debtor's
local time with the zone named ("Tue 10 Mar 08:00 (America/New_York)"); a time entered
without a zone is the debtor's local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dialer.compliance import Profile, debtor_zones
from dialer.domain.model import Case
from dialer.web.context import WebContext, WebError


def zones_of(ctx: WebContext, campaign: str, case: Case) -> tuple[ZoneInfo, ...]:
    """The debtor's zones under the campaign's profile (UTC when nothing is known)."""
    profile: Profile | None = ctx.dialer.profiles.get(campaign)
    if profile is not None:
        return debtor_zones(case, profile)
    try:
        return (ZoneInfo(case.timezone or "UTC"),)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return (ZoneInfo("UTC"),)


def label(at: datetime, zone: ZoneInfo) -> str:
    """'Tue 10 Mar 08:00 (America/New_York)'."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} ({zone.key})"


def input_value(at: datetime, zone: ZoneInfo) -> str:
    """The local time as an <input type="datetime-local"> value: '2026-03-10T08:00'."""
    return at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def to_utc(at: datetime, zone: ZoneInfo) -> datetime:
    """An entered time as aware UTC (a naive time is local time in `zone`)."""
    try:
        if at.tzinfo is None or at.utcoffset() is None:
            at = at.replace(tzinfo=zone)
        return at.astimezone(UTC)
    except (OverflowError, ValueError):
        raise WebError(422, "callback time is out of range") from None


def fields(prefix: str, at: datetime | None, zone: ZoneInfo) -> dict[str, Any]:
    """The extra API fields of a time: `{prefix}_local` and `timezone`."""
    return {f"{prefix}_local": None if at is None else label(at, zone), "timezone": zone.key}
