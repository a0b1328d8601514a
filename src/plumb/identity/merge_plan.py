"""Survivorship: which value each field of a merge's survivor takes, and why.

Each field is resolved by the rule the workspace's ``merge:`` section gives it (``most_recent``
by the field's history, ``most_complete``, ``source_priority`` by the source of the value's last
change, ``survivor``), or by the person merging (``choices``); list fields are unioned. Blank
values never win over filled ones. Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.core.errors import FieldIssue, ValidationFailed
from plumb.models import ChangeEntry
from plumb.models.base import RecordMixin
from plumb.records import queries
from plumb.records.fields import ObjectSchema, to_json
from plumb.workspace.standard import PIPELINE_OBJECTS

DERIVED = frozenset({"name_key", "stage_entered_at", "completed_at"})
"""Fields Plumb derives from others on write: never resolved on their own."""


@dataclass
class Resolution:
    """How one field of the survivor is decided."""

    field: str
    value: Any
    rule: str
    record_id: str | None
    """The record whose value survives; None for an explicit value or a union."""
    from_records: list[str] = dataclass_field(default_factory=list)
    """For a union: the records that contributed items."""

    def as_json(self, hidden: frozenset[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "record_id": self.record_id}
        if self.from_records:
            out["from_records"] = self.from_records
        if self.field in hidden:
            out["hidden"] = True
        else:
            out["value"] = self.value
        return out


@dataclass
class MergePlan:
    object: str
    survivor_id: str
    merged_ids: list[str]
    fields: dict[str, Resolution]
    patch: dict[str, Any]
    """The survivor's fields that change: name -> new value."""
    current: dict[str, Any]
    """The survivor's values before the merge."""

    def as_json(self, ctx: Ctx) -> dict[str, Any]:
        hidden = authz.hidden_fields(ctx, self.object)
        return {
            "object": self.object,
            "survivor": self.survivor_id,
            "merged": self.merged_ids,
            "fields": {n: r.as_json(hidden) for n, r in self.fields.items()},
            "changes": {
                n: ({"hidden": True} if n in hidden else [self.current.get(n), v])
                for n, v in self.patch.items()
            },
        }


# -- survivorship ---------------------------------------------------------------------------------


def canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _detail(value: Any) -> int:
    """How much a value says: the length of its text (most complete wins)."""
    return len(value.strip()) if isinstance(value, str) else len(canonical_text(value))


@dataclass
class _Provenance:
    """When each field of each record was last set, and through which source."""

    last: dict[tuple[str, str], tuple[datetime, str]]
    updated: dict[str, datetime]

    def when(self, record_id: str, name: str) -> datetime:
        hit = self.last.get((record_id, name))
        return hit[0] if hit else self.updated[record_id]

    def source(self, record_id: str, name: str) -> str | None:
        hit = self.last.get((record_id, name))
        return hit[1] if hit else None


def _provenance(ctx: Ctx, obj: str, records: list[RecordMixin]) -> _Provenance:
    rows = ctx.session.execute(
        select(ChangeEntry.record_id, ChangeEntry.at, ChangeEntry.source, ChangeEntry.changes)
        .where(ChangeEntry.record_type == obj, ChangeEntry.record_id.in_([r.id for r in records]))
        .order_by(ChangeEntry.at, ChangeEntry.id)
    )
    last: dict[tuple[str, str], tuple[datetime, str]] = {}
    for record_id, at, source, changes in rows:
        for name in changes or {}:
            last[(record_id, name)] = (at, source)
    return _Provenance(last, {r.id: r.updated_at for r in records})


def _union(sch: ObjectSchema, name: str, values: list[tuple[str, Any]]) -> Resolution:
    items: list[Any] = []
    seen: set[str] = set()
    contributors: list[str] = []
    for record_id, value in values:
        for item in value or []:
            if isinstance(item, dict) and "contact_id" in item:
                key = item["contact_id"]
            elif isinstance(item, str):
                key = item.lower()
            else:
                key = canonical_text(item)
            if key in seen:
                continue
            seen.add(key)
            items.append(item)
            if record_id not in contributors:
                contributors.append(record_id)
    return Resolution(name, items, "union", None, contributors)


