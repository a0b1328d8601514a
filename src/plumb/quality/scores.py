"""Quality scores per record and per slice, and their history.

A record's score is the share of its object's indicators it passes (0-100): a contact failing
only freshness scores 80 when contacts have five indicators with checks. A slice's score is
the same over all its records. Each full run of the checks writes one snapshot row per object
and slice, so trends can be plotted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.models import QualitySnapshot, User
from plumb.quality.engine import BITS, checks_for, flag_mask, run_checks, scope
from plumb.records.rows import model_for

SLICES = ("all", "owner", "team", "stage", "source")
SCORED_OBJECTS = ("contact", "company", "deal", "activity", "case")


def indicators_of(ctx: Ctx, obj: str) -> list[str]:
    return sorted({c.indicator for c in checks_for(ctx, obj)})


def _slice_column(obj: str, kind: str) -> Any:
    model: Any = model_for(obj)
    if kind == "all":
        return None
    if kind in ("owner", "team"):
        return model.owner_id
    if kind == "stage":
        if hasattr(model, "lifecycle_stage"):
            return model.lifecycle_stage
        if hasattr(model, "stage"):
            return model.stage
    if kind == "source" and hasattr(model, "lead_source"):
        return model.lead_source
    raise BadRequest(f"{obj} records cannot be sliced by {kind}")


def slice_scores(ctx: Ctx, obj: str, kind: str = "all") -> list[dict[str, Any]]:
    """``[{slice, records, failing: {indicator: n}, score}]`` for each value of the slice.

    One scan: every record's failed indicators as a bit mask (``flag_mask``), grouped by
    slice value and mask; the records failing each indicator are added up here from the
    masks holding its bit (a handful of rows per slice value)."""
    if kind not in SLICES:
        raise BadRequest(f"slices are {', '.join(SLICES)}")
    model: Any = model_for(obj)
    col = _slice_column(obj, kind)
    if kind == "team":
        key: Any = select(User.team_id).where(User.id == model.owner_id).scalar_subquery()
    else:
        key = col
    columns = [key.label("slice")] if key is not None else []
    mask = flag_mask(ctx, obj, guard=False).label("mask")
    # OFFSET 0: the mask is computed once a record, not once per reference below.
    masked = select(*columns, mask).where(scope(ctx, obj)).offset(0).subquery("masked")
    group = [masked.c.slice] if key is not None else []
    counted = select(*group, masked.c.mask, func.count()).group_by(*group, masked.c.mask)
    out: dict[Any, dict[str, Any]] = {}
    for row in ctx.session.execute(counted):
        value = row[0] if key is not None else None
        bits, n = row[-2], row[-1]
        entry = out.setdefault(value, {"slice": value, "records": 0, "failing": {}})
        entry["records"] += n
        for indicator, bit in BITS.items():
            if bits & bit:
                entry["failing"][indicator] = entry["failing"].get(indicator, 0) + n
    n = max(len(indicators_of(ctx, obj)), 1)
    for entry in out.values():
        failed = sum(entry["failing"].values())
        entry["score"] = (
            round(100 * (1 - failed / (n * entry["records"])), 1) if entry["records"] else 100.0
        )
    return sorted(out.values(), key=lambda e: (e["slice"] is None, str(e["slice"])))


def record_score(ctx: Ctx, obj: str, record_id: str) -> dict[str, Any]:
    run = run_checks(ctx, obj=obj, record_ids=[record_id], limit=None)
    failing = sorted({f.indicator for f in run.findings})
    n = max(len(indicators_of(ctx, obj)), 1)
    return {
        "record_id": record_id,
        "score": round(100 * (1 - len(failing) / n), 1),
        "failing": failing,
        "reasons": [f.json() for f in run.findings],
    }


def snapshot(ctx: Ctx) -> int:
    """Write the scores of every object and slice now; returns the rows written."""
    now = ctx.now()
    rows = []
    for obj in SCORED_OBJECTS:
        for kind in SLICES:
            try:
                scores = slice_scores(ctx, obj, kind)
            except BadRequest:
                continue
            for s in scores:
                rows.append(
                    {
                        "taken_at": now,
                        "object": obj,
                        "slice_kind": kind,
                        "slice_value": None if s["slice"] is None else str(s["slice"]),
                        "records": s["records"],
                        "failing": s["failing"],
                        "score": s["score"],
                    }
                )
    if rows:
        ctx.session.execute(insert(QualitySnapshot), rows)
    return len(rows)


def history(ctx: Ctx, obj: str, kind: str = "all") -> list[dict[str, Any]]:
    rows = ctx.session.scalars(
        select(QualitySnapshot)
        .where(QualitySnapshot.object == obj, QualitySnapshot.slice_kind == kind)
        .order_by(QualitySnapshot.taken_at, QualitySnapshot.slice_value)
    )
    return [
        {
            "taken_at": r.taken_at.isoformat(),
            "slice": r.slice_value,
            "records": r.records,
            "failing": r.failing,
            "score": r.score,
        }
        for r in rows
    ]
