"""Orchestration: follow-ups on cases; indexes for the hopper's ready lane, parked cases
and follow-ups; on PostgreSQL, free room in the cases pages for HOT lease updates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Written by hand to match dialer/store/tables.py as of this revision. The partial-index
predicates are spelled out (not imported): the hopper repeats the ready-lane text verbatim,
and SQLite only uses a partial index whose terms the query repeats.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READY = (
    "next_attempt_at IS NULL AND status IN ('open', 'promised')"
    " AND do_not_call = false AND cease_communication = false AND disputed = false"
    " AND debtor_unreachable = false"
)
FOLLOWUP_KIND_CHECK = "followup_kind IN ('callback', 'promise', 'broken_promise')"
_PARTIAL = {
    "ix_cases_ready": (["campaign_id", "priority", "id"], READY),
    "ix_cases_parked": (["campaign_id", "next_attempt_at"], "next_attempt_at IS NOT NULL"),
    "ix_cases_followup": (["campaign_id", "followup_at"], "followup_at IS NOT NULL"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Leases and their extensions change no indexed column: with room left in each
        # page they are HOT updates. Applies to pages written from now on.
        op.execute("ALTER TABLE cases SET (fillfactor = 85)")
    op.add_column("cases", sa.Column("followup_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("followup_kind", sa.String(length=16), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.create_check_constraint(op.f("ck_cases_followup_kind"), FOLLOWUP_KIND_CHECK)
    for name, (columns, where) in _PARTIAL.items():
        op.create_index(
            name,
            "cases",
            columns,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases RESET (fillfactor)")
    for name in reversed(_PARTIAL):
        op.drop_index(name, table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("ck_cases_followup_kind"), type_="check")
        batch.drop_column("followup_kind")
        batch.drop_column("followup_at")
