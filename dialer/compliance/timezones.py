"""Which time zones a debtor may be in, for local calling hours and local calendar days.

Resolution order (see docs/compliance.md):
1. an explicit case time zone wins (one zone);
2. otherwise the zones `phonenumbers` gives for the dialled number; a number that maps to
   several zones yields all of them, and every rule must allow the call in each one;
3. when the number's zone is unknown (unparsable, invalid, toll-free, "Etc/Unknown"), the
   profile's `calling_hours.default_timezones`, again all of them.

Results are cached: parsing a number costs tens of microseconds, evaluating a case must not.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

_UNKNOWN = "Etc/Unknown"


class InvalidTimeZoneError(ValueError):
    """A case names a time zone that does not exist."""


@lru_cache(maxsize=4096)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for `name`; raises InvalidTimeZoneError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimeZoneError(f"unknown time zone {name!r}") from None


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except InvalidTimeZoneError:
        return False
    return True


@lru_cache(maxsize=65536)
def number_time_zones(e164: str) -> tuple[str, ...]:
    """Zone names phonenumbers gives for an E.164 number; () when unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names = pn_timezone.time_zones_for_number(parsed)
    return tuple(sorted(n for n in names if n != _UNKNOWN and is_valid_zone(n)))


@lru_cache(maxsize=65536)
def _resolve(
    case_timezone: str | None, e164: str, defaults: tuple[str, ...]
) -> tuple[ZoneInfo, ...]:
    if case_timezone is not None:
        return (zone(case_timezone),)
    names = number_time_zones(e164) or defaults
    return tuple(zone(n) for n in names)


def resolve_zones(
    case_timezone: str | None, e164: str, default_timezones: tuple[str, ...]
) -> tuple[ZoneInfo, ...]:
    """The zones to check a call to `e164` in (never empty when defaults are non-empty).

    Raises InvalidTimeZoneError when `case_timezone` is not a known zone.
    """
    return _resolve(case_timezone, e164, default_timezones)
