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

from sqlalchemy import Subquery, func, select

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
GroupKey = tuple[Any, ...]


def annotate(
    ctx: Ctx, obj: str, facts: Subquery, keys: list[str], slice_of: Any = None
) -> dict[GroupKey, dict[str, dict[str, Any]]]:
    """{group key: {label: {count, amount, ids, link}}} for the groups of ``facts`` (columns
    ``record_id``, ``amount`` in ten-thousandths or NULL, and ``keys``). ``slice_of(key)``
    gives the condition selecting a group's records, for the link."""
    stmt = flagged(ctx, obj)
    out: dict[GroupKey, dict[str, dict[str, Any]]] = {}
    if stmt is None:
        return out
    flag = stmt.subquery()
    group = [facts.c[k] for k in keys]
    joined = facts.join(flag, flag.c.record_id == facts.c.record_id)
    totals = (
        select(*group, flag.c.indicator, func.count(), func.sum(facts.c.amount))
        .select_from(joined)
        .group_by(*group, flag.c.indicator)
    )
    for row in ctx.session.execute(totals):
        key, indicator, count, amount = tuple(row[: len(keys)]), row[-3], row[-2], row[-1]
        out.setdefault(key, {})[LABELS[indicator]] = {
            "count": count,
            "amount": money(amount),
            "ids": [],
            "link": _link(obj, indicator, slice_of(key) if slice_of else None),
        }
    ranked = (
        select(
            *group,
            flag.c.indicator,
            facts.c.record_id,
            func.row_number()
            .over(partition_by=[*group, flag.c.indicator], order_by=facts.c.record_id)
            .label("rn"),
        )
        .select_from(joined)
        .subquery()
    )
    first = select(ranked).where(ranked.c.rn <= ID_LIMIT).order_by(ranked.c.record_id)
    for row in ctx.session.execute(first):
        key, indicator, record_id = tuple(row[: len(keys)]), row[-3], row[-2]
        out[key][LABELS[indicator]]["ids"].append(record_id)
    anyflag = select(flag.c.record_id).distinct().subquery()
    union = (
        select(*group, func.count(), func.sum(facts.c.amount))
        .select_from(facts.join(anyflag, anyflag.c.record_id == facts.c.record_id))
        .group_by(*group)
    )
    for row in ctx.session.execute(union):
        key = tuple(row[: len(keys)])
        out.setdefault(key, {})["any"] = {"count": row[-2], "amount": money(row[-1])}
    return out


def _link(obj: str, indicator: str, slice_text: str | None) -> str:
    params = {"object": obj, "indicator": indicator, "limit": "0"}
    if slice_text:
        params["slice"] = slice_text
    return f"/api/v1/checks?{urlencode(params)}"


def clean() -> dict[str, Any]:
    return {"any": {"count": 0, "amount": money(0)}}
