"""Gaps: a rule whose trigger matched but which could not run for want of data.

A gap names the rule, the record, the missing field and the reason, and stays open (one per
rule and record) until a later write to the record lets the rule run; then it closes. Listing
is visibility-filtered like records: a gap on a record the actor cannot see is absent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from plumb.access import authz
from plumb.core.clock import isoformat
from plumb.core.context import Ctx
from plumb.core.ids import new_id
from plumb.models import RuleGap
from plumb.records.rows import model_for
from plumb.workspace.standard import OBJECTS


@dataclass(frozen=True)
class Missing:
    """Why a rule could not run on a record."""

    field: str | None
    reason: str
    """``missing`` (blank input), ``owner_inactive``, ``user_unknown``, ``condition_error``,
    ``action_refused``, ``loop_depth``, ``no_owner``."""
    detail: str


def open_key(rule: str, obj: str, record_id: str) -> str:
    return f"{rule}|{obj}|{record_id}"


def open_gaps_for(ctx: Ctx, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """(object, id) -> names of the rules with an open gap on it."""
    by_obj: dict[str, set[str]] = {}
    for obj, ident in records:
        by_obj.setdefault(obj, set()).add(ident)
    if not by_obj:
        return {}
    clauses = [
        (RuleGap.record_type == obj) & RuleGap.record_id.in_(sorted(ids))
        for obj, ids in by_obj.items()
    ]
    rows = ctx.session.execute(
        select(RuleGap.record_type, RuleGap.record_id, RuleGap.rule).where(
            RuleGap.open_key.is_not(None), or_(*clauses)
        )
    )
    out: dict[tuple[str, str], list[str]] = {}
    for obj, ident, rule in rows:
        out.setdefault((obj, ident), []).append(rule)
    return out


def record_gap(
    ctx: Ctx, rule: str, obj: str, record_id: str, gap: Missing, assignee: str | None
) -> None:
    """Open a gap, or refresh the open one (last seen, occurrences, the latest reason)."""
    now = ctx.now()
    dialect = ctx.session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = maker(RuleGap).values(
        id=new_id(),
        rule=rule,
        record_type=obj,
        record_id=record_id,
        field=gap.field,
        reason=gap.reason,
        detail=gap.detail,
        assignee=assignee,
        open_key=open_key(rule, obj, record_id),
        occurrences=1,
        opened_at=now,
        last_seen_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["open_key"],
        set_={
            "field": stmt.excluded.field,
            "reason": stmt.excluded.reason,
            "detail": stmt.excluded.detail,
            "assignee": stmt.excluded.assignee,
            "last_seen_at": stmt.excluded.last_seen_at,
            "occurrences": RuleGap.occurrences + 1,
        },
    )
    ctx.session.execute(stmt)


def close_gap(ctx: Ctx, rule: str, obj: str, record_id: str, because: str) -> None:
    ctx.session.execute(
        update(RuleGap)
        .where(RuleGap.open_key == open_key(rule, obj, record_id))
        .values(open_key=None, closed_at=ctx.now(), closed_because=because)
    )


def gap_json(gap: RuleGap) -> dict[str, Any]:
    return {
        "id": gap.id,
        "rule": gap.rule,
        "object": gap.record_type,
        "record_id": gap.record_id,
        "field": gap.field,
        "reason": gap.reason,
        "detail": gap.detail,
        "assignee": gap.assignee,
        "occurrences": gap.occurrences,
        "opened_at": isoformat(gap.opened_at),
        "last_seen_at": isoformat(gap.last_seen_at),
        "closed_at": isoformat(gap.closed_at) if gap.closed_at else None,
    }


def list_gaps(
    ctx: Ctx,
    *,
    rule: str | None = None,
    assignees: Collection[str] | None = None,
    include_closed: bool = False,
    limit: int = 1000,
) -> list[RuleGap]:
    """Gaps on records the actor may see, oldest first (with ``assignees``: only theirs)."""
    visible: list[ColumnElement[bool]] = []
    for obj in OBJECTS:
        if not authz.may(ctx, obj, "view"):
            continue
        clause = authz.visible(ctx, obj)
        model = model_for(obj)
        if clause is None:
            visible.append(RuleGap.record_type == obj)
        else:
            ids = select(model.id).where(clause)
            visible.append((RuleGap.record_type == obj) & RuleGap.record_id.in_(ids))
    if not visible:
        return []
    stmt = select(RuleGap).where(or_(*visible))
    if not include_closed:
        stmt = stmt.where(RuleGap.open_key.is_not(None))
    if rule:
        stmt = stmt.where(RuleGap.rule == rule)
    if assignees is not None:
        stmt = stmt.where(RuleGap.assignee.in_(sorted(assignees)))
    stmt = stmt.order_by(RuleGap.opened_at, RuleGap.id).limit(limit)
    return list(ctx.session.scalars(stmt))


def grouped(gaps: list[RuleGap], by: str) -> list[dict[str, Any]]:
    """Counts of open gaps by ``rule`` or by ``field`` (``object.field``)."""
    counts: dict[str, int] = {}
    for gap in gaps:
        key = gap.rule if by == "rule" else f"{gap.record_type}.{gap.field or '(none)'}"
        counts[key] = counts.get(key, 0) + 1
    return [{by: k, "open": n} for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
