"""Attempts gain the outcomes `media_lost` and `trunk_failed`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A call the trunk tore down because its media stopped before the debtor's audio reached a
collector is `media_lost`; a call the carrier side failed (it never reached the debtor's
network) is `trunk_failed`, which no compliance rule counts (dialer.domain.model).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
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
)
AFTER = (*BEFORE, "media_lost", "trunk_failed")


def _check(values: tuple[str, ...]) -> str:
    return f"outcome IN ({', '.join(repr(v) for v in values)})"


def _replace(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("call_attempts") as batch:
        batch.drop_constraint(op.f("ck_call_attempts_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_call_attempts_outcome"), _check(values))


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    # The nearest outcomes the old schema knows: a dead call answered, a trunk failure failed.
    op.execute("UPDATE call_attempts SET outcome = 'answered' WHERE outcome = 'media_lost'")
    op.execute("UPDATE call_attempts SET outcome = 'failed' WHERE outcome = 'trunk_failed'")
    _replace(BEFORE)
