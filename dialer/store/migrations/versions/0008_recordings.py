"""Call recordings: one row per recorded call, linked to its attempt.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Written by hand to match dialer/store/tables.py (`Recording`) as of this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column(
            "attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["call_attempts.id"],
            name=op.f("fk_recordings_attempt_id_call_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_recordings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_recordings_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.id"],
            name=op.f("fk_recordings_collector_id_collectors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("call_id", name=op.f("uq_recordings_call_id")),
    )
    op.create_index("ix_recordings_campaign_started", "recordings", ["campaign_id", "started_at"])
    op.create_index("ix_recordings_case_started", "recordings", ["case_id", "started_at"])
    op.create_index(op.f("ix_recordings_expires_at"), "recordings", ["expires_at"])


def downgrade() -> None:
    op.drop_table("recordings")
