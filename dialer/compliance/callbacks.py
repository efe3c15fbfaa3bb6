"""May a call be placed at a later instant: the check behind a scheduled callback.

A callback is a promise that the dialer will call the case at that time, so it is checked
at entry with the rules the dialer applies when it places the call then: the number the
hopper would dial (its first dialable number), evaluated at the callback's instant with
the case's history (the call being dispositioned now included; the caller adds it when
the store does not have it yet). Nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from dialer.compliance.evaluate import Decision, evaluate
from dialer.compliance.profiles import Profile
from dialer.compliance.timezones import InvalidTimeZoneError, resolve_zones
from dialer.domain.model import Case, ContactRecord, NumberType, PhoneNumber

NO_DIALABLE_NUMBER = "no_dialable_number"


def dialable(number: PhoneNumber) -> bool:
    """A number the dialer may pick at all (its time-dependent rules aside)."""
    return number.consent and not number.dnc and number.type is not NumberType.THIRD_PARTY_REFUSED


def number_to_dial(case: Case) -> PhoneNumber | None:
    """The number the hopper dials for the case: its first dialable one."""
    return next((n for n in case.numbers if dialable(n)), None)


def debtor_zones(case: Case, profile: Profile) -> tuple[ZoneInfo, ...]:
    """The zones the debtor may be in, the first one being the zone their local times are
    entered and shown in: the case's own zone, else those of the number the dialer would
    call (else of its first number), else the profile's defaults."""
    number = number_to_dial(case) or (case.numbers[0] if case.numbers else None)
    e164 = number.e164 if number is not None else ""
    defaults = profile.calling_hours.default_timezones
    try:
        zones = resolve_zones(case.timezone, e164, defaults)
    except InvalidTimeZoneError:
        zones = resolve_zones(None, e164, defaults)
    return zones or tuple(ZoneInfo(z) for z in defaults)


def callback_decision(
    profile: Profile, case: Case, history: Sequence[ContactRecord], at: datetime
) -> Decision:
    """Would the dialer be allowed to call the case at `at`? `next_allowed_at` is then the
    earliest instant from `at` on when it would (None: time alone never allows it).
    `history` must hold every attempt up to `at` (past ones; none is planned meanwhile,
    since the case waits for its callback)."""
    number = number_to_dial(case)
    if number is None:
        return Decision(False, (NO_DIALABLE_NUMBER,))
    return evaluate(profile, case, number.e164, history, at)
