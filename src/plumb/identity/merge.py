"""Merging records of one object into a survivor, and undoing a merge exactly.

A merge runs every change through the operations layer, under the actor with source ``merge``
and the merge's id in each change-log entry's context:

1. each field of the survivor is resolved by a survivorship rule (``plumb.workspace.
   survivorship``: most recent, most complete, source priority, survivor) or by the person's
   choice; list fields are unioned;
2. every reference to a merged record (deal contacts, activity links, tasks, cases, company
   ids, custom record fields) and its external ids are moved to the survivor;
3. the merged records are archived with a reason naming the survivor and the merge, and kept;
   their ids become aliases resolving to the survivor;
4. a ``duplicate`` match decision is written per (survivor, merged) pair.

The ``merges`` row keeps full snapshots from before and what the merge did, so ``undo`` can
put back the merged records, their links and the survivor's fields, keeping whatever changed
on the survivor since.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import String, delete, insert, select, update

from plumb.access import authz
from plumb.core.actor import Source
from plumb.core.clock import isoformat
from plumb.core.context import Ctx
from plumb.core.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from plumb.core.ids import new_id
from plumb.history import chain
from plumb.identity.merge_plan import MergePlan, Resolution, plan_merge
from plumb.models import ExternalId, MatchDecision, Merge, RecordAlias
from plumb.models.base import RecordMixin
from plumb.records import external_ids, queries
from plumb.records import operations as ops
from plumb.workspace.standard import FieldType
from plumb.workspace.survivorship import MERGEABLE

# -- loading and checking -------------------------------------------------------------------------


def _mergeable(obj: str) -> None:
    if obj not in MERGEABLE:
        raise ValidationFailed(
            f"{obj} records cannot be merged",
            object=obj,
            issues=[FieldIssue("object", "merge", f"mergeable objects: {', '.join(MERGEABLE)}")],
        )


def load_records(
    ctx: Ctx,
    obj: str,
    survivor_id: str,
    merged_ids: list[str],
    versions: dict[str, int] | None = None,
    *,
    lock: bool = True,
) -> tuple[RecordMixin, list[RecordMixin]]:
    """The survivor and the records to merge into it, checked and at the versions the caller
    read (when given); locked unless ``lock`` is false (a preview). A record the actor may not
    see is not found."""
    _mergeable(obj)
    authz.require(ctx, obj, "merge")
    survivor_id = survivor_id.strip().upper()
    wanted = [m.strip().upper() for m in merged_ids]
    issues: list[FieldIssue] = []
    if not wanted:
        issues.append(FieldIssue("merged", "merge", "name at least one record to merge"))
    if survivor_id in wanted:
        issues.append(FieldIssue("merged", "merge", "the survivor cannot be merged into itself"))
    repeated = sorted({m for m in wanted if wanted.count(m) > 1})
    if repeated:
        issues.append(FieldIssue("merged", "merge", f"named twice: {', '.join(repeated)}"))
    if issues:
        raise ValidationFailed("the merge is not well formed", object=obj, issues=issues)
    records = [
        queries.get(ctx, obj, ident, for_update=lock, follow_aliases=False)
        for ident in [survivor_id, *wanted]
    ]
    for record in records:
        if record.archived:
            raise ValidationFailed(
                f"{obj} {record.id} is archived ({record.archive_reason or 'no reason given'}); "
                "restore it before merging",
                object=obj,
                record_id=record.id,
                issues=[FieldIssue("archived", "merge", "archived records cannot be merged")],
            )
    known = {r.id for r in records}
    for ident, version in (versions or {}).items():
        key = ident.strip().upper()
        if key not in known:
            raise ValidationFailed(
                f"a version was given for {key}, which is not in this merge",
                object=obj,
                record_id=key,
                issues=[FieldIssue("versions", "merge", "only for records in the merge")],
            )
        ops.check_version(ctx, obj, next(r for r in records if r.id == key), version)
    return records[0], records[1:]


# -- applying -------------------------------------------------------------------------------------


def _merge_ctx(ctx: Ctx) -> Ctx:
    """The same transaction and actor, with ``merge`` as the source of every change."""
    return ctx.derive(actor=replace(ctx.actor, source=Source.MERGE))


def _load(ctx: Ctx, obj: str, record_id: str) -> RecordMixin:
    return queries.get(ctx, obj, record_id, for_update=True, follow_aliases=False)


def _raw(ctx: Ctx, obj: str, record_id: str) -> dict[str, Any]:
    """A record's snapshot whoever may see it (children a merge moves)."""
    model = queries.model_for(obj)
    record = ctx.session.scalars(
        select(model).where(model.id == record_id).execution_options(populate_existing=True)
    ).one()
    return queries.get_snapshot(ctx, obj, record)


