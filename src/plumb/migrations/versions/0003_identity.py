"""identity: match decisions, merges, record aliases

Revision ID: 0003_identity
Revises: 0002_hygiene
Create Date: 2026-11-23

Shared by duplicate detection and merge: decisions on pairs, merges kept for undo, and the
aliases that keep merged-away ids resolving.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.models.base import JSONType, UTCDateTime

revision = "0003_identity"
down_revision = "0002_hygiene"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_decisions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("record_a", sa.String(length=26), nullable=False),
        sa.Column("record_b", sa.String(length=26), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("merge_id", sa.String(length=26), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("comparison", JSONType, nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=300), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_decisions")),
        sa.UniqueConstraint(
            "object",
            "record_a",
            "record_b",
            name=op.f("uq_match_decisions_object_record_a_record_b"),
        ),
    )
    with op.batch_alter_table("match_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_decisions_object_record_b"), ["object", "record_b"], unique=False
        )

    op.create_table(
        "merges",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("survivor_id", sa.String(length=26), nullable=False),
        sa.Column("merged_ids", JSONType, nullable=False),
        sa.Column("plan", JSONType, nullable=False),
        sa.Column("before", JSONType, nullable=False),
        sa.Column("applied", JSONType, nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undone_by", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merges_object"), ["object"], unique=False)
        batch_op.create_index(batch_op.f("ix_merges_survivor_id"), ["survivor_id"], unique=False)

    op.create_table(
        "record_aliases",
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("alias_id", sa.String(length=26), nullable=False),
        sa.Column("survivor_id", sa.String(length=26), nullable=False),
        sa.Column("merge_id", sa.String(length=26), nullable=False),
        sa.PrimaryKeyConstraint("object", "alias_id", name=op.f("pk_record_aliases")),
    )
    with op.batch_alter_table("record_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_aliases_merge_id"), ["merge_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_record_aliases_survivor_id"), ["survivor_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("record_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_aliases_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_record_aliases_merge_id"))

    op.drop_table("record_aliases")
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merges_survivor_id"))
        batch_op.drop_index(batch_op.f("ix_merges_object"))

    op.drop_table("merges")
    with op.batch_alter_table("match_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_decisions_object_record_b"))

    op.drop_table("match_decisions")
