"""dedupe: blocking keys, weights, review queue

Revision ID: 0009_dedupe
Revises: 0008_worker
Create Date: 2026-11-23

Duplicate detection: each live record's blocking keys, every estimation of the match weights,
and the review queue of likely duplicate pairs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.models.base import JSONType, UTCDateTime

revision = "0009_dedupe"
down_revision = "0008_worker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_candidates",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("record_a", sa.String(length=26), nullable=False),
        sa.Column("record_b", sa.String(length=26), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("cluster", sa.String(length=26), nullable=True),
        sa.Column("explanation", JSONType, nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("weights_id", sa.String(length=26), nullable=True),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_candidates")),
        sa.UniqueConstraint(
            "object",
            "record_a",
            "record_b",
            name=op.f("uq_match_candidates_object_record_a_record_b"),
        ),
    )
    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_candidates_object_record_b"), ["object", "record_b"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_match_candidates_object_score"), ["object", "score"], unique=False
        )

    op.create_table(
        "match_keys",
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("record_id", sa.String(length=26), nullable=False),
        sa.PrimaryKeyConstraint("object", "key", "record_id", name=op.f("pk_match_keys")),
    )
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_keys_object_record_id"), ["object", "record_id"], unique=False
        )

    op.create_table(
        "match_weights",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("estimated_at", UTCDateTime(), nullable=False),
        sa.Column("definition", sa.String(length=64), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("random_pairs", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("iterations", sa.Integer(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("match_share", sa.Float(), nullable=False),
        sa.Column("weights", JSONType, nullable=False),
        sa.Column("actor_label", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_weights")),
    )
    with op.batch_alter_table("match_weights", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_weights_object"), ["object"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_weights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_weights_object"))

    op.drop_table("match_weights")
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_keys_object_record_id"))

    op.drop_table("match_keys")
    with op.batch_alter_table("match_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_candidates_object_score"))
        batch_op.drop_index(batch_op.f("ix_match_candidates_object_record_b"))

    op.drop_table("match_candidates")