def _external_ids(ctx: Ctx, obj: str, record_id: str) -> list[dict[str, Any]]:
    rows = ctx.session.execute(
        select(ExternalId.id, ExternalId.source, ExternalId.external_id)
        .where(ExternalId.record_type == obj, ExternalId.record_id == record_id)
        .order_by(ExternalId.id)
    )
    return [{"row": r.id, "source": r.source, "external_id": r.external_id} for r in rows]


def _repoint(
    ctx: Ctx, obj: str, ref: queries.Reference, old: str, new: str, context: dict[str, Any]
) -> dict[str, Any]:
    """Point one reference at the survivor; returns what undo needs to point it back."""
    sch = queries.schema(ctx, ref.object)
    value = _raw(ctx, ref.object, ref.record_id)[ref.field]
    spec = sch[ref.field]
    move: dict[str, Any] = {"object": ref.object, "id": ref.record_id, "field": ref.field}
    updated: Any
    if spec.type == FieldType.DEAL_CONTACTS:
        item = next(i for i in value if i["contact_id"] == old)
        had = any(i["contact_id"] == new for i in value)
        kept = [i for i in value if i["contact_id"] != old]
        updated = kept if had else [*kept, {"contact_id": new, "role": item.get("role")}]
        move.update(kind="contacts", item=item, survivor_had=had)
    elif spec.type == FieldType.LINKS:
        had = {"type": obj, "id": new} in value
        kept = [i for i in value if i != {"type": obj, "id": old}]
        updated = kept if had else [*kept, {"type": obj, "id": new}]
        move.update(kind="links", survivor_had=had)
    elif spec.type == FieldType.RECORD_ANY:
        updated = {"type": obj, "id": new}
        move.update(kind="ref")
    else:
        updated = new
        move.update(kind="ref")
    ops.write_values(
        ctx, ref.object, ref.record_id, {ref.field: updated}, action="merge_relink", context=context
    )
    move["from"], move["to"] = old, new
    return move


