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

import heapq
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Subquery, case, func, literal, select

from plumb.core.context import Ctx
from plumb.core.db import is_sqlite
from plumb.quality.engine import BITS, flag_mask
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
GroupKey = tuple[Any, ...]


@dataclass
class Annotated:
    """What ``annotate_groups`` found: each group's ``totals`` (count, amount in
    ten-thousandths) and its integrity ``notes`` (only groups resting on a flagged record)."""

    totals: dict[GroupKey, tuple[int, int]] = field(default_factory=dict)
    notes: dict[GroupKey, dict[str, dict[str, Any]]] = field(default_factory=dict)


def annotate(
    ctx: Ctx, obj: str, facts: Subquery, keys: list[str], slice_of: Any = None
) -> dict[GroupKey, dict[str, dict[str, Any]]]:
    """{group key: {label: {count, amount, ids, link}}} for the groups of ``facts`` (columns
    ``record_id``, ``amount`` in ten-thousandths or NULL, and ``keys``). ``slice_of(key)``
    gives the condition selecting a group's records, for the link."""
    return annotate_groups(ctx, obj, facts, keys, slice_of).notes


def annotate_groups(
    ctx: Ctx,
    obj: str,
    facts: Subquery,
    keys: list[str],
    slice_of: Any = None,
    *,
    noted_by: int | None = None,
) -> Annotated:
    """The totals and integrity notes of the groups of ``facts`` (see ``annotate``); with
    ``noted_by`` n, totals are kept by every key but notes by the first n keys only (a report
    that needs its figures split finer than its rows, as the forecast by stage and month).

    Every check is evaluated once per record, in the one scan that reads the facts, as a bit
    mask (``flag_mask``; facts that read ``obj``'s table now may carry it as column ``mask``,
    others are joined to the table by ``record_id``). That scan is grouped by the keys and the
    mask, and each group brings its count, its amount and the ids of its flagged records (one
    string; ``_flagged_ids``): a second pass for the first ids (a window sorting every flagged
    record) cost more than the scan. Sums per indicator, the ``any`` figure and the first
    ``ID_LIMIT`` ids are added up here from those few rows."""
    if "mask" in facts.c:
        rows: Any = select(facts)
    else:
        model = model_for(obj)
        rows = select(facts, flag_mask(ctx, obj).label("mask")).select_from(
            facts.outerjoin(model, model.id == facts.c.record_id)
        )
    # OFFSET 0 keeps both backends from inlining the scan into the query below, which would
    # evaluate the mask once per reference (group key, column, the ids) instead of once.
    masked = rows.offset(0).subquery("masked")
    group = [masked.c[k] for k in keys]
    noted = len(keys) if noted_by is None else noted_by
    found = Annotated()
    sums: dict[GroupKey, dict[int, tuple[int, int]]] = {}
    first: dict[GroupKey, dict[int, list[str]]] = {}
    counted = select(
        *group,
        masked.c.mask,
        func.count(),
        func.sum(masked.c.amount),
        _flagged_ids(ctx, masked),
    ).group_by(*group, masked.c.mask)
    for row in ctx.session.execute(counted):
        key = tuple(row[: len(keys)])
        mask, count, units, ids = row[len(keys) :]
        units = units or 0
        n, total = found.totals.get(key, (0, 0))
        found.totals[key] = (n + count, total + units)
        if not mask:
            continue
        note_key = key[:noted]
        n, total = sums.setdefault(note_key, {}).get(mask, (0, 0))
        sums[note_key][mask] = (n + count, total + units)
        held = first.setdefault(note_key, {}).get(mask, [])
        listed = ids.split(",") if ids else []
        first[note_key][mask] = heapq.nsmallest(ID_LIMIT, [*held, *listed])
    for key, by_mask in sums.items():
        found.notes[key] = _notes(
            obj, by_mask, first.get(key, {}), slice_of(key) if slice_of else None
        )
    return found


def _flagged_ids(ctx: Ctx, masked: Subquery) -> ColumnElement[str]:
    """The ids of a group's flagged records as one comma-separated string, in no order (ids
    are Crockford base32, never a comma); NULL for the clean group. The ``ID_LIMIT`` smallest
    are picked in Python: neither backend has an aggregate for the first n, and sorting the
    ids in SQL (``array_agg(id ORDER BY id)``) cost more than the picking."""
    flagged = case((masked.c.mask != 0, masked.c.record_id))
    if is_sqlite(ctx.session):
        return func.group_concat(flagged, literal(","))
    return func.string_agg(flagged, literal(","))


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
