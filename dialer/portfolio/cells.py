"""One cell of a portfolio CSV: parsing a value for its column, and the checks that keep a
cell the store or a spreadsheet would choke on out of the case store.

Every message quotes a cell only masked (`shown`): like a phone number when it has digits,
like a name otherwise, so errors can go to terminals and logs. Limits follow the columns
of dialer/store/tables.py (cases.balance Numeric(14, 2), cases.days_past_due INTEGER).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

from dialer.domain.model import Bucket, NumberType
from dialer.privacy import mask_name, mask_phone

MAX_BALANCE = Decimal(10) ** 12  # cases.balance is Numeric(14, 2)
MAX_DAYS_PAST_DUE = 2**31 - 1  # cases.days_past_due is INTEGER (32 bits on PostgreSQL)
# Columns kept as text; a cell starting with one of these is a formula to a spreadsheet.
TEXT_COLUMNS = ("debtor_ref", "name", "owner", "team", "skills", "account_ref", "address")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUL = "\x00"
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"-?[0-9]+")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_UNKNOWN_ZONE = "Etc/Unknown"


def parse_phone(value: str, region: str) -> phonenumbers.PhoneNumber:
    # The reason quotes the number masked: errors end up in logs and terminals.
    masked = mask_phone(value) or "no digits"
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"cannot parse a phone number ({masked})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number ({masked})")
    return parsed


def zone_of(number: phonenumbers.PhoneNumber | None) -> str | None:
    """The number's time zone when it has exactly one; several are left to compliance."""
    if number is None:
        return None
    zones = phone_timezones.time_zones_for_number(number)
    return zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else None


def parse_number_type(value: str) -> NumberType:
    try:
        return NumberType(value.lower()) if value else NumberType.DEBTOR
    except ValueError:
        choices = ", ".join(t.value for t in NumberType)
        raise ValueError(f"unknown number type {shown(value)} (one of {choices})") from None


def parse_bool(value: str, default: bool) -> bool:
    lowered = value.lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a yes/no value {shown(value)}")


def parse_balance(value: str) -> Decimal:
    # Plain decimal notation only: no exponent, digit separator, plus sign or other
    # scripts' digits, all of which Decimal() would take.
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"not a number {shown(value)}")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a number {shown(value)}") from None
    if amount < 0:
        raise ValueError("negative")
    if amount >= MAX_BALANCE:
        raise ValueError(f"too large (at most {MAX_BALANCE - Decimal('0.01')})")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("more than 2 decimal places")  # rounding money silently is worse
    return amount.quantize(Decimal("0.01"))


def parse_days_past_due(value: str) -> int:
    if not _WHOLE.fullmatch(value):  # int() would take "1_000", " +5" and other digits
        raise ValueError(f"not a whole number {shown(value)}")
    if value.startswith("-"):
        raise ValueError("negative")
    if len(value.lstrip("0")) > len(str(MAX_DAYS_PAST_DUE)) or int(value) > MAX_DAYS_PAST_DUE:
        raise ValueError(f"out of range (at most {MAX_DAYS_PAST_DUE})")
    return int(value)


def parse_bucket(value: str) -> Bucket | None:
    if not value:
        return None  # derived from days past due
    try:
        return Bucket(value.upper())
    except ValueError:
        raise ValueError(f"unknown bucket {shown(value)} (M0..M6 or WO)") from None


def parse_timezone(value: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("America")
        raise ValueError(f"unknown time zone {shown(value)}") from None
    return value


def parse_currency(value: str) -> str:
    code = value.upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValueError(f"not an ISO 4217 code {shown(value)}")
    return code


def formula_problems(header: list[str], fields: list[str]) -> list[str]:
    """A problem for each text cell (TEXT_COLUMNS) that starts like a formula, as written
    or once stripped; each skill of the `skills` list counts on its own."""
    problems = []
    for column, value in zip(header, fields, strict=True):
        if column not in TEXT_COLUMNS:
            continue
        parts = [value, value.strip()]
        if column == "skills":
            parts += [skill.strip() for skill in value.split(";")]
        start = next((part[0] for part in parts if part.startswith(FORMULA_STARTS)), None)
        if start is not None:
            problems.append(f"{column}: starts with {start!r}, a spreadsheet formula")
    return problems


def shown(value: str) -> str:
    """A cell as a message may quote it: masked like a phone number when it has digits,
    like a name otherwise, and short."""
    text = value[:32]
    masked = mask_phone(text) if any(char.isdigit() for char in text) else mask_name(text)
    return repr(masked[:20])


def defused(cell: str) -> str:
    """A cell for the rejects file: NUL made visible, a would-be formula quoted."""
    cell = cell.replace(NUL, "\u2400")
    if cell.startswith(FORMULA_STARTS) or cell.lstrip().startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def parse_date_of_birth(value: str) -> date | None:
    """An ISO date (YYYY-MM-DD) in the past, from 1900 on; empty: not given."""
    if not value:
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD)") from None
    if born.year < 1900 or born >= date.today():
        raise ValueError("not a plausible date of birth")
    return born


def parse_postcode(value: str) -> str | None:
    """A postal code: letters, digits, spaces and hyphens, up to 16; empty: not given."""
    if not value:
        return None
    if len(value) > 16 or not all(c.isalnum() or c in " -" for c in value):
        raise ValueError("not a postal code (letters, digits, spaces, hyphens; at most 16)")
    return value.upper()
