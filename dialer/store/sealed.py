"""`Sealed`: a text column stored encrypted (dialer.store.crypto), clear in Python.

Values are sealed on the way in and opened on the way out with the installed keyring; the
column's name is the associated data. A sealed column cannot be compared in SQL (each
sealing of one value differs): a comparison raises, so a lookup by phone number must use
the blind index column beside it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from dialer.store.crypto import keyring


class Sealed(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    class comparator_factory(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            raise TypeError("a sealed column cannot be compared in SQL: use its blind index")

        def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
            raise TypeError("a sealed column cannot be compared in SQL: use its blind index")

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().seal(value, self.label)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().open(value, self.label)

    def __repr__(self) -> str:
        return f"Sealed({self.label!r})"
