"""sort index: the most asked-for list sort of contacts, companies and deals

Each index holds (column IS NULL, column, id): the order list pages read (NULLs last, ties by
id), so the first page and every keyset page after it come straight off the index instead of
sorting the table. A second index per table puts owner_id first, for the same sort under owner
or team visibility.

Revision ID: 0013_sort_index
Revises: 0012_search
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_sort_index"
down_revision = "0012_search"
branch_labels = None
depends_on = None

SORTS = (("contacts", "last_name"), ("companies", "name"), ("deals", "close_date"))


def upgrade() -> None:
    for table, column in SORTS:
        order: list[str | sa.TextClause] = [sa.text(f"({column} IS NULL)"), column, "id"]
        op.create_index(f"ix_{table}_{column}_sort", table, order)
        op.create_index(f"ix_{table}_owner_{column}_sort", table, ["owner_id", *order])


def downgrade() -> None:
    for table, column in SORTS:
        op.drop_index(f"ix_{table}_owner_{column}_sort", table_name=table)
        op.drop_index(f"ix_{table}_{column}_sort", table_name=table)
