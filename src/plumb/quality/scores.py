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
from plumb.quality.engine import checks_for, flagged, run_checks, scope
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
    """``[{slice, records, failing: {indicator: n}, score}]`` for each value of the slice."""
    if kind not in SLICES:
        raise BadRequest(f"slices are {', '.join(SLICES)}")
    model: Any = model_for(obj)
    col = _slice_column(obj, kind)
    if kind == "team":
        key: Any = select(User.team_id).where(User.id == model.owner_id).scalar_subquery()
    else:
        key = col
    group = [key.label("slice")] if key is not None else []
    totals = ctx.session.execute(
        select(*group, func.count())
        .where(scope(ctx, obj))
        .group_by(*([key] if key is not None else []))
    )
    out: dict[Any, dict[str, Any]] = {}
    for row in totals:
        value = row[0] if key is not None else None
        out[value] = {"slice": value, "records": row[-1], "failing": {}}
    stmt = flagged(ctx, obj)
    if stmt is not None:
        flag = stmt.subquery()
        joined = (
            select(*group, flag.c.indicator, func.count())
            .select_from(model)
            .join(flag, flag.c.record_id == model.id)
        )
        keys = [key] if key is not None else []
        for row in ctx.session.execute(joined.group_by(*keys, flag.c.indicator)):
            value = row[0] if key is not None else None
            out.setdefault(value, {"slice": value, "records": 0, "failing": {}})
            out[value]["failing"][row[-2]] = row[-1]
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