def merge(
    ctx: Ctx,
    obj: str,
    survivor_id: str,
    merged_ids: list[str],
    *,
    choices: dict[str, Any] | None = None,
    versions: dict[str, int] | None = None,
    note: str | None = None,
) -> Merge:
    """Merge ``merged_ids`` into ``survivor_id``. Everything or nothing: the caller's
    transaction rolls back whatever was written when a step is refused."""
    survivor, merged = load_records(ctx, obj, survivor_id, merged_ids, versions)
    plan = plan_merge(ctx, obj, survivor, merged, choices)
    merge_id = new_id()
    mctx = _merge_ctx(ctx)
    context: dict[str, Any] = {"merge_id": merge_id}
    records = [survivor, *merged]
    before = {
        "records": {
            r.id: s for r, s in zip(records, queries.snapshots(ctx, obj, records), strict=True)
        },
        "references": {
            r.id: [
                {"object": ref.object, "id": ref.record_id, "field": ref.field}
                for ref in queries.references_to(ctx, obj, r.id)
            ]
            for r in records
        },
        "external_ids": {r.id: _external_ids(ctx, obj, r.id) for r in records},
    }

    relinks: list[dict[str, Any]] = []
    moved_ids: list[dict[str, Any]] = []
    for m in merged:
        for ref in queries.references_to(mctx, obj, m.id):
            relinks.append(_repoint(mctx, obj, ref, m.id, survivor.id, context))
        rows = [e["row"] for e in _external_ids(mctx, obj, m.id)]
        moved_ids += external_ids.move_external_ids(mctx, obj, rows, survivor.id, context=context)
    for m in merged:
        ops.archive(
            mctx,
            obj,
            _load(mctx, obj, m.id),
            reason=f"merged into {survivor.id} (merge {merge_id})",
            context=context,
        )

    sch = queries.schema(ctx, obj)
    fresh = _load(mctx, obj, survivor.id)
    current = {n: v for n, v in queries.get_snapshot(mctx, obj, fresh).items() if n in sch.fields}
    patch = {n: v for n, v in plan.patch.items() if v != current.get(n)}
    if patch:
        fresh = ops.update(
            mctx,
            obj,
            fresh,
            patch,
            allow_read_only=True,
            action="merge",
            context={**context, "rules": {n: plan.fields[n].rule for n in patch}},
        )
    after = queries.get_snapshot(mctx, obj, fresh)
    survivor_changes = {
        n: [current[n], after[n]] for n in sch.fields if current.get(n) != after.get(n)
    }
    chain.append(
        mctx,
        [
            chain.Entry(
                obj,
                survivor.id,
                "merged",
                {},
                None,
                {**context, "merged": plan.merged_ids},
                note,
            )
        ],
    )

    now = ctx.now()
    actor = ctx.actor
    ctx.session.execute(
        insert(Merge).values(
            id=merge_id,
            object=obj,
            survivor_id=survivor.id,
            merged_ids=plan.merged_ids,
            plan={
                n: {"rule": r.rule, "record_id": r.record_id, "from_records": r.from_records}
                for n, r in plan.fields.items()
            },
            before=before,
            applied={
                "survivor_changes": survivor_changes,
                "relinks": relinks,
                "external_ids": moved_ids,
            },
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_label=actor.label,
            source=actor.source.value,
            correlation_id=ctx.correlation_id,
            created_at=now,
        )
    )
    ctx.session.execute(
        insert(RecordAlias),
        [
            {"object": obj, "alias_id": m.id, "survivor_id": survivor.id, "merge_id": merge_id}
            for m in merged
        ],
    )
    for m in merged:
        a, b = sorted((survivor.id, m.id))
        ctx.session.execute(
            delete(MatchDecision).where(
                MatchDecision.object == obj,
                MatchDecision.record_a == a,
                MatchDecision.record_b == b,
            )
        )
        ctx.session.execute(
            insert(MatchDecision).values(
                id=new_id(),
                object=obj,
                record_a=a,
                record_b=b,
                decision="duplicate",
                merge_id=merge_id,
                actor_kind=actor.kind.value,
                actor_id=actor.id,
                actor_label=actor.label,
                decided_at=now,
                note=note,
            )
        )
    return get_merge(ctx, merge_id)


# -- undo -----------------------------------------------------------------------------------------


def _later_merges(ctx: Ctx, m: Merge) -> list[Merge]:
    """Merges after ``m``, not undone, that merged away one of its records or kept one of
    the records ``m`` merged away as their survivor."""
    rows = ctx.session.scalars(
        select(Merge).where(
            Merge.object == m.object,
            Merge.undone_at.is_(None),
            Merge.id != m.id,
            Merge.created_at >= m.created_at,
        )
    )
    mine = {m.survivor_id, *m.merged_ids}
    return [
        other
        for other in rows
        if (other.created_at, other.id) > (m.created_at, m.id)
        and (mine & set(other.merged_ids) or other.survivor_id in m.merged_ids)
    ]


def _revert_list(old: list[Any], new: list[Any], current: list[Any]) -> list[Any]:
    """The items the merge added to a list, taken out again; later additions stay."""
    if current == new:
        return old
    added = [i for i in new if i not in old]
    return [i for i in current if i not in added]


