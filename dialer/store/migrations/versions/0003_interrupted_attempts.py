"""Attempts a crashed daemon left open are closed as `interrupted`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

The outcome check gains 'interrupted' (dialer.domain.model.ContactOutcome.INTERRUPTED).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("conversation", "answered", "no_answer", "busy", "failed", "machine", "abandoned")
AFTER = (*BEFORE, "interrupted")


def _check(values: tuple[str, ...]) -> str:
    return f"outcome IN ({', '.join(repr(v) for v in values)})"


def _replace(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_outcome"), _check(values))


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    op.execute("UPDATE call_attempts SET outcome = NULL WHERE outcome = 'interrupted'")
    _replace(BEFORE)
