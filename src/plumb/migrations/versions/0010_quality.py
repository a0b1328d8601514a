"""quality: score history

Revision ID: 0010_quality
Revises: 0009_dedupe
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.models.base import JSONType, UTCDateTime

revision = "0010_quality"
down_revision = "0009_dedupe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("object", sa.String(length=20), nullable=False),
        sa.Column("slice_kind", sa.String(length=20), nullable=False),
        sa.Column("slice_value", sa.String(length=300), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("failing", JSONType, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_snapshots")),
    )
    with op.batch_alter_table("quality_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_snapshots_object_slice_kind_taken_at"),
            ["object", "slice_kind", "taken_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_quality_snapshots_taken_at"), ["taken_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quality_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_snapshots_taken_at"))
        batch_op.drop_index(batch_op.f("ix_quality_snapshots_object_slice_kind_taken_at"))

    op.drop_table("quality_snapshots")
