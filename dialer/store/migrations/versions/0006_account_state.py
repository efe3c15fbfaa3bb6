"""Accounts can be disabled, and remember their last login.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Written by hand to match dialer/store/tables.py (User) as of this revision: `disabled_at`
(null: enabled; a disabled account cannot log in and its sessions are refused) and
`last_login_at`. Existing accounts stay enabled, with no last login known.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # The old schema cannot say "disabled": such an account keeps a hash no password
    # matches (argon2 refuses the prefixed hash), which also ends its sessions (their
    # cookies carry the old hash's fingerprint): under the old code it stays locked out.
    op.execute(
        "UPDATE users SET password_hash = '!' || password_hash WHERE disabled_at IS NOT NULL"
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("disabled_at")
