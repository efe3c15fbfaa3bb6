"""Masking of debtor identities for logs, error messages and screens that need no more.

Only the last two digits of a phone number survive (enough for a collector or an operator
to tell two numbers of one debtor apart) and only the initial of each name part.

`mask_text` finds phone numbers in free text (E.164 `+44 20 7946 0123`, national
`(212) 555-0123`, `020 7946 0123`, bare digit runs of 7 or more, `sip:+1...@` and `tel:`
URIs) and leaves alone what only looks like one: dates and times (`2026-03-03
16:00:00+00:00`, ISO 8601), and digits that are part of a longer token (a SIP Call-ID such
as `c1.1a2b3c4d.17@127.0.0.1` or `a84b4c76e66710@pc33.example`, a UUID, an IP address and
port, a decimal like `3599.9987654`).
"""

from __future__ import annotations

import re

_KEEP_DIGITS = 2
_MIN_DIGITS = 7

# Dates and times, kept as they are (phone matching only runs between them).
_DATE = r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?"
_ZONE = r"(?:Z|\s?[+-](?:[01]\d|2[0-3]):?[0-5]\d|\s?UTC)?"
_DATES = re.compile(rf"(?<!\d)(?:{_DATE}(?:[T ]{_TIME}{_ZONE})?|{_TIME}{_ZONE})(?!\d)")
# A phone number: digits with single spaces, hyphens or parentheses between groups. It must
# stand on its own: not glued to letters, digits, '_', '.', '@' on the left (nor to a
# token's '-'), and not followed by a letter, digit or '_', nor by '.', ':' or '-' that go
# on into a longer token (a domain, an IP, a decimal, a time, a UUID).
_PHONE = re.compile(
    r"(?<![\w.@])(?<!\w-)"
    r"\+?\(?\d(?:[ \t]?[()-]?[ \t]?\d)*"
    r"(?![\w])(?![.:-]\w)"
)
_URI_USER = ("sip:", "sips:")


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(char.isdigit() for char in text)
    if digits < _MIN_DIGITS:
        return text
    end = match.end()
    if match.string[end : end + 1] == "@":  # user@host: a SIP URI's user, or a Call-ID
        before = match.string[max(0, match.start() - 5) : match.start()].lower()
        if not text.startswith("+") and not before.endswith(_URI_USER):
            return text  # `2125550123@10.0.0.1` is a Call-ID (a URI says `sip:` first)
    return mask_phone(text)


def _mask_between_dates(text: str) -> str:
    return _PHONE.sub(_mask_match, text)


def mask_text(text: str) -> str:
    """Mask every phone number in free text; dates, times and ids stay readable."""
    out: list[str] = []
    last = 0
    for date in _DATES.finditer(text):
        out.append(_mask_between_dates(text[last : date.start()]))
        out.append(date.group(0))
        last = date.end()
    out.append(_mask_between_dates(text[last:]))
    return "".join(out)


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
