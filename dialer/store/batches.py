"""Statements over many rows in batches every backend accepts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

IN_CHUNK = 1000  # keeps IN lists under every backend's bound-parameter limit


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """`values` in slices of at most IN_CHUNK."""
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def among(column: Any, ids: Sequence[int], session: AsyncSession) -> ColumnElement[bool]:
    """`column` is one of `ids`: one array parameter on PostgreSQL (a 500-item IN list is
    500 parameters to bind and plan), an IN list elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(
            ColumnElement[bool], column == any_(bindparam("ids", list(ids), ARRAY(Integer)))
        )
    return cast(ColumnElement[bool], column.in_(ids))
