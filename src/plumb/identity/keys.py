"""Reading records for matching, and keeping their blocking keys in ``match_keys``.

Keys are written in the write's own transaction by the after-write hook (``plumb.identity.entry``)
and removed when a record is archived; ``reindex`` rebuilds them for existing data (after an
upgrade, or after the blocking rules changed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, select

from plumb.core.bulk import insert_tuples
from plumb.core.collector import fewer_collections
from plumb.core.context import Ctx
from plumb.core.db import one_of
from plumb.identity.plan import Plan
from plumb.models import MatchKey, RecordAlias
from plumb.records.fields import schema_for, to_json
from plumb.records.rows import model_for

CHUNK = 5000
KEY_COLUMNS = ("object", "key", "record_id")
"""The columns of ``match_keys``, in the order ``write_keys`` gives them."""
Progress = Callable[[str, int, int], None]


def _table() -> Table:
    table: Table = MatchKey.__table__  # type: ignore[assignment]
    return table


def live_clause(obj: str) -> ColumnElement[bool]:
    """Records that take part in matching: not archived, not merged away."""
    model = model_for(obj)
    aliased = select(RecordAlias.alias_id).where(RecordAlias.object == obj)
    return and_(model.archived.is_(False), model.id.not_in(aliased))


def load_values(
    ctx: Ctx,
    plan: Plan,
    ids: Iterable[str] | None = None,
    *,
    where: ColumnElement[bool] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(id, {field: JSON value}) of the live records named (all when ``ids`` is None), with the
    evidence fields and the blocking fields, in id order."""
    model = model_for(plan.object)
    sch = schema_for(ctx.workspace, plan.object)
    names = {pf.name for pf in plan.fields} | {n for r in plan.rules for n, _ in r.parts}
    standard = sorted(n for n in names if not sch[n].custom)
    custom = sorted(n for n in names if sch[n].custom)
    cols = [model.id, *(getattr(model, n) for n in standard)]
    if custom:
        cols.append(model.custom)
    base = select(*cols).where(live_clause(plan.object))
    if where is not None:
        base = base.where(where)
    out: list[tuple[str, dict[str, Any]]] = []
    if ids is None:
        chunks: list[list[str] | None] = [None]
    else:
        wanted = sorted(set(ids))
        chunks = [wanted[i : i + CHUNK] for i in range(0, len(wanted), CHUNK)]
    for chunk in chunks:
        stmt = base if chunk is None else base.where(one_of(ctx.session, model.id, chunk))
        for row in ctx.session.execute(stmt.order_by(model.id)):
            values = {n: to_json(row[i + 1]) for i, n in enumerate(standard)}
            if custom:
                stored = row[-1] or {}
                values.update({n: stored.get(n) for n in custom})
            out.append((row[0], values))
    return out


def write_keys(
    ctx: Ctx,
    plan: Plan,
    records: list[tuple[str, dict[str, Any]]],
    known: dict[str, frozenset[str]] | None = None,
) -> int:
    """Insert the blocking keys of ``records`` (id, values in JSON form); ``known``: keys
    already computed from those values, by record id."""
    known = known or {}
    obj = plan.object
    rows = [
        (obj, key, record_id)
        for record_id, values in records
        for key in sorted(known.get(record_id) or plan.keys(values))
    ]
    insert_tuples(ctx.session, _table(), KEY_COLUMNS, rows)
    return len(rows)


def clear_keys(ctx: Ctx, obj: str, ids: list[str]) -> None:
    for i in range(0, len(ids), CHUNK):
        ctx.session.execute(
            delete(MatchKey).where(
                MatchKey.object == obj, MatchKey.record_id.in_(ids[i : i + CHUNK])
            )
        )


@fewer_collections()
def reindex(ctx: Ctx, plan: Plan, progress: Progress | None = None) -> tuple[int, int]:
    """Rebuild every key of the object from the records: (records, keys)."""
    ctx.session.execute(delete(MatchKey).where(MatchKey.object == plan.object))
    records = load_values(ctx, plan)
    written = 0
    for i in range(0, len(records), CHUNK):
        written += write_keys(ctx, plan, records[i : i + CHUNK])
        if progress:
            progress("indexing blocking keys", min(i + CHUNK, len(records)), len(records))
    return len(records), written