def _by_rule(
    rule: str,
    name: str,
    candidates: list[tuple[str, Any]],
    survivor_id: str,
    prov: _Provenance,
    priority: list[str],
) -> Resolution:
    """Pick among non-blank candidates (survivor first). Ties go to the earlier candidate."""
    filled = [(rid, v) for rid, v in candidates if not _blank(v)]
    if not filled:
        return Resolution(name, candidates[0][1], rule, survivor_id)
    order = {rid: i for i, (rid, _) in enumerate(candidates)}

    def recency(rid: str) -> tuple[datetime, int]:
        return (prov.when(rid, name), -order[rid])

    if rule == "survivor":
        if filled[0][0] == survivor_id:
            return Resolution(name, filled[0][1], rule, survivor_id)
        rule = "most_recent"
    if rule == "most_complete":
        rid, value = max(filled, key=lambda c: (_detail(c[1]), -order[c[0]]))
    elif rule == "source_priority":

        def rank(c: tuple[str, Any]) -> tuple[int, datetime, int]:
            source = prov.source(c[0], name)
            place = priority.index(source) if source in priority else len(priority)
            return (-place, *recency(c[0]))

        rid, value = max(filled, key=rank)
    else:
        rid, value = max(filled, key=lambda c: recency(c[0]))
    return Resolution(name, value, rule, rid)


def plan_merge(
    ctx: Ctx,
    obj: str,
    survivor: RecordMixin,
    merged: list[RecordMixin],
    choices: dict[str, Any] | None = None,
) -> MergePlan:
    """Resolve every field of the survivor; nothing is written."""
    sch = queries.schema(ctx, obj)
    records = [survivor, *merged]
    snaps = {r.id: s for r, s in zip(records, queries.snapshots(ctx, obj, records), strict=True)}
    current = {n: snaps[survivor.id][n] for n in sch.fields}
    rules = ctx.workspace.merge.rules(obj)
    priority = ctx.workspace.merge.source_priority
    prov = _provenance(ctx, obj, records)
    chosen = _clean_choices(ctx, sch, records, choices or {})

    fields: dict[str, Resolution] = {}
    for name, spec in sch.fields.items():
        if name in DERIVED:
            continue
        candidates = [(r.id, snaps[r.id][name]) for r in records]
        if name in chosen:
            rid, value = chosen[name]
            fields[name] = Resolution(name, value, "chosen", rid)
        elif spec.many:
            fields[name] = _union(sch, name, candidates)
        else:
            fields[name] = _by_rule(rules.rule(name), name, candidates, survivor.id, prov, priority)
    if obj in PIPELINE_OBJECTS and "pipeline" not in chosen:
        # A stage belongs to its pipeline: both come from the same record.
        source_id = fields["stage"].record_id or survivor.id
        fields["pipeline"] = Resolution(
            "pipeline", snaps[source_id]["pipeline"], "with_stage", source_id
        )
    patch = {n: r.value for n, r in fields.items() if r.value != current.get(n)}
    return MergePlan(obj, survivor.id, [m.id for m in merged], fields, patch, current)


def _clean_choices(
    ctx: Ctx, sch: ObjectSchema, records: list[RecordMixin], choices: dict[str, Any]
) -> dict[str, tuple[str | None, Any]]:
    """``{field: record_id}`` takes that record's value; ``{field: value}`` or
    ``{field: {"value": v}}`` sets it outright (cleaned like any input)."""
    ids = {r.id for r in records}
    snaps: dict[str, dict[str, Any]] | None = None
    out: dict[str, tuple[str | None, Any]] = {}
    explicit: dict[str, Any] = {}
    issues: list[FieldIssue] = []
    for name, choice in choices.items():
        if name not in sch.fields or name in DERIVED:
            issues.append(
                FieldIssue(name, "merge_choice", f"{sch.object} has no field {name!r} to choose")
            )
            continue
        if isinstance(choice, str) and choice.strip().upper() in ids:
            if snaps is None:
                found = queries.snapshots(ctx, sch.object, records)
                snaps = {r.id: s for r, s in zip(records, found, strict=True)}
            rid = choice.strip().upper()
            out[name] = (rid, snaps[rid][name])
        elif sch[name].read_only:
            issues.append(
                FieldIssue(
                    name,
                    "merge_choice:read_only",
                    f"{sch[name].label} is maintained by Plumb: choose a record, not a value",
                )
            )
        elif isinstance(choice, dict) and set(choice) == {"value"}:
            explicit[name] = choice["value"]
        else:
            explicit[name] = choice
    if explicit:
        clean, more, _ = sch.clean(explicit, allow_read_only=True)
        issues += [replace(i, rule=f"merge_choice:{i.rule}") for i in more]
        for name, value in clean.items():
            out[name] = (None, to_json(value))
    if issues:
        raise ValidationFailed("a chosen value cannot be used", object=sch.object, issues=issues)
    return out
