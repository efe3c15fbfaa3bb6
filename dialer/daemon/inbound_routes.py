"""Which campaign takes a call to which of our numbers, numbers compared in E.164.

Our numbers: every campaign's `caller_id` (a debtor calls back the number they saw) and
`inbound.numbers` (number -> campaign). A number the settings give that does not parse, or
one mapped to no campaign, stops the daemon at start-up with the key named.
"""

from __future__ import annotations

import phonenumbers

from dialer.settings import Settings


class InboundRouteError(ValueError):
    """A bad inbound number or campaign in the settings (the message names the key)."""


def e164(number: str, region: str) -> str | None:
    """`number` as E.164 (a national number read in `region`); None when it is not one."""
    text = number.strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def inbound_routes(settings: Settings) -> dict[str, str]:
    """E.164 number -> campaign name, for every number we take calls on."""
    region = settings.default_region
    names = {c.name for c in settings.campaigns}
    routes: dict[str, str] = {}
    for i, campaign in enumerate(settings.campaigns):
        if campaign.caller_id:
            number = e164(campaign.caller_id, region)
            if number is None:
                raise InboundRouteError(
                    f"campaigns.{i}.caller_id: not a phone number (inbound calls come to it)"
                )
            routes.setdefault(number, campaign.name)
    for raw, name in settings.inbound.numbers.items():
        if name not in names:
            raise InboundRouteError(f"inbound.numbers.{raw}: no campaign named {name!r}")
        number = e164(raw, region)
        if number is None:
            raise InboundRouteError(f"inbound.numbers.{raw}: not a phone number")
        routes[number] = name
    return routes
