"""Initial schema: organisation, campaigns, cases and numbers, attempts, ledger, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Written by hand to match dialer/store/tables.py as of this revision; a test checks that
autogenerate finds no difference. Values are spelled out rather than imported from the
models, because a migration must keep describing its own revision when the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=14, scale=2)


def _pk(table: str, big: bool = False) -> tuple[sa.Column[int], sa.PrimaryKeyConstraint]:
    return (
        sa.Column("id", BIG_ID if big else sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )


def _ts(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    op.create_table(
        "teams",
        *_pk("teams"),
        sa.Column("name", sa.String(length=100), nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    op.create_table(
        "collectors",
        *_pk("collectors"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("is_senior", sa.Boolean(), nullable=False),
        sa.Column("max_cases", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _fk("collectors", "team_id", "teams", "SET NULL"),
        sa.UniqueConstraint("username", name=op.f("uq_collectors_username")),
    )
    op.create_index(op.f("ix_collectors_team_id"), "collectors", ["team_id"])
    op.create_table(
        "campaigns",
        *_pk("campaigns"),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("pacing_mode", sa.String(length=32), nullable=False),
        sa.Column("pacing_params", sa.JSON(), nullable=False),
        sa.Column("compliance_profile", sa.String(length=64), nullable=False),
        sa.Column("calling_window_start", sa.Time(), nullable=True),
        sa.Column("calling_window_end", sa.Time(), nullable=True),
        sa.Column("caller_id", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_table(
        "cases",
        *_pk("cases"),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("debtor_ref", sa.String(length=64), nullable=False),
        sa.Column("display_name_masked", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("balance", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_collector_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("do_not_call", sa.Boolean(), nullable=False),
        sa.Column("cease_communication", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("debtor_unreachable", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        _ts("lease_expires_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_cases_balance_non_negative")),
        sa.CheckConstraint("days_past_due >= 0", name=op.f("ck_cases_days_past_due_non_negative")),
        sa.CheckConstraint(
            _in("status", ("open", "promised", "paid", "closed")), name=op.f("ck_cases_status")
        ),
        sa.CheckConstraint(
            _in("bucket", ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "WO")),
            name=op.f("ck_cases_bucket"),
        ),
        _fk("cases", "campaign_id", "campaigns"),
        _fk("cases", "owner_collector_id", "collectors", "SET NULL"),
        _fk("cases", "team_id", "teams", "SET NULL"),
        sa.UniqueConstraint(
            "campaign_id", "debtor_ref", name=op.f("uq_cases_campaign_id_debtor_ref")
        ),
    )
    op.create_index("ix_cases_hopper", "cases", ["campaign_id", "priority", "next_attempt_at"])
    op.create_index(op.f("ix_cases_owner_collector_id"), "cases", ["owner_collector_id"])
    op.create_index(op.f("ix_cases_team_id"), "cases", ["team_id"])
    op.create_table(
        "case_numbers",
        *_pk("case_numbers"),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("dnc", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("case_numbers", "case_id", "cases", "CASCADE"),
        sa.UniqueConstraint("case_id", "e164", name=op.f("uq_case_numbers_case_id_e164")),
    )
    op.create_index(op.f("ix_case_numbers_e164"), "case_numbers", ["e164"])
    op.create_table(
        "call_attempts",
        *_pk("call_attempts", big=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number_e164", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        _ts("dialed_at"),
        _ts("answered_at", nullable=True),
        _ts("bridged_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("sip_code", sa.Integer(), nullable=True),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.CheckConstraint(
            _in(
                "outcome",
                ("conversation", "answered", "no_answer", "busy", "failed", "machine", "abandoned"),
            ),
            name=op.f("ck_call_attempts_outcome"),
        ),
        _fk("call_attempts", "case_id", "cases"),
        _fk("call_attempts", "campaign_id", "campaigns"),
        _fk("call_attempts", "collector_id", "collectors", "SET NULL"),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_attempts_call_id")),
    )
    op.create_index("ix_call_attempts_case_dialed", "call_attempts", ["case_id", "dialed_at"])
    op.create_index(
        "ix_call_attempts_campaign_dialed", "call_attempts", ["campaign_id", "dialed_at"]
    )
    op.create_table(
        "dispositions",
        *_pk("dispositions", big=True),
        sa.Column("attempt_id", BIG_ID, nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("promise_date", sa.Date(), nullable=True),
        _ts("callback_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint(
            _in(
                "kind",
                (
                    "promise_to_pay",
                    "callback",
                    "refused",
                    "wrong_party",
                    "dispute",
                    "cease_communication",
                    "note",
                ),
            ),
            name=op.f("ck_dispositions_kind"),
        ),
        _fk("dispositions", "attempt_id", "call_attempts", "SET NULL"),
        _fk("dispositions", "case_id", "cases"),
        _fk("dispositions", "collector_id", "collectors", "SET NULL"),
    )
    op.create_index("ix_dispositions_case_created", "dispositions", ["case_id", "created_at"])
    op.create_table(
        "assignments",
        *_pk("assignments", big=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_collector_id", sa.Integer(), nullable=True),
        sa.Column("to_collector_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _ts("moved_at"),
        sa.Column("moved_by", sa.String(length=100), nullable=False),
        _fk("assignments", "case_id", "cases"),
        _fk("assignments", "from_collector_id", "collectors", "SET NULL"),
        _fk("assignments", "to_collector_id", "collectors", "SET NULL"),
    )
    op.create_index("ix_assignments_case_moved", "assignments", ["case_id", "moved_at"])
    op.create_table(
        "abandon_ledger",
        *_pk("abandon_ledger", big=True),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("live_answers", sa.Integer(), nullable=False),
        sa.Column("abandons", sa.Integer(), nullable=False),
        _fk("abandon_ledger", "campaign_id", "campaigns"),
    )
    op.create_index("ix_abandon_ledger_campaign_at", "abandon_ledger", ["campaign_id", "at"])
    op.create_index(op.f("ix_abandon_ledger_at"), "abandon_ledger", ["at"])
    op.create_table(
        "users",
        *_pk("users"),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("collector_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _fk("users", "collector_id", "collectors", "SET NULL"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "audit_log",
        *_pk("audit_log", big=True),
        _ts("at"),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "audit_log",
        "users",
        "abandon_ledger",
        "assignments",
        "dispositions",
        "call_attempts",
        "case_numbers",
        "cases",
        "campaigns",
        "collectors",
        "teams",
    ):
        op.drop_table(table)
