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

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Subquery, and_, case, func, literal, select

from plumb.core.context import Ctx
from plumb.quality.checks import INDICATORS
from plumb.quality.engine import flag_clauses, scope
from plumb.records.rows import model_for
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
BITS = {indicator: 1 << i for i, indicator in enumerate(INDICATORS)}
GroupKey = tuple[Any, ...]


@dataclass
class Annotated:
    """What ``annotate_groups`` found: each group's ``totals`` (count, amount in
    ten-thousandths) and its integrity ``notes`` (only groups resting on a flagged record)."""

    totals: dict[GroupKey, tuple[int, int]] = field(default_factory=dict)
    notes: dict[GroupKey, dict[str, dict[str, Any]]] = field(default_factory=dict)


def flag_mask(ctx: Ctx, obj: str, *, guard: bool = True) -> ColumnElement[int]:
    """One integer per row of ``obj``'s table: a bit (``BITS``) per indicator of a check the
    record fails, 0 for a clean record, and with ``guard`` 0 for records outside the actor's
    scope (a caller whose query already keeps to the scope passes ``guard=False``)."""
    bits: Any = literal(0)
    for indicator, clause in flag_clauses(ctx, obj).items():
        bits = bits + case((clause, BITS[indicator]), else_=0)
    if guard:
        return case((scope(ctx, obj), bits), else_=0)
    return bits


def annotate(
    ctx: Ctx, obj: str, facts: Subquery, keys: list[str], slice_of: Any = None
) -> dict[GroupKey, dict[str, dict[str, Any]]]:
    """{group key: {label: {count, amount, ids, link}}} for the groups of ``facts`` (columns
    ``record_id``, ``amount`` in ten-thousandths or NULL, and ``keys``). ``slice_of(key)``
    gives the condition selecting a group's records, for the link."""
    return annotate_groups(ctx, obj, facts, keys, slice_of).notes


def annotate_groups(
    ctx: Ctx, obj: str, facts: Subquery, keys: list[str], slice_of: Any = None
) -> Annotated:
    """The totals and integrity notes of the groups of ``facts`` (see ``annotate``).

    Every check is evaluated once per record, in the scan that reads the facts, as a bit mask
    (``flag_mask``; facts that read ``obj``'s table now may carry it as column ``mask``,
    others are joined to the table by ``record_id``). Two queries follow: count and amount by
    group and mask, and the first ``ID_LIMIT`` ids of each group and mask (a window over the
    flagged records only). Sums per indicator and the ``any`` figure are added up here from
    those few rows; a group's first ids for an indicator are the first of the ids of the masks
    holding it."""
    if "mask" in facts.c:
        rows: Any = select(facts)
    else:
        model = model_for(obj)
        rows = select(facts, flag_mask(ctx, obj).label("mask")).select_from(
            facts.outerjoin(model, model.id == facts.c.record_id)
        )
    # OFFSET 0 keeps both backends from inlining the scan into the queries below, which would
    # evaluate the mask once per reference instead of once per record.
    masked = rows.offset(0).subquery("masked")
    group = [masked.c[k] for k in keys]
    found = Annotated()
    sums: dict[GroupKey, dict[int, tuple[int, int]]] = {}
    counted = select(*group, masked.c.mask, func.count(), func.sum(masked.c.amount)).group_by(
        *group, masked.c.mask
    )
    for row in ctx.session.execute(counted):
        key = tuple(row[: len(keys)])
        mask, count, units = row[len(keys) :]
        n, total = found.totals.get(key, (0, 0))
        found.totals[key] = (n + count, total + (units or 0))
        if mask:
            sums.setdefault(key, {})[mask] = (count, units or 0)
    if not sums:
        return found
    part = [*group, masked.c.mask]
    windowed = (
        select(
            *part,
            masked.c.record_id,
            func.row_number().over(partition_by=part, order_by=masked.c.record_id).label("rn"),
        )
        .where(and_(masked.c.mask.isnot(None), masked.c.mask != 0))
        .subquery("windowed")
    )
    first: dict[GroupKey, dict[int, list[str]]] = {}
    listed = select(*(windowed.c[k] for k in keys), windowed.c.mask, windowed.c.record_id).where(
        windowed.c.rn <= ID_LIMIT
    )
    for row in ctx.session.execute(listed):
        key = tuple(row[: len(keys)])
        mask, record_id = row[len(keys) :]
        first.setdefault(key, {}).setdefault(mask, []).append(record_id)
    for key, by_mask in sums.items():
        found.notes[key] = _notes(
            obj, by_mask, first.get(key, {}), slice_of(key) if slice_of else None
        )
    return found


def _notes(
    obj: str, by_mask: dict[int, tuple[int, int]], ids: dict[int, list[str]], slice_text: str | None
) -> dict[str, dict[str, Any]]:
    notes: dict[str, dict[str, Any]] = {}
    for indicator in sorted(BITS):
        bit = BITS[indicator]
        masks = [m for m in by_mask if m & bit]
        if not masks:
            continue
        notes[LABELS[indicator]] = {
            "count": sum(by_mask[m][0] for m in masks),
            "amount": money(sum(by_mask[m][1] for m in masks)),
            "ids": sorted(i for m in masks for i in ids.get(m, []))[:ID_LIMIT],
            "link": _link(obj, indicator, slice_text),
        }
    notes["any"] = {
        "count": sum(n for n, _ in by_mask.values()),
        "amount": money(sum(u for _, u in by_mask.values())),
    }
    return notes


def _link(obj: str, indicator: str, slice_text: str | None) -> str:
    params = {"object": obj, "indicator": indicator, "limit": "0"}
    if slice_text:
        params["slice"] = slice_text
    return f"/api/v1/checks?{urlencode(params)}"


def clean() -> dict[str, Any]:
    return {"any": {"count": 0, "amount": money(0)}}
