"""External ids: the ids other systems (HubSpot, Salesforce, a spreadsheet's key column) give a
record, so an import or a sync updates the record it made before instead of making another.

Writes here go through the operations layer (``create_many``, ``update``) or, for the external
id rows themselves, append their change-log entry in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update

from plumb.core.context import Ctx
from plumb.core.db import one_of
from plumb.core.errors import FieldIssue, PlumbError, ValidationFailed
from plumb.history import chain
from plumb.models import ExternalId
from plumb.models.base import RecordMixin
from plumb.records import queries
from plumb.records.operations import ItemResult, create, create_many, update
from plumb.records.prepare import Cleaned


def move_external_ids(
    ctx: Ctx, obj: str, row_ids: list[int], to_record_id: str, *, context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Point external ids (by row) at another record, so a later import or sync of those ids
    updates it. Each move is in the change log of the record that receives the ids."""
    if not row_ids:
        return []
    rows = ctx.session.execute(
        select(ExternalId.id, ExternalId.source, ExternalId.external_id, ExternalId.record_id)
        .where(ExternalId.id.in_(row_ids), ExternalId.record_type == obj)
        .order_by(ExternalId.id)
    ).all()
    moved = [
        {"row": r.id, "source": r.source, "external_id": r.external_id, "from": r.record_id}
        for r in rows
        if r.record_id != to_record_id
    ]
    if not moved:
        return []
    ctx.session.execute(
        sql_update(ExternalId)
        .where(ExternalId.id.in_([m["row"] for m in moved]))
        .values(record_id=to_record_id)
    )
    chain.append(
        ctx,
        [
            chain.Entry(
                obj,
                to_record_id,
                "external_ids_moved",
                {},
                None,
                {**context, "external_ids": moved},
            )
        ],
    )
    return moved


def find_by_external_id(ctx: Ctx, obj: str, source: str, external_id: str) -> RecordMixin | None:
    record_id = ctx.session.scalar(
        select(ExternalId.record_id).where(
            ExternalId.record_type == obj,
            ExternalId.source == source,
            ExternalId.external_id == external_id,
        )
    )
    if record_id is None:
        return None
    return queries.get(ctx, obj, record_id)


def upsert_many(
    ctx: Ctx,
    obj: str,
    source: str,
    items: list[tuple[str, dict[str, Any]]],
    *,
    cleaned: list[Cleaned | None] | None = None,
    known: dict[str, str] | None = None,
) -> list[ItemResult]:
    """Create or update by external id. Updates apply the given fields; creates store the id.

    ``cleaned`` (the import pipeline's standardization done ahead, see ``create_many``) is
    used for the items that are created; an update cleans its fields against the record.
    ``known``: the records holding these external ids (external id -> record id) when the
    caller has just read them in this transaction (the importer); read here otherwise."""
    ext = [str(e).strip() for e, _ in items]
    bad = [i for i, e in enumerate(ext) if not e]
    if known is None:
        known = dict(
            ctx.session.execute(
                select(ExternalId.external_id, ExternalId.record_id).where(
                    ExternalId.record_type == obj,
                    ExternalId.source == source,
                    one_of(ctx.session, ExternalId.external_id, set(ext)),
                )
            ).all()
        )
    results: dict[int, ItemResult] = {
        i: ItemResult(
            i,
            error=ValidationFailed(
                "external id is blank",
                object=obj,
                issues=[FieldIssue("external_id", "required", "blank")],
            ),
        )
        for i in bad
    }
    creates: list[int] = []
    seen: dict[str, int] = {}
    for i, (e, (_, values)) in enumerate(zip(ext, items, strict=True)):
        if i in results:
            continue
        if e in seen:
            results[i] = ItemResult(
                i,
                error=ValidationFailed(
                    f"external id {e} appears twice in this batch (first at item {seen[e]})",
                    object=obj,
                    issues=[FieldIssue("external_id", "unique", "repeated in the batch", e)],
                ),
            )
            continue
        seen[e] = i
        if e in known:
            try:
                with ctx.session.begin_nested():
                    record = queries.get(ctx, obj, known[e])
                    update(ctx, obj, record, values)
                results[i] = ItemResult(i, known[e], created=False)
            except PlumbError as exc:
                results[i] = ItemResult(i, known[e], error=exc)
        else:
            creates.append(i)
    if creates:
        made = create_many(
            ctx,
            obj,
            [items[i][1] for i in creates],
            external_ids=[(source, ext[i]) for i in creates],
            cleaned=[cleaned[i] for i in creates] if cleaned is not None else None,
        )
        for i, result in zip(creates, made, strict=True):
            result.index = i
            results[i] = result
    return [results[i] for i in range(len(items))]


def upsert(
    ctx: Ctx,
    obj: str,
    source: str,
    external_id: str,
    values: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> tuple[RecordMixin, bool]:
    existing = find_by_external_id(ctx, obj, source, external_id)
    if existing is not None:
        return update(ctx, obj, existing, values, expected_version=expected_version), False
    return create(ctx, obj, values, external_id=(source, external_id)), True
