"""Masking keeps the last two digits of a number and the initials of a name, nothing more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dialer.privacy import mask_name, mask_phone


def test_examples() -> None:
    assert mask_phone("+12125550123") == "+*********23"
    assert mask_phone("(212) 555-0123") == "********23"
    assert mask_phone("12") == "**" and mask_phone("") == ""
    assert mask_name("John Smith") == "J*** S****"
    assert mask_name("  Ann  ") == "A**" and mask_name("") == ""


@given(st.text(alphabet="0123456789 +-()", max_size=30))
def test_phone_reveals_at_most_two_digits(number: str) -> None:
    masked = mask_phone(number)
    digits = [char for char in number if char.isdigit()]
    shown = [char for char in masked if char.isdigit()]
    assert len(shown) <= 2
    if len(digits) > 2:
        assert shown == digits[-2:] and len(masked.lstrip("+")) == len(digits)


@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzÅÉ", min_size=1), max_size=4))
def test_name_keeps_initials_and_lengths_only(parts: list[str]) -> None:
    masked = mask_name(" ".join(parts))
    assert [part[0] for part in masked.split()] == [part[0] for part in parts]
    assert [len(part) for part in masked.split()] == [len(part) for part in parts]
    assert all(set(part[1:]) <= {"*"} for part in masked.split())
