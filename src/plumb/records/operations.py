"""The one write path for CRM records: create, update, stage moves, links, archive, restore,
upserts by external id.

Every function takes the context (session, actor, workspace, clock, hooks) and never commits:
the caller owns the transaction. Each write runs, in order: authorize -> clean and standardize
-> validate (types, references, required fields, stage gates) -> before-write hooks (identity)
-> write -> change-log entry (same transaction) -> after-write hooks (rules, outbox).

Rows are written with Core statements on the mapped tables so one code path serves one record
and a hundred thousand. Updates are conditional on the version read (``WHERE version = :v``):
a concurrent writer makes the second one fail with a conflict instead of losing an update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy import update as sql_update

from plumb.access import authz
from plumb.core.bulk import insert_rows
from plumb.core.collector import fewer_collections
from plumb.core.context import Ctx, PendingWrite, RecordChange
from plumb.core.errors import NotFound, PlumbError, ValidationFailed, VersionConflict
from plumb.core.ids import new_ids
from plumb.history import chain
from plumb.models import ActivityLink, DealContact, ExternalId
from plumb.models.base import RecordMixin
from plumb.records import queries
from plumb.records.fields import schema_for, to_json
from plumb.records.prepare import Cleaned, Draft, clean_drafts, prepare, stage_field
from plumb.records.rows import column_values, field_values, model_for

ExternalRef = tuple[str, str]
"""(source system, id in that system)."""


@dataclass
class ItemResult:
    index: int
    record_id: str | None = None
    created: bool = False
    error: PlumbError | None = None


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def _columns(model: type[RecordMixin]) -> list[str]:
    return [c.key for c in model.__table__.columns]  # type: ignore[attr-defined]


def _run_before_hooks(
    ctx: Ctx,
    obj: str,
    pairs: list[tuple[Draft, str | None, str]],
    changes: dict[int, dict[str, list[Any]]] | None = None,
) -> None:
    """``changes``: each draft's changes by its index (given for new records, whose drafts
    have no ``before``; computed here for updates)."""
    if not ctx.hooks.before_write:
        return
    pending = [
        PendingWrite(
            obj,
            record_id,
            action,
            d.after,
            changes[d.index] if changes is not None else _diff(_before(d), d.after),
            d.index,
            context=d.context,
        )
        for d, record_id, action in pairs
    ]
    for hook in ctx.hooks.before_write:
        hook(ctx, pending)
    for (d, _, _), p in zip(pairs, pending, strict=True):
        if p.error is not None:
            d.error = p.error


def _run_after_hooks(ctx: Ctx, changes: list[RecordChange]) -> None:
    for hook in ctx.hooks.after_write:
        hook(ctx, changes)


def _before(d: Draft) -> dict[str, Any]:
    assert d.before is not None, "a new record's changes come from _created"
    return d.before


def _created(d: Draft) -> dict[str, list[Any]]:
    """The changes of a new record: each filled field, from empty (an empty text or list is
    not filled; ``False`` and ``0`` are). Only the fields given or defaulted are read: the
    others hold their empty value."""
    out: dict[str, list[Any]] = {}
    after = d.after
    for k in d.values:
        v = after[k]
        if v is not None and v != "" and v != []:
            out[k] = [[] if type(v) is list else None, v]
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


# -- create ---------------------------------------------------------------------------------------


def create_many(
    ctx: Ctx,
    obj: str,
    items: list[dict[str, Any]],
    *,
    external_ids: list[ExternalRef | None] | None = None,
    allow_read_only: bool = False,
    cleaned: list[Cleaned | None] | None = None,
) -> list[ItemResult]:
    """Create records; each item succeeds or fails on its own, and a failed item writes nothing.

    ``cleaned`` is for the import pipeline only: per item, what ``prepare.clean_ahead`` (the
    same standardizers, run ahead in worker processes) made of its fields, so they are not
    standardized twice; the rest of the write (validation, hooks, change log) is unchanged."""
    with fewer_collections():
        return _create_many(ctx, obj, items, external_ids, allow_read_only, cleaned)


def _create_many(
    ctx: Ctx,
    obj: str,
    items: list[dict[str, Any]],
    external_ids: list[ExternalRef | None] | None,
    allow_read_only: bool,
    cleaned: list[Cleaned | None] | None,
) -> list[ItemResult]:
    authz.require(ctx, obj, "create")
    sch = schema_for(ctx.workspace, obj)
    model = model_for(obj)
    drafts = clean_drafts(
        ctx, obj, items, [None] * len(items), allow_read_only=allow_read_only, cleaned=cleaned
    )
    prepare(ctx, obj, drafts, creating=True)
    ids = new_ids(len(drafts))
    now = ctx.now()
    if obj in ("deal", "case"):
        for d in drafts:
            if d.ok:
                d.set("stage_entered_at", now)
    diffs = {d.index: _created(d) for d in drafts if d.ok}
    _run_before_hooks(ctx, obj, [(d, ids[d.index], "create") for d in drafts if d.ok], diffs)

    template = dict.fromkeys(_columns(model))
    template.update(
        created_at=now, updated_at=now, created_by=ctx.actor.label, version=1, archived=False
    )
    rows: list[dict[str, Any]] = []
    entries: list[chain.Entry] = []
    changes_out: list[RecordChange] = []
    results: list[ItemResult] = []
    link_rows: dict[str, list[dict[str, Any]]] = {"contacts": [], "links": []}
    ext_rows: list[dict[str, Any]] = []
    for d in drafts:
        if not d.ok:
            error = d.fail()
            error.object = obj
            results.append(ItemResult(d.index, error=error))
            continue
        record_id = ids[d.index]
        row = dict(template)
        row["id"] = record_id
        custom: dict[str, Any] = {}
        row["custom"] = custom
        row.update(column_values(sch, d.values, custom))
        if obj == "deal":
            row["figures_changed_at"] = now
        rows.append(row)
        if obj == "deal":
            link_rows["contacts"] += [{"deal_id": record_id, **i} for i in d.after["contacts"]]
        elif obj == "activity":
            link_rows["links"] += [
                {"activity_id": record_id, "record_type": i["type"], "record_id": i["id"]}
                for i in d.after["links"]
            ]
        ref = external_ids[d.index] if external_ids else None
        if ref is not None:
            ext_rows.append(
                {
                    "record_type": obj,
                    "source": ref[0],
                    "external_id": ref[1],
                    "record_id": record_id,
                }
            )
        changes = diffs[d.index]
        entries.append(chain.Entry(obj, record_id, "create", changes, 1, d.context))
        changes_out.append(RecordChange(obj, record_id, "create", changes, d.after, 1))
        results.append(ItemResult(d.index, record_id, created=True))

    if rows:
        # Table-level bulk inserts (COPY on PostgreSQL), not the ORM bulk path, which splits a
        # batch into one statement per distinct set of non-null keys.
        insert_rows(ctx.session, _table(model), rows)
        insert_rows(ctx.session, _table(DealContact), link_rows["contacts"])
        insert_rows(ctx.session, _table(ActivityLink), link_rows["links"])
        insert_rows(ctx.session, _table(ExternalId), ext_rows)
        if obj == "activity":
            entries += _touch_last_activity(ctx, drafts)
        chain.append(ctx, entries)
        _run_after_hooks(ctx, changes_out)
    results.sort(key=lambda r: r.index)
    return results


def create(
    ctx: Ctx, obj: str, values: dict[str, Any], *, external_id: ExternalRef | None = None
) -> RecordMixin:
    [result] = create_many(ctx, obj, [values], external_ids=[external_id])
    if result.error is not None:
        raise result.error
    assert result.record_id is not None
    return queries.get(ctx, obj, result.record_id)


def _touch_last_activity(ctx: Ctx, drafts: list[Draft]) -> list[chain.Entry]:
    """Logging an activity moves ``last_activity_at`` forward on the records it is about.

    Plumb maintains the field, so the version (which counts edits people and rules make) does not
    move and nobody editing the record meanwhile gets a conflict; the change is still in history.
    """
    latest: dict[tuple[str, str], Any] = {}
    for d in drafts:
        if not d.ok:
            continue
        occurred = d.values.get("occurred_at")
        for link in d.after.get("links") or []:
            if link["type"] not in ("contact", "company", "deal"):
                continue
            key = (link["type"], link["id"])
            if key not in latest or occurred > latest[key]:
                latest[key] = occurred
    entries: list[chain.Entry] = []
    by_type: dict[str, dict[str, Any]] = {}
    for (kind, ident), occurred in latest.items():
        by_type.setdefault(kind, {})[ident] = occurred
    for kind, wanted in by_type.items():
        model = model_for(kind)
        current = dict(
            ctx.session.execute(
                select(model.id, model.last_activity_at).where(model.id.in_(wanted))  # type: ignore[attr-defined]
            ).all()
        )
        moves = [
            {"rid": ident, "at": occurred}
            for ident, occurred in wanted.items()
            if ident in current and (current[ident] is None or occurred > current[ident])
        ]
        if not moves:
            continue
        ctx.session.execute(
            sql_update(model.__table__)  # type: ignore[attr-defined]
            .where(model.__table__.c.id == bindparam("rid"))  # type: ignore[attr-defined]
            .values(last_activity_at=bindparam("at")),
            moves,
        )
        entries += [
            chain.Entry(
                kind,
                m["rid"],
                "activity_logged",
                {"last_activity_at": [to_json(current[m["rid"]]), to_json(m["at"])]},
            )
            for m in moves
        ]
    return entries


# -- update ---------------------------------------------------------------------------------------


def check_version(ctx: Ctx, obj: str, record: RecordMixin, expected: int | None) -> None:
    if expected is not None and expected != record.version:
        raise VersionConflict(
            f"you changed version {expected}, but the record is now at version {record.version}",
            object=obj,
            record_id=record.id,
            extra={
                "your_version": expected,
                "current_version": record.version,
                "current": queries.get_snapshot(ctx, obj, record),
            },
        )


def update(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    patch: dict[str, Any],
    *,
    expected_version: int | None = None,
    allow_read_only: bool = False,
    action: str = "update",
    context: dict[str, Any] | None = None,
) -> RecordMixin:
    """Apply a JSON Merge Patch of field values. A patch that changes nothing writes nothing.

    ``context`` is added to the change-log entry (a merge puts its id there)."""
    authz.require(ctx, obj, "edit")
    check_version(ctx, obj, record, expected_version)
    sch = schema_for(ctx.workspace, obj)
    before = field_values(sch, queries.get_snapshot(ctx, obj, record))
    [d] = clean_drafts(ctx, obj, [patch], [before], allow_read_only=allow_read_only)
    prepare(ctx, obj, [d], creating=False)
    if not d.ok:
        error = d.fail()
        error.object, error.record_id = obj, record.id
        raise error
    d.context.update(context or {})
    changes = _diff(before, d.after)
    if not changes:
        return record
    now = ctx.now()
    if obj in ("deal", "case") and ("stage" in changes or "pipeline" in changes):
        d.set("stage_entered_at", now)
    if obj == "task" and "status" in changes:
        d.set("completed_at", now if d.after["status"] == "done" else None)
    changes = _diff(before, d.after)
    _run_before_hooks(ctx, obj, [(d, record.id, action)])
    if d.error is not None:
        d.error.object, d.error.record_id = obj, record.id
        raise d.error

    model = model_for(obj)
    version = record.version + 1
    cols = column_values(
        sch, {k: v for k, v in d.values.items() if k in changes}, dict(record.custom)
    )
    cols.update(_maintained(obj, changes, now))
    result = ctx.session.execute(
        sql_update(model)
        .where(model.id == record.id, model.version == record.version)
        .values(**cols, version=version, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        fresh = queries.get(ctx, obj, record.id)
        check_version(ctx, obj, fresh, record.version)
    _replace_link_sets(ctx, obj, record.id, changes)
    chain.append(ctx, [chain.Entry(obj, record.id, action, changes, version, d.context)])
    _run_after_hooks(ctx, [RecordChange(obj, record.id, action, changes, d.after, version)])
    return queries.get(ctx, obj, record.id)


def _maintained(obj: str, changes: dict[str, list[Any]], now: Any) -> dict[str, Any]:
    """Columns Plumb keeps beside the fields a write changes: a deal's ``figures_changed_at``
    moves when its amount or close date does (what the stale check reads)."""
    if obj == "deal" and ("amount" in changes or "close_date" in changes):
        return {"figures_changed_at": now}
    return {}


def _replace_link_sets(ctx: Ctx, obj: str, record_id: str, changes: dict[str, list[Any]]) -> None:
    if obj == "deal" and "contacts" in changes:
        ctx.session.execute(delete(DealContact).where(DealContact.deal_id == record_id))
        rows = [{"deal_id": record_id, **item} for item in changes["contacts"][1]]
        if rows:
            ctx.session.execute(insert(DealContact), rows)
    if obj == "activity" and "links" in changes:
        ctx.session.execute(delete(ActivityLink).where(ActivityLink.activity_id == record_id))
        rows = [
            {"activity_id": record_id, "record_type": i["type"], "record_id": i["id"]}
            for i in changes["links"][1]
        ]
        if rows:
            ctx.session.execute(insert(ActivityLink), rows)


def move_stage(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    stage: str,
    *,
    values: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> RecordMixin:
    """Move to ``stage``, filling ``values`` in the same write (the fields the gate asks for)."""
    key = stage_field(obj)
    if key is None:
        raise ValidationFailed(f"{obj} records have no stage", object=obj, record_id=record.id)
    return update(
        ctx, obj, record, {**(values or {}), key: stage}, expected_version=expected_version
    )


def link(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    item: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> RecordMixin:
    """Add a contact to a deal ({contact_id, role}) or a record to an activity ({type, id})."""
    name = _link_field(obj, record)
    current = queries.get_snapshot(ctx, obj, record)[name]
    key = "contact_id" if name == "contacts" else None
    kept = [i for i in current if (i[key] != str(item.get(key, "")).upper() if key else i != item)]
    return update(
        ctx, obj, record, {name: [*kept, item]}, expected_version=expected_version, action="link"
    )


def unlink(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    target_id: str,
    target_type: str | None = None,
    *,
    expected_version: int | None = None,
) -> RecordMixin:
    name = _link_field(obj, record)
    current = queries.get_snapshot(ctx, obj, record)[name]
    target_id = target_id.strip().upper()
    if name == "contacts":
        kept = [i for i in current if i["contact_id"] != target_id]
    else:
        kept = [
            i
            for i in current
            if not (i["id"] == target_id and (target_type is None or i["type"] == target_type))
        ]
    if len(kept) == len(current):
        raise NotFound(f"{target_id} is not linked to this {obj}", object=obj, record_id=record.id)
    return update(
        ctx, obj, record, {name: kept}, expected_version=expected_version, action="unlink"
    )


def _link_field(obj: str, record: RecordMixin) -> str:
    if obj == "deal":
        return "contacts"
    if obj == "activity":
        return "links"
    raise ValidationFailed(f"{obj} records have no links", object=obj, record_id=record.id)


# -- archive and restore --------------------------------------------------------------------------


def archive(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
    context: dict[str, Any] | None = None,
) -> RecordMixin:
    """Take a record out of the working set. Nothing is deleted; ``restore`` brings it back."""
    authz.require(ctx, obj, "archive")
    check_version(ctx, obj, record, expected_version)
    if record.archived:
        return record
    return _set_archived(ctx, obj, record, True, (reason or "").strip()[:500] or None, context)


def restore(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    *,
    expected_version: int | None = None,
    context: dict[str, Any] | None = None,
) -> RecordMixin:
    authz.require(ctx, obj, "archive")
    check_version(ctx, obj, record, expected_version)
    if not record.archived:
        return record
    return _set_archived(ctx, obj, record, False, None, context)


def _set_archived(
    ctx: Ctx,
    obj: str,
    record: RecordMixin,
    archived: bool,
    reason: str | None,
    context: dict[str, Any] | None = None,
) -> RecordMixin:
    model = model_for(obj)
    now = ctx.now()
    version = record.version + 1
    candidates: dict[str, list[Any]] = {
        "archived": [record.archived, archived],
        "archive_reason": [record.archive_reason, reason],
    }
    changes = {k: v for k, v in candidates.items() if v[0] != v[1]}
    result = ctx.session.execute(
        sql_update(model)
        .where(model.id == record.id, model.version == record.version)
        .values(
            archived=archived,
            archived_at=now if archived else None,
            archive_reason=reason,
            version=version,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        check_version(ctx, obj, queries.get(ctx, obj, record.id), record.version)
    action = "archive" if archived else "restore"
    chain.append(ctx, [chain.Entry(obj, record.id, action, changes, version, dict(context or {}))])
    snap = queries.get_snapshot(ctx, obj, queries.get(ctx, obj, record.id))
    _run_after_hooks(ctx, [RecordChange(obj, record.id, action, changes, snap, version)])
    return queries.get(ctx, obj, record.id)


# -- merge support: moving references and putting values back -----------------------------------


def write_values(
    ctx: Ctx,
    obj: str,
    record_id: str,
    values: dict[str, Any],
    *,
    action: str,
    context: dict[str, Any],
) -> dict[str, list[Any]]:
    """Write field values a record held before, or references moved from one record to
    another, as stored: the values are coerced to their column form but not validated again
    (no stage gate, reference or permission checks), because each was valid where it was
    stored. Merges use it to point children at the survivor and undo to put everything back;
    the caller authorizes the whole merge. The record is read whoever may see it: a merge
    moves every reference, not only those the actor sees. Returns the changes written."""
    sch = schema_for(ctx.workspace, obj)
    model = model_for(obj)
    record = ctx.session.scalars(
        select(model)
        .where(model.id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    before = field_values(sch, queries.get_snapshot(ctx, obj, record))
    clean, issues, _ = sch.clean(values, allow_read_only=True)
    if issues:
        raise ValidationFailed(
            "the stored values could not be written back",
            object=obj,
            record_id=record_id,
            issues=issues,
        )
    after = dict(before)
    after.update({k: to_json(v) for k, v in clean.items()})
    changes = _diff(before, after)
    if not changes:
        return {}
    version = record.version + 1
    cols = column_values(sch, {k: v for k, v in clean.items() if k in changes}, dict(record.custom))
    cols.update(_maintained(obj, changes, ctx.now()))
    result = ctx.session.execute(
        sql_update(model)
        .where(model.id == record.id, model.version == record.version)
        .values(**cols, version=version, updated_at=ctx.now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        check_version(ctx, obj, queries.get(ctx, obj, record.id), record.version)
    _replace_link_sets(ctx, obj, record.id, changes)
    chain.append(ctx, [chain.Entry(obj, record.id, action, changes, version, dict(context))])
    _run_after_hooks(ctx, [RecordChange(obj, record.id, action, changes, after, version)])
    return changes
