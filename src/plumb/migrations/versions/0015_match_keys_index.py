"""match_keys: the secondary index led by record_id instead of object

The duplicate check at entry looks keys up by ``object = ? AND key = ?``, which the primary key
``(object, key, record_id)`` answers. With the secondary index led by ``object`` too, a
PostgreSQL planner without statistics for the table (a fresh import) judged it as cheap as the
primary key and scanned every key of the object for each one looked up. Led by ``record_id``
it still serves what it is for (removing a record's keys) and cannot be mistaken for the
primary key.

Revision ID: 0015_match_keys_index
Revises: 0014_figures_changed
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0015_match_keys_index"
down_revision = "0014_figures_changed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_match_keys_object_record_id", table_name="match_keys")
    op.create_index("ix_match_keys_record_id_object", "match_keys", ["record_id", "object"])


def downgrade() -> None:
    op.drop_index("ix_match_keys_record_id_object", table_name="match_keys")
    op.create_index("ix_match_keys_object_record_id", "match_keys", ["object", "record_id"])
