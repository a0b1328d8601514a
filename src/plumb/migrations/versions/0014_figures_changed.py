"""deals.figures_changed_at: when amount or close date last changed

Kept by the operations layer in the same write as the change, so the stale-deal check reads a
column instead of probing the change log for every open deal. Backfilled from the change log:
the latest entry that touched amount or close date (creation counts), else the creation time.

Revision ID: 0014_figures_changed
Revises: 0013_sort_index
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from plumb.models.base import JSONType, UTCDateTime

revision = "0014_figures_changed"
down_revision = "0013_sort_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch table rebuild, which would drop the search triggers of
    # 0012_search on SQLite)
    op.add_column("deals", sa.Column("figures_changed_at", UTCDateTime(), nullable=True))
    deals = sa.table(
        "deals",
        sa.column("id", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("figures_changed_at", UTCDateTime()),
    )
    log = sa.table(
        "change_log",
        sa.column("record_type", sa.String),
        sa.column("record_id", sa.String),
        sa.column("at", UTCDateTime()),
        sa.column("changes", JSONType),
    )
    latest = (
        sa.select(sa.func.max(log.c.at))
        .where(
            log.c.record_type == "deal",
            log.c.record_id == deals.c.id,
            sa.or_(
                log.c.changes["amount"].as_string().isnot(None),
                log.c.changes["close_date"].as_string().isnot(None),
            ),
        )
        .scalar_subquery()
    )
    op.execute(
        deals.update().values(figures_changed_at=sa.func.coalesce(latest, deals.c.created_at))
    )


def downgrade() -> None:
    op.drop_column("deals", "figures_changed_at")
