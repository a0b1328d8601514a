"""Funnel conversion between lifecycle stages, and status usage: both read from the change log.

Funnel: for each consecutive pair of lifecycle stages (A, B) in the definition's order, the
contacts that entered A within the period, and how many of those reached B or a later stage
afterwards (by the time the report knows up to: now, or ``as_of``). Stages marked
``in_funnel: false`` (``other``) are not steps: moving into one is not going on.

Status usage: for each lifecycle stage and lead status value, how many contacts hold it, how
many moved in and out within the period, the median days a visit to it lasts, and how many of
its holders have had no activity for ``IDLE_DAYS``: which statuses do work and which collect
records nobody touches.

Each is a handful of set-based queries (window functions over the change log), whatever the
number of contacts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import BigInteger, String, and_, case, cast, exists, func, literal, null, select
from sqlalchemy.orm import aliased

from plumb.core.context import Ctx
from plumb.models import Activity, ActivityLink
from plumb.reports.base import Report
from plumb.reports.history_sql import (
    days_between,
    field_entries,
    live_ids,
    medians,
    moment,
    period,
)
from plumb.reports.integrity import annotate, clean

OBJECT = "contact"
STATUS_FIELDS = {"lifecycle_stage": None, "lead_status": "lead_status"}
"""The fields status usage covers, with the picklist that defines the values (None: stages)."""
IDLE_DAYS = 90


def funnel(
    ctx: Ctx,
    *,
    as_of: datetime | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> Report:
    """Contacts entering each lifecycle stage in the period and how many went on to the next."""
    span = period(ctx, as_of, start, stop)
    order = [s.key for s in ctx.workspace.lifecycle_stages if s.in_funnel]
    entries = field_entries(
        OBJECT, "lifecycle_stage", span.known, {k: i for i, k in enumerate(order)}
    )
    live = live_ids(ctx, OBJECT, as_of)
    entered = (
        select(
            entries.c.record_id,
            entries.c.value.label("stage"),
            entries.c.rank,
            func.min(entries.c.at).label("entered_at"),
        )
        .where(
            entries.c.at >= span.start,
            entries.c.at < span.stop,
            entries.c.rank.isnot(None),
            entries.c.record_id.in_(live),
        )
        .group_by(entries.c.record_id, entries.c.value, entries.c.rank)
        .subquery("entered")
    )
    later = aliased(entries, name="later")
    reached = exists().where(
        later.c.record_id == entered.c.record_id,
        later.c.at >= entered.c.entered_at,
        later.c.rank > entered.c.rank,
    )
    counts = select(
        entered.c.stage,
        func.count(),
        func.sum(case((reached, 1), else_=0)),
    ).group_by(entered.c.stage)
    found = {stage: (n, int(r or 0)) for stage, n, r in ctx.session.execute(counts)}
    facts = select(
        entered.c.record_id,
        cast(null(), BigInteger).label("amount"),
        entered.c.stage,
    ).subquery("facts")
    notes = annotate(ctx, OBJECT, facts, ["stage"])
    report = Report("funnel", ["from_stage", "to_stage", "entered", "reached", "rate"], as_of=as_of)
    for here, after in pairwise(order):
        n, r = found.get(here, (0, 0))
        report.rows.append(
            {
                "from_stage": here,
                "to_stage": after,
                "entered": n,
                "reached": r,
                "rate": round(r / n, 3) if n else None,
                "integrity": notes.get((here,), clean()),
            }
        )
    report.notes.append(
        f"contacts entering each stage from {span.text()}; reached: moved to the next stage or "
        f"a later one afterwards, up to {moment(span.known)}"
    )
    return report


def status_usage(
    ctx: Ctx,
    *,
    as_of: datetime | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
) -> Report:
    """For each lifecycle stage and status value: holders, moves in and out in the period,
    median days per visit, and holders with no recent activity."""
    span = period(ctx, as_of, start, stop)
    live = live_ids(ctx, OBJECT, as_of)
    idle_since = span.known - timedelta(days=IDLE_DAYS)
    report = Report(
        "status_usage",
        ["field", "value", "holding", "moved_in", "moved_out", "median_days", "idle"],
        as_of=as_of,
    )
    holders = []
    for name, picklist in STATUS_FIELDS.items():
        defined = _values(ctx, name, picklist)
        entries = field_entries(OBJECT, name, span.known, {})
        mine = select(entries).where(entries.c.record_id.in_(live)).subquery("mine")
        stopped = func.lead(mine.c.at).over(
            partition_by=mine.c.record_id, order_by=[mine.c.at, mine.c.entry_id]
        )
        visits = select(
            mine.c.record_id,
            mine.c.value,
            mine.c.at.label("started"),
            stopped.label("stopped"),
        ).subquery("visits")
        days = days_between(ctx, visits.c.started, func.coalesce(visits.c.stopped, span.known))
        spans = (
            select(visits.c.value, days.label("days"))
            .where(visits.c.value.isnot(None))
            .subquery("spans")
        )
        median = {v: d for v, d in ctx.session.execute(medians(spans, "value", "days"))}
        holding = (
            select(visits.c.record_id, visits.c.value)
            .where(visits.c.stopped.is_(None), visits.c.value.isnot(None))
            .subquery("holding")
        )
        active = exists().where(
            ActivityLink.record_type == OBJECT,
            ActivityLink.record_id == holding.c.record_id,
            Activity.id == ActivityLink.activity_id,
            Activity.archived.is_(False),
            Activity.occurred_at > idle_since,
            Activity.occurred_at <= span.known,
        )
        held = {
            v: (n, int(idle or 0))
            for v, n, idle in ctx.session.execute(
                select(
                    holding.c.value, func.count(), func.sum(case((active, 0), else_=1))
                ).group_by(holding.c.value)
            )
        }
        window = and_(mine.c.at >= span.start, mine.c.at < span.stop)
        moved_in = _count_by(ctx, mine.c.value, mine, window)
        moved_out = _count_by(ctx, mine.c.old, mine, window)
        holders.append(
            select(
                holding.c.record_id,
                cast(null(), BigInteger).label("amount"),
                literal(name, String).label("field"),
                holding.c.value,
            )
        )
        seen = set(median) | set(held) | set(moved_in) | set(moved_out)
        for value in defined + sorted(v for v in seen - set(defined) if v is not None):
            n, idle = held.get(value, (0, 0))
            days_in = median.get(value)
            report.rows.append(
                {
                    "field": name,
                    "value": value,
                    "holding": n,
                    "moved_in": moved_in.get(value, 0),
                    "moved_out": moved_out.get(value, 0),
                    "median_days": round(float(days_in), 1) if days_in is not None else None,
                    "idle": idle,
                }
            )
    facts = holders[0].union_all(*holders[1:]).subquery("facts")
    notes = annotate(ctx, OBJECT, facts, ["field", "value"], lambda key: f"{key[0]} == '{key[1]}'")
    for row in report.rows:
        row["integrity"] = notes.get((row["field"], row["value"]), clean())
    report.notes.append(
        f"moves from {span.text()}; median days over every visit up to "
        f"{moment(span.known)}; idle: no activity in the {IDLE_DAYS} days before it"
    )
    return report


def _values(ctx: Ctx, name: str, picklist: str | None) -> list[str]:
    ws = ctx.workspace
    if picklist is None:
        return [s.key for s in ws.lifecycle_stages]
    definition = ws.picklists.get(picklist)
    return [v.key for v in definition.values] if definition else []


def _count_by(ctx: Ctx, key: Any, entries: Any, window: Any) -> dict[str, int]:
    """Distinct records per value of ``key`` among the entries in the window."""
    stmt = (
        select(key, func.count(func.distinct(entries.c.record_id)))
        .where(window, key.isnot(None))
        .group_by(key)
    )
    return {v: n for v, n in ctx.session.execute(stmt)}