def _revert_move(ctx: Ctx, obj: str, move: dict[str, Any], context: dict[str, Any]) -> bool:
    """Point a reference the merge moved back at the merged record. False when the child
    no longer names the survivor there (changed since): it is left as it is."""
    value = _raw(ctx, move["object"], move["id"])[move["field"]]
    old, new = move["from"], move["to"]
    restored: Any
    if move["kind"] == "contacts":
        has_new = any(i["contact_id"] == new for i in value)
        if any(i["contact_id"] == old for i in value) or not has_new:
            return False
        kept = value if move["survivor_had"] else [i for i in value if i["contact_id"] != new]
        restored = [*kept, move["item"]]
    elif move["kind"] == "links":
        if {"type": obj, "id": new} not in value or {"type": obj, "id": old} in value:
            return False
        kept = (
            value if move["survivor_had"] else [i for i in value if i != {"type": obj, "id": new}]
        )
        restored = [*kept, {"type": obj, "id": old}]
    elif isinstance(value, dict):
        if value != {"type": obj, "id": new}:
            return False
        restored = {"type": obj, "id": old}
    else:
        if value != new:
            return False
        restored = old
    ops.write_values(
        ctx,
        move["object"],
        move["id"],
        {move["field"]: restored},
        action="merge_undo",
        context=context,
    )
    return True


def undo(ctx: Ctx, merge_id: str) -> dict[str, Any]:
    """Put back what a merge did: the merged records, their links and external ids, and the
    survivor's fields the merge set (unless they changed since, which stay)."""
    m = get_merge(ctx, merge_id)
    obj = m.object
    authz.require(ctx, obj, "merge")
    if m.undone_at is not None:
        raise Conflict(
            f"merge {m.id} was already undone at {isoformat(m.undone_at)} by {m.undone_by}",
            object=obj,
            record_id=m.survivor_id,
            extra={"merge_id": m.id, "rule": "undo_once"},
        )
    later = _later_merges(ctx, m)
    if later:
        names = ", ".join(o.id for o in later)
        raise Conflict(
            f"records of merge {m.id} were merged again later (merge {names}); undo that first",
            object=obj,
            record_id=m.survivor_id,
            rule="undo_order",
            extra={"merge_id": m.id, "later_merges": [o.id for o in later]},
        )
    mctx = _merge_ctx(ctx)
    context: dict[str, Any] = {"merge_id": m.id, "undo": True}
    survivor = _load(mctx, obj, m.survivor_id)
    report: dict[str, Any] = {
        "merge_id": m.id,
        "object": obj,
        "survivor": m.survivor_id,
        "restored": [],
        "already_active": [],
        "fields_reverted": [],
        "fields_kept": {},
        "references_restored": 0,
        "references_kept": [],
        "external_ids_restored": 0,
        "external_ids_kept": [],
    }
    for ident in m.merged_ids:
        record = _load(mctx, obj, ident)
        if not record.archived:
            report["already_active"].append(ident)
            continue
        ops.restore(mctx, obj, record, context=context)
        report["restored"].append(ident)
    ctx.session.execute(delete(RecordAlias).where(RecordAlias.merge_id == m.id))

    for move in m.applied.get("relinks", []):
        if _revert_move(mctx, obj, move, context):
            report["references_restored"] += 1
        else:
            report["references_kept"].append(
                {k: move[k] for k in ("object", "id", "field")}
                | {"reason": "changed since the merge"}
            )
    by_origin: dict[str, list[int]] = {}
    for moved in m.applied.get("external_ids", []):
        at = ctx.session.scalar(select(ExternalId.record_id).where(ExternalId.id == moved["row"]))
        if at != m.survivor_id:
            report["external_ids_kept"].append(
                {"source": moved["source"], "external_id": moved["external_id"], "now_on": at}
            )
            continue
        by_origin.setdefault(moved["from"], []).append(moved["row"])
    for origin, rows in by_origin.items():
        report["external_ids_restored"] += len(
            external_ids.move_external_ids(mctx, obj, rows, origin, context=context)
        )

    sch = queries.schema(ctx, obj)
    survivor = _load(mctx, obj, m.survivor_id)
    current = queries.get_snapshot(mctx, obj, survivor)
    revert: dict[str, Any] = {}
    for name, (old, new) in m.applied.get("survivor_changes", {}).items():
        if name not in sch.fields:
            continue
        now_value = current[name]
        if sch[name].many and isinstance(old, list) and isinstance(new, list):
            target = _revert_list(old, new, now_value)
        elif now_value == new:
            target = old
        else:
            report["fields_kept"][name] = "changed since the merge"
            continue
        if target != now_value:
            revert[name] = target
            report["fields_reverted"].append(name)
        if now_value != new:
            report["fields_kept"][name] = "later additions kept"
    if revert:
        ops.write_values(mctx, obj, m.survivor_id, revert, action="merge_undo", context=context)
    chain.append(
        mctx,
        [
            chain.Entry(
                obj, m.survivor_id, "merge_undone", {}, None, {**context, "merged": m.merged_ids}
            )
        ],
    )
    now = ctx.now()
    ctx.session.execute(
        update(MatchDecision)
        .where(MatchDecision.merge_id == m.id, MatchDecision.decision == "duplicate")
        .values(decision="undone", decided_at=now, actor_label=ctx.actor.label)
    )
    ctx.session.execute(
        update(Merge).where(Merge.id == m.id).values(undone_at=now, undone_by=ctx.actor.label)
    )
    return report


