"""Attempts gain the outcome `machine_message_left` and the AMD verdict with its time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A voicemail drop whose limited-content message played in full on a machine is stored as
`machine_message_left` (a call attempt, never a conversation: dialer.domain.model), which
needs the outcome column widened from 16 to 24 characters. `amd` (human, machine,
notsure) and `amd_seconds` (answer to decision) are what answering-machine detection
said; null when it was off. The integrator re-chains `down_revision` when merging.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "conversation",
    "answered",
    "no_answer",
    "busy",
    "failed",
    "machine",
    "abandoned",
    "interrupted",
    "media_lost",
    "trunk_failed",
)
AFTER = (*BEFORE, "machine_message_left")
VERDICTS = ("human", "machine", "notsure")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_outcome"), type_="check")
        batch.alter_column(
            "outcome", existing_type=sa.String(16), type_=sa.String(24), existing_nullable=True
        )
        batch.create_check_constraint(op.f("ck_call_attempts_outcome"), _in("outcome", AFTER))
        batch.add_column(sa.Column("amd", sa.String(8), nullable=True))
        batch.add_column(sa.Column("amd_seconds", sa.Float(), nullable=True))
        batch.create_check_constraint(op.f("ck_call_attempts_amd"), _in("amd", VERDICTS))


def downgrade() -> None:
    # The nearest outcome the old schema knows: a message left on a machine is a machine.
    op.execute(
        "UPDATE call_attempts SET outcome = 'machine' WHERE outcome = 'machine_message_left'"
    )
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_amd"), type_="check")
        batch.drop_column("amd_seconds")
        batch.drop_column("amd")
        batch.drop_constraint(op.f("ck_call_attempts_outcome"), type_="check")
        batch.alter_column(
            "outcome", existing_type=sa.String(24), type_=sa.String(16), existing_nullable=True
        )
        batch.create_check_constraint(op.f("ck_call_attempts_outcome"), _in("outcome", BEFORE))
