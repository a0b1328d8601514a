"""Time-based rules: a date field relative to today, and inactivity.

``run_due`` selects, per rule and in one query, the records whose time has come at
``ctx.now()``, and fires each occurrence once: the firing key (rule, record, and the date or
last-activity time that makes the occurrence) is unique in the database, so however often and
from however many workers ``run_due`` runs, an occurrence fires once. A record whose date moves,
or that sees new activity and goes quiet again, makes a new occurrence.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, select
from sqlalchemy.dialects import postgresql, sqlite

from plumb.automation.engine import evaluate
from plumb.automation.gaps import open_gaps_for
from plumb.automation.outcomes import Tally
from plumb.automation.ruleset import CompiledRule, RuleSet, ruleset
from plumb.automation.subject import Subject
from plumb.core.context import Ctx
from plumb.models import RuleFiring
from plumb.records.rows import model_for
from plumb.workspace.rules import field_type
from plumb.workspace.standard import FieldType

BATCH = 500


def _occurrence(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def due(ctx: Ctx, rule: CompiledRule) -> list[tuple[str, str]]:
    """(record id, occurrence) of the records whose time has come for ``rule``."""
    model = model_for(rule.obj)
    now = ctx.now()
    t = rule.trigger
    anchor: ColumnElement[Any]
    if t.date is not None:
        anchor = getattr(model, t.date)
        limit = now - timedelta(days=t.days)
        kind = field_type(ctx.workspace, rule.obj, t.date)
        cutoff: Any = limit.date() if kind == FieldType.DATE else limit
    else:
        assert t.inactive_days is not None
        anchor = func.coalesce(model.last_activity_at, model.created_at)  # type: ignore[attr-defined]
        cutoff = now - timedelta(days=t.inactive_days)
    rows = ctx.session.execute(
        select(model.id, anchor)
        .where(model.archived == false(), anchor.is_not(None), anchor <= cutoff)
        .order_by(model.id)
    ).all()
    return [(ident, _occurrence(value)) for ident, value in rows]


def _claimer(ctx: Ctx, rule: CompiledRule, record_id: str, key: str) -> Any:
    def claim() -> bool:
        dialect = ctx.session.get_bind().dialect.name
        maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            maker(RuleFiring)
            .values(
                key=key,
                rule=rule.name,
                record_type=rule.obj,
                record_id=record_id,
                fired_at=ctx.now(),
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(RuleFiring.key)
        )
        return ctx.session.execute(stmt).scalar() is not None

    return claim


def run_due(ctx: Ctx, rs: RuleSet | None = None, tally: Tally | None = None) -> int:
    """Fire every due occurrence of the time-based rules; returns how many fired.

    Outcomes are counted in ``tally`` when one is given (a simulation), else stored."""
    rs = rs or ruleset(ctx.loaded)
    fired = 0
    own = tally is None
    tally = tally or Tally()
    for rule in rs.timed:
        candidates = due(ctx, rule)
        for start in range(0, len(candidates), BATCH):
            chunk = candidates[start : start + BATCH]
            keys = {ident: f"{rule.name}|{rule.obj}|{ident}|{occ}" for ident, occ in chunk}
            taken = set(
                ctx.session.scalars(select(RuleFiring.key).where(RuleFiring.key.in_(keys.values())))
            )
            gaps = open_gaps_for(ctx, [(rule.obj, ident) for ident in keys])
            for ident, key in keys.items():
                if key in taken:
                    continue
                subject = Subject.load(ctx, rule.obj, ident)
                if subject is None:
                    continue
                outcome = evaluate(
                    ctx,
                    rs,
                    rule,
                    subject,
                    key,
                    tally,
                    had_gap=rule.name in gaps.get((rule.obj, ident), []),
                    claim=_claimer(ctx, rule, ident, key),
                )
                fired += outcome == "fired"
    if own:
        tally.flush(ctx)
    return fired
