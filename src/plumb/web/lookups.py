"""Reads the pages need beside the API's: names for ids, and the board's per-stage totals.

Each read goes through ``access.authz`` exactly like ``records.queries``: a record the user may
not see contributes no label and no amount, and a hidden field is never read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import false, func, select

from plumb.access import authz
from plumb.access.users import list_users
from plumb.core.context import Ctx
from plumb.models import ChangeEntry, Deal
from plumb.records import queries
from plumb.records.rows import model_for
from plumb.web.views import record_label


def user_names(ctx: Ctx) -> dict[str, str]:
    """Active users by id (for owner and assignee pickers and labels)."""
    return {u.id: u.name for u in list_users(ctx, include_inactive=False)}


def labels_for(ctx: Ctx, wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """(object, id) -> label of each visible record among ``wanted``."""
    out: dict[tuple[str, str], str] = {}
    for obj, ids in wanted.items():
        if not ids or not authz.may(ctx, obj, "view"):
            continue
        model = model_for(obj)
        stmt = select(model).where(model.id.in_(sorted(ids)))
        clause = authz.visible(ctx, obj)
        if clause is not None:
            stmt = stmt.where(clause)
        records = list(ctx.session.scalars(stmt))
        for snap in queries.snapshots(ctx, obj, records):
            out[(obj, snap["id"])] = record_label(obj, redacted(ctx, obj, snap))
    return out


def stage_totals(ctx: Ctx, pipeline: str) -> dict[str, tuple[int, dict[str, Decimal] | None]]:
    """Stage -> (open deals, sum of their amounts per currency) for the deals the user may see;
    the sums are None when the user may not see amounts. Currencies are never added together."""
    authz.require(ctx, "deal", "view")
    hidden = authz.hidden_fields(ctx, "deal")
    amount_hidden = "amount" in hidden or "currency" in hidden
    stmt = (
        select(Deal.stage, Deal.currency, func.count(), func.sum(Deal.amount))
        .where(Deal.pipeline == pipeline, Deal.archived == false())
        .group_by(Deal.stage, Deal.currency)
    )
    clause = authz.visible(ctx, "deal")
    if clause is not None:
        stmt = stmt.where(clause)
    counts: dict[str, int] = {}
    sums: dict[str, dict[str, Decimal]] = {}
    for stage, currency, count, amount in ctx.session.execute(stmt):
        counts[stage] = counts.get(stage, 0) + int(count)
        if amount is not None:
            per = sums.setdefault(stage, {})
            key = currency or ctx.workspace.workspace.default_currency
            per[key] = per.get(key, Decimal(0)) + Decimal(amount)
    return {
        stage: (n, None if amount_hidden else dict(sorted(sums.get(stage, {}).items())))
        for stage, n in counts.items()
    }


def amount_totals(
    ctx: Ctx, filters: list[queries.Filter], search: str | None
) -> list[tuple[str, int, Decimal]] | None:
    """(currency, deals, sum of amounts) over every deal a deal list shows (all its pages), one
    line per currency; None when the user may not see amounts."""
    hidden = authz.hidden_fields(ctx, "deal")
    if "amount" in hidden or "currency" in hidden:
        return None
    rows = queries.filtered(ctx, "deal", filters=filters, search=search).subquery()
    stmt = (
        select(rows.c.currency, func.count(), func.sum(rows.c.amount))
        .where(rows.c.amount.is_not(None))
        .group_by(rows.c.currency)
    )
    default = ctx.workspace.workspace.default_currency
    out: dict[str, tuple[int, Decimal]] = {}
    for currency, count, amount in ctx.session.execute(stmt):
        key = currency or default
        n, total = out.get(key, (0, Decimal(0)))
        out[key] = (n + int(count), total + Decimal(amount))
    return [(c, n, a) for c, (n, a) in sorted(out.items())]


def creations(ctx: Ctx, obj: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    """Record id -> (the source of the change that created it: an activity logged by a person,
    captured from e-mail, written by a rule...; that change-log entry's sequence number)."""
    if not ids:
        return {}
    rows = ctx.session.execute(
        select(ChangeEntry.record_id, ChangeEntry.source, ChangeEntry.id).where(
            ChangeEntry.record_type == obj,
            ChangeEntry.action == "create",
            ChangeEntry.record_id.in_(ids),
        )
    )
    return {record_id: (source, seq) for record_id, source, seq in rows}


def redacted(ctx: Ctx, obj: str, snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the fields the actor may not see (``authz.redact``)."""
    return dict(authz.redact(ctx, obj, snap))
