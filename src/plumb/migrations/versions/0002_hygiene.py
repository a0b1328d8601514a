"""hygiene: companies.name_key, the match key of a company's name

Revision ID: 0002_hygiene
Revises: 0001_core
Create Date: 2026-11-24

Existing companies get their key computed here, in batches, with the same function the write
path uses. The backfill is a derived column, so it writes no change-log entries.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.hygiene.standardize import company_key

revision = "0002_hygiene"
down_revision = "0001_core"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
        batch_op.create_index(batch_op.f("ix_companies_name_key"), ["name_key"], unique=False)

    companies = sa.table(
        "companies",
        sa.column("id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.String()),
    )
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.select(companies.c.id, companies.c.name)
            .where(companies.c.id > last)
            .order_by(companies.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            sa.update(companies)
            .where(companies.c.id == sa.bindparam("rid"))
            .values(name_key=sa.bindparam("key")),
            [{"rid": rid, "key": company_key(name) or None} for rid, name in rows],
        )
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companies_name_key"))
        batch_op.drop_column("name_key")
