"""The integrity annotation of a report's figures.

For each figure (a group of records, such as the deals in one stage), how many of its records
and how much of its amount rest on records that fail a check, by indicator: ``stale``
(freshness), ``duplicate`` (identity), ``incomplete`` (completeness), ``orphaned`` (linkage),
``inconsistent`` (consistency), ``custom``; and ``any`` for records failing at least one. Each
carries up to ``ID_LIMIT`` record ids and a link to the full worklist.

Checks describe the records as they are now, also in an as-of report: "this figure of 1 March
rests on deals that are stale today".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Subquery, func, literal, select, union_all

from plumb.core.context import Ctx
from plumb.quality.engine import flagged
from plumb.reports.base import money

LABELS = {
    "freshness": "stale",
    "identity": "duplicate",
    "completeness": "incomplete",
    "linkage": "orphaned",
    "consistency": "inconsistent",
    "custom": "custom",
}
ID_LIMIT = 20
ANY = "~any"
"""The pseudo-indicator of records failing at least one check (not a check's indicator)."""
GroupKey = tuple[Any, ...]


def annotate(
    ctx: Ctx, obj: str, facts: Subquery, keys: list[str], slice_of: Any = None
) -> dict[GroupKey, dict[str, dict[str, Any]]]:
    """{group key: {label: {count, amount, ids, link}}} for the groups of ``facts`` (columns
    ``record_id``, ``amount`` in ten-thousandths or NULL, and ``keys``). ``slice_of(key)``
    gives the condition selecting a group's records, for the link.

    One query: the flagged set (every check of ``obj``) is computed once, as a materialized
    common table expression, and joined to the facts; window functions give each group's
    count, amount and first ids per indicator and for ``any`` in the same pass."""
    stmt = flagged(ctx, obj)
    out: dict[GroupKey, dict[str, dict[str, Any]]] = {}
    if stmt is None:
        return out
    flag = stmt.cte("flagged").prefix_with("MATERIALIZED")
    union = union_all(
        select(flag.c.record_id, flag.c.indicator),
        select(flag.c.record_id, literal(ANY).label("indicator")).distinct(),
    ).subquery("flags")
    group = [facts.c[k] for k in keys]
    part = [*group, union.c.indicator]
    windowed = (
        select(
            *group,
            union.c.indicator,
            facts.c.record_id,
            func.row_number().over(partition_by=part, order_by=facts.c.record_id).label("rn"),
            func.count().over(partition_by=part).label("n"),
            func.sum(facts.c.amount).over(partition_by=part).label("units"),
        )
        .select_from(facts.join(union, union.c.record_id == facts.c.record_id))
        .subquery("windowed")
    )
    first = (
        select(windowed)
        .where(windowed.c.rn <= ID_LIMIT)
        .order_by(*(windowed.c[k] for k in keys), windowed.c.indicator, windowed.c.rn)
    )
    for row in ctx.session.execute(first):
        key = tuple(row[: len(keys)])
        indicator, record_id, rn, count, units = row[len(keys) :]
        group_notes = out.setdefault(key, {})
        if indicator == ANY:
            group_notes["any"] = {"count": count, "amount": money(units)}
            continue
        label = LABELS[indicator]
        if rn == 1:
            group_notes[label] = {
                "count": count,
                "amount": money(units),
                "ids": [],
                "link": _link(obj, indicator, slice_of(key) if slice_of else None),
            }
        group_notes[label]["ids"].append(record_id)
    return out


def _link(obj: str, indicator: str, slice_text: str | None) -> str:
    params = {"object": obj, "indicator": indicator, "limit": "0"}
    if slice_text:
        params["slice"] = slice_text
    return f"/api/v1/checks?{urlencode(params)}"


def clean() -> dict[str, Any]:
    return {"any": {"count": 0, "amount": money(0)}}
