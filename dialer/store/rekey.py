"""Re-sealing every sealed value under the keyring's current key (key rotation), and a
count of sealed values (and of sealed recording files, which rotation leaves) per key id.

The sealed columns are found in the table models (every `Sealed` column), so a new one is
rotated without being listed here. Values are read and written as stored (plain text
statements, not through the column type), a batch at a time, in the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.store.crypto import Keyring, key_id_of
from dialer.store.sealed import Sealed
from dialer.store.tables import Base, Recording

_BATCH = 1000


def sealed_columns() -> Iterator[tuple[str, str, str]]:
    """(table, column, label) of every sealed column."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Sealed):
                yield table.name, column.name, column.type.label


async def rotate(session: AsyncSession, keyring: Keyring) -> int:
    """Re-seal under `keyring.current` every value sealed by another key; how many."""
    changed = 0
    for table, column, label in sealed_columns():
        rows = await session.execute(
            text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")
        )
        pending = [
            {"row_id": row_id, "value": keyring.seal(keyring.open(value, label), label)}
            for row_id, value in rows.tuples()
            if key_id_of(value) != keyring.current
        ]
        update = text(f"UPDATE {table} SET {column} = :value WHERE id = :row_id").bindparams(
            bindparam("value"), bindparam("row_id")
        )
        for start in range(0, len(pending), _BATCH):
            await session.execute(update, pending[start : start + _BATCH])
        changed += len(pending)
    return changed


async def census(session: AsyncSession) -> Counter[str]:
    """How many sealed values each key id holds, over all sealed columns."""
    counts: Counter[str] = Counter()
    for table, column, _label in sealed_columns():
        rows = await session.execute(
            text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
        )
        counts.update(key_id_of(value) for (value,) in rows.tuples())
    return counts


async def recording_census(session: AsyncSession) -> Counter[str]:
    """How many sealed recording files each key id sealed (files are not re-sealed by
    rotation: their key must stay in the keyring while they are kept)."""
    rows = await session.execute(
        select(Recording.key_id, func.count())
        .where(Recording.sealed.is_(True), Recording.key_id.is_not(None))
        .group_by(Recording.key_id)
    )
    return Counter({str(key_id): int(count) for key_id, count in rows.tuples()})
