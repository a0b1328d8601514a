"""Stale deals, activity by owner and time in stage."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Subquery,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from plumb.core.context import Ctx
from plumb.models import Activity, ChangeEntry, Deal, User
from plumb.quality.engine import check_rows, checks_for, scope
from plumb.reports.base import Report, money
from plumb.reports.history_sql import moment
from plumb.reports.integrity import annotate, clean
from plumb.reports.pipeline import deal_facts

WINDOW_DAYS = 30


def stale_deals(ctx: Ctx, *, as_of: datetime | None = None) -> Report:
    """Open deals failing a freshness check, with the reason: the worklist behind "stale".
    With ``as_of``, the deals as they stood then, judged at that time (``_stale_then``)."""
    report = Report(
        "stale_deals", ["deal_id", "name", "stage", "amount", "owner", "reason"], as_of=as_of
    )
    if as_of is not None:
        report.rows = _stale_then(ctx, as_of)
        return report
    where = scope(ctx, "deal")
    for check in checks_for(ctx, "deal"):
        if check.indicator != "freshness":
            continue
        stmt = check_rows(ctx, check, where)
        if stmt is None:
            continue
        sub = stmt.subquery()
        rows = ctx.session.execute(
            select(Deal.id, Deal.name, Deal.stage, Deal.amount, User.email, sub.c.reason)
            .join(sub, sub.c.record_id == Deal.id)
            .outerjoin(User, User.id == Deal.owner_id)
            .order_by(Deal.amount.desc(), Deal.id)
        )
        for ident, name, stage, amount, owner, reason in rows:
            report.rows.append(
                {
                    "deal_id": ident,
                    "name": name,
                    "stage": stage,
                    "amount": amount,
                    "owner": owner,
                    "reason": reason,
                }
            )
    return report


def _stale_then(ctx: Ctx, as_of: datetime) -> list[dict[str, Any]]:
    """The built-in deal freshness check (``deal.stale``) applied to the deals as they stood at
    ``as_of``, from the change log: open then, and a close date before that day, or created
    more than ``deal_stale_days`` before it with no change to amount or close date since."""
    ws = ctx.workspace
    days = ws.checks.deal_stale_days
    cutoff = as_of - timedelta(days=days)
    facts = deal_facts(ctx, as_of, ["name", "pipeline", "stage", "close_date", "owner_id"])
    is_open = or_(
        false(),
        *(
            and_(
                facts.c.pipeline == p.key,
                facts.c.stage.in_([s.key for s in p.stages if s.outcome == "open"]),
            )
            for p in ws.pipelines_for("deal")
        ),
    )
    entry = aliased(ChangeEntry)
    created_before = exists().where(
        entry.record_type == "deal",
        entry.record_id == facts.c.record_id,
        entry.action == "create",
        entry.at < cutoff,
    )
    touched = exists().where(
        entry.record_type == "deal",
        entry.record_id == facts.c.record_id,
        entry.at >= cutoff,
        entry.at <= as_of,
        or_(*(entry.changes[n].as_string().isnot(None) for n in ("amount", "close_date"))),
    )
    past_close = and_(facts.c.close_date.isnot(None), facts.c.close_date < as_of.date().isoformat())
    reasons = [
        (past_close, "close date is in the past on an open deal"),
        (
            and_(created_before, not_(touched)),
            f"amount and close date unchanged for {days} days on an open deal",
        ),
    ]
    parts = [
        select(facts.c.record_id, literal(reason).label("reason")).where(is_open, clause)
        for clause, reason in reasons
    ]
    flagged = union_all(*parts).subquery("flagged")
    rows = ctx.session.execute(
        select(
            facts.c.record_id,
            facts.c.name,
            facts.c.stage,
            facts.c.amount,
            User.email,
            flagged.c.reason,
        )
        .join(flagged, flagged.c.record_id == facts.c.record_id)
        .outerjoin(User, User.id == facts.c.owner_id)
        .order_by(facts.c.amount.desc(), facts.c.record_id, flagged.c.reason)
    )
    return [
        {
            "deal_id": ident,
            "name": name,
            "stage": stage,
            "amount": money(units) if units is not None else None,
            "owner": owner,
            "reason": reason,
        }
        for ident, name, stage, units, owner, reason in rows
    ]


def activity_by_owner(ctx: Ctx, *, as_of: datetime | None = None) -> Report:
    """Activities logged in the 30 days up to now (or ``as_of``), by owner and type."""
    end = as_of or ctx.now()
    start = end - timedelta(days=WINDOW_DAYS)
    owner = func.coalesce(User.email, "(no owner)")
    facts: Subquery = (
        select(
            Activity.id.label("record_id"),
            cast(null(), BigInteger).label("amount"),
            owner.label("owner"),
            Activity.type.label("type"),
        )
        .outerjoin(User, User.id == Activity.owner_id)
        .where(scope(ctx, "activity"), Activity.occurred_at > start, Activity.occurred_at <= end)
        .subquery("facts")
    )
    counts = ctx.session.execute(
        select(facts.c.owner, facts.c.type, func.count())
        .group_by(facts.c.owner, facts.c.type)
        .order_by(facts.c.owner, facts.c.type)
    )
    notes = annotate(ctx, "activity", facts, ["owner", "type"])
    report = Report("activity_by_owner", ["owner", "type", "count"], as_of=as_of)
    for who, kind, count in counts:
        integrity = notes.get((who, kind), clean())
        report.rows.append({"owner": who, "type": kind, "count": count, "integrity": integrity})
    report.notes.append(f"activities from {moment(start)} to {moment(end)}")
    return report


def time_in_stage(ctx: Ctx, *, as_of: datetime | None = None) -> Report:
    """Median and mean days deals spent in each stage, from the change log (visits that ended,
    and the current visit of deals still in the stage, counted up to now or ``as_of``)."""
    end = as_of or ctx.now()
    visible = select(Deal.id).where(scope(ctx, "deal"))
    entries = ctx.session.execute(
        select(ChangeEntry.record_id, ChangeEntry.at, ChangeEntry.changes[("stage", 1)].as_string())
        .where(
            ChangeEntry.record_type == "deal",
            ChangeEntry.at <= end,
            ChangeEntry.changes["stage"].as_string().isnot(None),
            ChangeEntry.record_id.in_(visible),
        )
        .order_by(ChangeEntry.record_id, ChangeEntry.at, ChangeEntry.id)
    )
    spans: dict[str, list[float]] = defaultdict(list)
    current: dict[str, int] = defaultdict(int)
    last: tuple[str, datetime, str] | None = None
    for record_id, at, stage in entries:
        if last is not None and last[0] == record_id:
            spans[last[2]].append((at - last[1]).total_seconds() / 86400)
        elif last is not None:
            spans[last[2]].append((end - last[1]).total_seconds() / 86400)
            current[last[2]] += 1
        last = (record_id, at, stage)
    if last is not None:
        spans[last[2]].append((end - last[1]).total_seconds() / 86400)
        current[last[2]] += 1
    report = Report(
        "time_in_stage",
        ["stage", "visits", "in_stage_now", "median_days", "mean_days"],
        as_of=as_of,
    )
    order = [s.key for p in ctx.workspace.pipelines_for("deal") for s in p.stages]
    for stage in order + sorted(set(spans) - set(order)):
        days = spans.get(stage, [])
        report.rows.append(
            {
                "stage": stage,
                "visits": len(days),
                "in_stage_now": current.get(stage, 0),
                "median_days": round(statistics.median(days), 1) if days else None,
                "mean_days": round(statistics.fmean(days), 1) if days else None,
            }
        )
    return report
