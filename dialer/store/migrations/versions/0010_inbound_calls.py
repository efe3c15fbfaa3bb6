"""Inbound return calls: the `inbound_calls` table (issue #21).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Written by hand to match dialer/store/tables.py (InboundCallRow). The caller's number is
sealed (`inbound_calls.number_e164`, text) with its blind index beside it; the table is
new, so nothing needs sealing here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = ("answered", "abandoned", "callback_requested", "voicemail_left", "unanswered")


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "inbound_calls",
        sa.Column("id", big_id, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number_e164", sa.Text(), nullable=True),
        sa.Column("number_index", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("other_case_refs", sa.JSON(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voicemail_path", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "outcome IN (" + ", ".join(repr(o) for o in OUTCOMES) + ")",
            name=op.f("ck_inbound_calls_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_inbound_calls_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_inbound_calls_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.id"],
            name=op.f("fk_inbound_calls_collector_id_collectors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_inbound_calls_call_id")),
    )
    op.create_index(
        "ix_inbound_calls_campaign_arrived", "inbound_calls", ["campaign_id", "arrived_at"]
    )
    op.create_index("ix_inbound_calls_case_bridged", "inbound_calls", ["case_id", "bridged_at"])
    op.create_index(op.f("ix_inbound_calls_number_index"), "inbound_calls", ["number_index"])


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_calls_number_index"), table_name="inbound_calls")
    op.drop_index("ix_inbound_calls_case_bridged", table_name="inbound_calls")
    op.drop_index("ix_inbound_calls_campaign_arrived", table_name="inbound_calls")
    op.drop_table("inbound_calls")