# -- reading --------------------------------------------------------------------------------------


def get_merge(ctx: Ctx, merge_id: str) -> Merge:
    """A merge, or NotFound (also when the actor may not see its object or its survivor)."""
    m = ctx.session.scalars(
        select(Merge)
        .where(Merge.id == merge_id.strip().upper())
        .execution_options(populate_existing=True)
    ).first()
    if m is None:
        raise NotFound(f"no merge {merge_id}", object="merge", record_id=merge_id)
    try:
        queries.get(ctx, m.object, m.survivor_id, follow_aliases=False)
    except NotFound as exc:
        raise NotFound(f"no merge {merge_id}", object="merge", record_id=merge_id) from exc
    return m


def list_merges(
    ctx: Ctx, *, obj: str | None = None, record_id: str | None = None, limit: int = 100
) -> list[Merge]:
    """Merges, newest first, of the objects the actor may view and survivors they may see."""
    objects = [obj] if obj else list(MERGEABLE)
    if obj is not None:
        _mergeable(obj)
        authz.require(ctx, obj, "view")
    objects = [o for o in objects if authz.may(ctx, o, "view")]
    out: list[Merge] = []
    for o in objects:
        stmt = select(Merge).where(Merge.object == o)
        if record_id:
            ident = record_id.strip().upper()
            stmt = stmt.where(
                (Merge.survivor_id == ident)
                | Merge.merged_ids.cast(String).contains(ident, autoescape=True)
            )
        clause = authz.visible(ctx, o)
        if clause is not None:
            model = queries.model_for(o)
            stmt = stmt.where(Merge.survivor_id.in_(select(model.id).where(clause)))
        out += ctx.session.scalars(stmt.order_by(Merge.created_at.desc()).limit(limit))
    out.sort(key=lambda m: (m.created_at, m.id), reverse=True)
    return out[:limit]


def _redact(ctx: Ctx, obj: str, snap: dict[str, Any]) -> dict[str, Any]:
    return dict(authz.redact(ctx, obj, snap))


def merge_json(ctx: Ctx, m: Merge, *, detail: bool = False) -> dict[str, Any]:
    hidden = authz.hidden_fields(ctx, m.object)
    out: dict[str, Any] = {
        "id": m.id,
        "object": m.object,
        "survivor": m.survivor_id,
        "merged": m.merged_ids,
        "actor": {"kind": m.actor_kind, "id": m.actor_id, "label": m.actor_label},
        "source": m.source,
        "created_at": isoformat(m.created_at),
        "undone_at": isoformat(m.undone_at) if m.undone_at else None,
        "undone_by": m.undone_by,
        "fields": {n: r for n, r in m.plan.items() if n not in hidden},
    }
    if detail:
        applied = m.applied
        out["survivor_changes"] = {
            n: v for n, v in applied.get("survivor_changes", {}).items() if n not in hidden
        }
        out["relinks"] = applied.get("relinks", [])
        out["external_ids"] = applied.get("external_ids", [])
        out["before"] = {
            rid: _redact(ctx, m.object, snap) for rid, snap in m.before["records"].items()
        }
    return out


__all__ = [
    "MergePlan",
    "Resolution",
    "get_merge",
    "list_merges",
    "load_records",
    "merge",
    "merge_json",
    "plan_merge",
    "undo",
]
