"""Freshness: confirming a record (``verify``) and estimating how much has decayed.

Contact data goes out of date at the workspace's yearly ``checks.decay_rate`` (20-30% is
typical). A record last confirmed (by activity or verification, else its creation) ``t`` years
ago is still right with probability ``(1 - rate) ** t``; the estimate sums the complement over
records, counted in monthly age buckets by one SQL query.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.models.base import RecordMixin
from plumb.quality.engine import scope
from plumb.records import operations as ops
from plumb.records.rows import model_for

BUCKET_DAYS = 30
BUCKETS = 61


def verify(
    ctx: Ctx, obj: str, record: RecordMixin, *, expected_version: int | None = None
) -> RecordMixin:
    """Record that a person confirmed ``record`` is right now (``last_verified_at``)."""
    if obj not in ("contact", "company"):
        raise BadRequest(f"{obj} records have no verification time")
    return ops.update(
        ctx,
        obj,
        record,
        {"last_verified_at": ctx.now()},
        expected_version=expected_version,
        action="verify",
    )


def decay_estimate(ctx: Ctx, obj: str = "contact") -> dict[str, Any]:
    """How many of the visible records are likely out of date, by the yearly decay rate."""
    authz.require(ctx, obj, "view")
    model: Any = model_for(obj)
    rate = ctx.workspace.checks.decay_rate
    now = ctx.now()
    last = case(
        (
            model.last_verified_at.isnot(None)
            & (
                model.last_activity_at.is_(None) | (model.last_verified_at > model.last_activity_at)
            ),
            model.last_verified_at,
        ),
        else_=func.coalesce(model.last_activity_at, model.created_at),
    )
    whens = [(last >= now - timedelta(days=BUCKET_DAYS * (i + 1)), i) for i in range(BUCKETS - 1)]
    bucket = case(*whens, else_=BUCKETS - 1).label("bucket")
    rows = ctx.session.execute(
        select(bucket, func.count()).where(scope(ctx, obj)).group_by(bucket)
    ).all()
    total = sum(n for _, n in rows)
    expected = 0.0
    for i, n in rows:
        years = (i + 0.5) * BUCKET_DAYS / 365
        expected += n * (1 - (1 - rate) ** years)
    return {
        "object": obj,
        "records": total,
        "decay_rate": rate,
        "estimated_decayed": round(expected),
        "share": round(expected / total, 3) if total else 0.0,
    }
