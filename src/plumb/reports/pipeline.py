"""Pipeline by stage and forecast by close month, now or as of an earlier time."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    Subquery,
    and_,
    case,
    cast,
    false,
    func,
    or_,
    select,
    type_coerce,
)

from plumb.core.context import Ctx
from plumb.models import Deal
from plumb.quality.engine import flag_mask, scope
from plumb.reports.asof import state_at
from plumb.reports.base import Report, money
from plumb.reports.history_sql import visible_now
from plumb.reports.integrity import annotate_groups, clean


def deal_facts(
    ctx: Ctx, as_of: datetime | None, fields: list[str], *, flags: bool = False
) -> Subquery:
    """The deals a report counts: ``record_id``, ``amount`` (ten-thousandths) and ``fields``;
    live and visible to the actor, as they are now or as they stood at ``as_of``. With
    ``flags``, deals read now also carry the integrity ``mask``, computed in the same scan."""
    if as_of is None:
        where = scope(ctx, "deal")
        cols = [getattr(Deal, f).label(f) for f in fields if f != "amount"]
        if flags:
            cols.append(flag_mask(ctx, "deal", guard=False).label("mask"))
        amount = type_coerce(Deal.amount, BigInteger).label("amount")
        return select(Deal.id.label("record_id"), amount, *cols).where(where).subquery("facts")
    past = state_at(ctx, "deal", as_of, [f for f in fields if f != "amount"] + ["amount"])
    # Visibility is decided on the record as it is now (who may see it today); whether it was
    # archived, as it was then.
    return select(past).where(past.c.record_id.in_(visible_now(ctx, "deal"))).subquery("facts")


def pipeline(ctx: Ctx, *, as_of: datetime | None = None) -> Report:
    """Open and closed deals by pipeline and stage: count, amount, and amount weighted by the
    stage's probability, each with what it rests on."""
    ws = ctx.workspace
    facts = deal_facts(ctx, as_of, ["pipeline", "stage"], flags=True)
    # The figures come from the same scan as their integrity annotation.
    annotated = annotate_groups(
        ctx,
        "deal",
        facts,
        ["pipeline", "stage"],
        lambda key: f"pipeline == '{key[0]}' and stage == '{key[1]}'",
    )
    found, notes = annotated.totals, annotated.notes
    report = Report(
        "pipeline",
        ["pipeline", "stage", "probability", "count", "amount", "weighted"],
        as_of=as_of,
    )
    order: list[tuple[str, str, float | None]] = [
        (p.key, s.key, s.probability) for p in ws.pipelines_for("deal") for s in p.stages
    ]
    known = {(p, s) for p, s, _ in order}
    order += [(p, s, None) for p, s in sorted(found) if (p, s) not in known]
    for pipe, stage, probability in order:
        count, units = found.get((pipe, stage), (0, 0))
        amount = money(units)
        weighted = (
            None
            if probability is None
            else money(int(Decimal(units or 0) * Decimal(str(probability))))
        )
        report.rows.append(
            {
                "pipeline": pipe,
                "stage": stage,
                "probability": probability,
                "count": count,
                "amount": amount,
                "weighted": weighted,
                "integrity": notes.get((pipe, stage), clean()),
            }
        )
    if as_of is not None:
        report.notes.append("integrity annotations describe the counted deals as they are today")
    return report


def forecast(ctx: Ctx, *, as_of: datetime | None = None) -> Report:
    """Open deals by the month of their close date: count, amount, weighted amount.

    One scan, grouped by pipeline, stage and month, gives the figures and their annotation:
    the weighted amount is each stage's amount times its probability (the same sum as deal by
    deal), and the notes are kept by month."""
    ws = ctx.workspace
    facts = deal_facts(ctx, as_of, ["pipeline", "stage", "close_date"], flags=True)
    probability: dict[tuple[str, str], Decimal] = {}
    for p in ws.pipelines_for("deal"):
        for s in p.stages:
            if s.outcome == "open":
                probability[(p.key, s.key)] = Decimal(str(s.probability or 0))
    is_open = or_(
        false(),
        *(and_(facts.c.pipeline == p, facts.c.stage == s) for p, s in probability),
    )
    by_month = (
        select(
            facts.c.record_id,
            facts.c.amount,
            _month(facts),
            facts.c.pipeline,
            facts.c.stage,
            *(c for c in facts.c if c.name == "mask"),
        )
        .where(is_open)
        .subquery("by_month")
    )
    annotated = annotate_groups(ctx, "deal", by_month, ["month", "pipeline", "stage"], noted_by=1)
    months: dict[str, dict[str, Any]] = {}
    for (month, pipe, stage), (count, units) in annotated.totals.items():
        m = months.setdefault(month, {"count": 0, "units": 0, "weighted": Decimal(0)})
        m["count"] += count
        m["units"] += units
        m["weighted"] += Decimal(units) * probability[(pipe, stage)]
    report = Report("forecast", ["close_month", "count", "amount", "weighted"], as_of=as_of)
    for month in sorted(months):
        m = months[month]
        report.rows.append(
            {
                "close_month": month,
                "count": m["count"],
                "amount": money(m["units"]),
                "weighted": money(int(m["weighted"])),
                "integrity": annotated.notes.get((month,), clean()),
            }
        )
    return report


def _month(facts: Subquery) -> Any:
    """The close month as the text ``YYYY-MM`` (a blank close date, as a past state may hold
    it, is no close date)."""
    text = cast(facts.c.close_date, String)
    month = func.substr(text, 1, 7)
    blank = or_(text.is_(None), text == "")
    return case((blank, "no close date"), else_=month).label("month")
