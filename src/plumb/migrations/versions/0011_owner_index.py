"""owner index: (owner_id, id) on every record table

An owner's records come out of the index in id order, so owner- and team-visibility list pages
(and keyset pages after them) need no sort. The new index's owner_id prefix serves every other
owner lookup, so the single-column index goes.

Revision ID: 0011_owner_index
Revises: 0010_quality
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0011_owner_index"
down_revision = "0010_quality"
branch_labels = None
depends_on = None

TABLES = ("activities", "cases", "companies", "contacts", "deals", "tasks")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_owner_id_id", table, ["owner_id", "id"])
        op.drop_index(f"ix_{table}_owner_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_owner_id", table, ["owner_id"])
        op.drop_index(f"ix_{table}_owner_id_id", table_name=table)
