"""rules: outcomes, gaps, firings, routing counters

Revision ID: 0007_rules
Revises: 0006_imports
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.models.base import UTCDateTime

revision = "0007_rules"
down_revision = "0006_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_routing_counters")),
    )
    op.create_table(
        "rule_firings",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=26), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rule_firings")),
    )
    op.create_table(
        "rule_gaps",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=26), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("open_key", sa.String(length=300), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_because", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_gaps")),
        sa.UniqueConstraint("open_key", name=op.f("uq_rule_gaps_open_key")),
    )
    with op.batch_alter_table("rule_gaps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_gaps_assignee"), ["assignee"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rule_gaps_record_type_record_id_closed_at"),
            ["record_type", "record_id", "closed_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_rule_gaps_rule"), ["rule"], unique=False)

    op.create_table(
        "rule_outcomes",
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_record_type", sa.String(length=40), nullable=True),
        sa.Column("last_record_id", sa.String(length=26), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "day", "outcome", name=op.f("pk_rule_outcomes")),
    )


def downgrade() -> None:
    op.drop_table("rule_outcomes")
    with op.batch_alter_table("rule_gaps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_gaps_rule"))
        batch_op.drop_index(batch_op.f("ix_rule_gaps_record_type_record_id_closed_at"))
        batch_op.drop_index(batch_op.f("ix_rule_gaps_assignee"))

    op.drop_table("rule_gaps")
    op.drop_table("rule_firings")
    op.drop_table("routing_counters")
