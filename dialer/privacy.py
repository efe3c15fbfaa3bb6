"""Masking of debtor identities for logs, error messages and screens that need no more.

Only the last two digits of a phone number survive (enough for a collector or an operator
to tell two numbers of one debtor apart) and only the initial of each name part.
"""

from __future__ import annotations

_KEEP_DIGITS = 2


def mask_phone(number: str) -> str:
    """Mask a phone number, E.164 or as typed: "+12125550123" -> "+*********23".

    Anything that is not a digit is dropped so the layout of a raw input cannot leak its
    length per group; a leading "+" is kept because it says the number was international.
    """
    digits = [char for char in number if char.isdigit()]
    prefix = "+" if number.strip().startswith("+") else ""
    if len(digits) <= _KEEP_DIGITS:
        # Too short to mask meaningfully: show nothing rather than the whole value.
        return prefix + "*" * len(digits)
    hidden = len(digits) - _KEEP_DIGITS
    return prefix + "*" * hidden + "".join(digits[hidden:])


def mask_name(name: str) -> str:
    """Mask a person's name: "John Smith" -> "J*** S****" (initials and lengths only)."""
    return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split())
