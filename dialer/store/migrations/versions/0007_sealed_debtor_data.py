"""Debtor data sealed at rest: identity fields, phone numbers (with a blind index), and
the access audit of clear reads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Written by hand to match dialer/store/tables.py as of this revision. Cases gain the sealed
`debtor_name`, `account_ref`, `date_of_birth`, `postcode`, `address` (all null for cases
imported before: their clear name was never stored, the masked one stays). Every existing
phone number (`case_numbers.e164`, `call_attempts.number_e164`) is sealed in place, and
`case_numbers.e164_index` (the blind index) replaces the number in the per-case unique
constraint and in the lookup index.

Sealing needs the key: this migration uses the keyring installed in the process
(dialer.store.crypto.install). `dialer migrate`, every other CLI command and the daemon
install it from the settings (privacy.key or privacy.key_file) before migrating; a bare
`alembic upgrade` on a database with numbers in it stops with that message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from dialer.store.crypto import Keyring, NoKeyringError, installed, is_sealed

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITY = ("debtor_name", "account_ref", "date_of_birth", "postcode", "address")
NUMBERS = (("case_numbers", "e164"), ("call_attempts", "number_e164"))
_BATCH = 1000


def _keyring() -> Keyring:
    keyring = installed()
    if keyring is None:
        raise NoKeyringError(
            "migration 0007 seals phone numbers and needs the privacy key: run it through "
            "`dialer migrate` (or the daemon), which load privacy.key / privacy.key_file"
        )
    return keyring


def _rewrite(table: str, column: str, change: Callable[[str], str | None]) -> None:
    """Pass every non-null value of `table.column` through `change` (None: leave it)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL"))
    pending: list[dict[str, object]] = []
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
    for row_id, value in rows.fetchall():
        new = change(value)
        if new is not None:
            pending.append({"id": row_id, "value": new})
        if len(pending) >= _BATCH:
            bind.execute(update, pending)
            pending = []
    if pending:
        bind.execute(update, pending)


def _sealer(keyring: Keyring, label: str) -> Callable[[str], str | None]:
    return lambda value: None if is_sealed(value) else keyring.seal(value, label)


def _opener(keyring: Keyring, label: str) -> Callable[[str], str | None]:
    return lambda value: keyring.open(value, label) if is_sealed(value) else None


def _has_rows() -> bool:
    bind = op.get_bind()
    return any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
        for table, _ in NUMBERS
    )


def upgrade() -> None:
    keyring = _keyring() if _has_rows() else None
    with op.batch_alter_table("cases") as batch:
        for column in IDENTITY:
            batch.add_column(sa.Column(column, sa.Text(), nullable=True))
    with op.batch_alter_table("call_attempts") as batch:
        batch.alter_column("number_e164", type_=sa.Text(), existing_nullable=False)
    with op.batch_alter_table("case_numbers") as batch:
        batch.alter_column("e164", type_=sa.Text(), existing_nullable=False)
        batch.add_column(sa.Column("e164_index", sa.String(length=64), nullable=True))
    if keyring is not None:
        bind = op.get_bind()
        rows = bind.execute(sa.text("SELECT id, e164 FROM case_numbers")).fetchall()
        indexes = [
            {"id": row_id, "index": keyring.blind_index(e164)}
            for row_id, e164 in rows
            if not is_sealed(e164)
        ]
        for start in range(0, len(indexes), _BATCH):
            bind.execute(
                sa.text("UPDATE case_numbers SET e164_index = :index WHERE id = :id"),
                indexes[start : start + _BATCH],
            )
        for table, column in NUMBERS:
            _rewrite(table, column, _sealer(keyring, f"{table}.{column}"))
    with op.batch_alter_table("case_numbers") as batch:
        batch.alter_column("e164_index", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint(op.f("uq_case_numbers_case_id_e164"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_case_numbers_case_id_e164_index"), ["case_id", "e164_index"]
        )
        batch.drop_index(op.f("ix_case_numbers_e164"))
        batch.create_index(op.f("ix_case_numbers_e164_index"), ["e164_index"])
    op.create_table(
        "access_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_access_audit_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    op.create_index("ix_access_audit_case_at", "access_audit", ["case_id", "at"])
    op.create_index(op.f("ix_access_audit_at"), "access_audit", ["at"])


def downgrade() -> None:
    # The clear numbers come back (the key is needed to open them); the identity fields and
    # the access audit are dropped: the old schema has no place for them.
    keyring = _keyring() if _has_rows() else None
    op.drop_table("access_audit")
    if keyring is not None:
        for table, column in NUMBERS:
            _rewrite(table, column, _opener(keyring, f"{table}.{column}"))
    with op.batch_alter_table("case_numbers") as batch:
        batch.drop_index(op.f("ix_case_numbers_e164_index"))
        batch.drop_constraint(op.f("uq_case_numbers_case_id_e164_index"), type_="unique")
        batch.drop_column("e164_index")
        batch.alter_column("e164", type_=sa.String(length=16), existing_nullable=False)
        batch.create_unique_constraint(op.f("uq_case_numbers_case_id_e164"), ["case_id", "e164"])
        batch.create_index(op.f("ix_case_numbers_e164"), ["e164"])
    with op.batch_alter_table("call_attempts") as batch:
        batch.alter_column("number_e164", type_=sa.String(length=16), existing_nullable=False)
    with op.batch_alter_table("cases") as batch:
        for column in reversed(IDENTITY):
            batch.drop_column(column)
