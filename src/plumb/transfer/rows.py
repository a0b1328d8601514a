"""From a file's row to a write: cells to field values, references resolved in batch.

Nothing here writes. Every problem becomes a ``RowProblem`` naming the row, the column, the
value and the rule, so the row is refused whole and reported, never half-landed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, select

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.hygiene import standardize as std
from plumb.models import Company, Contact, ExternalId
from plumb.records.fields import ObjectSchema, schema_for
from plumb.transfer.cells import restore, split_list
from plumb.transfer.mapping import ALIASES, EXTERNAL_ID, Mapping, Target
from plumb.workspace.standard import FieldType

STRUCTURED = (FieldType.DEAL_CONTACTS, FieldType.LINKS, FieldType.PARTICIPANTS)


@dataclass
class RowProblem:
    row: int
    column: str | None
    value: str | None
    rule: str
    message: str


@dataclass
class RowInput:
    row: int
    ext: str
    values: dict[str, Any]
    cells: dict[str, str]
    refs: list[tuple[str, Target, str]] = field(default_factory=list)
    """(column, target, raw value) of references to resolve by external id, name or e-mail."""
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, column: str | None, rule: str, message: str) -> None:
        value = self.cells.get(column or "")
        self.problems.append(RowProblem(self.row, column, value, rule, message))


class RowReader:
    """Turns cells into field values under one mapping."""

    def __init__(self, sch: ObjectSchema, mapping: Mapping, header: list[str]) -> None:
        self.sch = sch
        self.mapping = mapping
        index = {h: i for i, h in enumerate(header)}
        self.columns = [(index[c], c, t) for c, t in mapping.columns.items() if c in index]
        aliases = ALIASES.get(sch.object, {})
        self.field_of = {c: aliases.get(t.field, t.field) for _, c, t in self.columns}

    def read(self, row: int, cells: list[str], fallback_id: str) -> RowInput:
        raw = {c: restore(cells[i].strip()) if i < len(cells) else "" for i, c, _ in self.columns}
        item = RowInput(row, fallback_id, {}, raw)
        for _, column, target in self.columns:
            text = raw[column]
            if target.field == EXTERNAL_ID:
                item.ext = text.strip()  # as stored (a restored cell may start with a tab)
                continue
            name = target.field
            spec = self.sch.fields.get(self.field_of[column])
            if spec is None:
                continue
            if name != spec.name:  # an alias (email, phone, full name): one value
                item.values[name] = text or None
            elif spec.type in STRUCTURED or spec.type == FieldType.RECORD_ANY:
                self._structured(item, column, spec.name, text, spec.many)
            elif spec.many:
                item.values.setdefault(name, [])
                item.values[name] += split_list(text)
            elif target.by != "id" and text:
                item.refs.append((column, target, text))
                item.values[name] = None
            else:
                item.values[name] = text or None
        return item

    def _structured(self, item: RowInput, column: str, name: str, text: str, many: bool) -> None:
        if not text:
            item.values[name] = [] if many else None
            return
        try:
            item.values[name] = json.loads(text)
        except ValueError:
            item.refuse(column, "json", f"{column} must hold JSON as Plumb exports it")


def resolve_references(ctx: Ctx, mapping: Mapping, items: list[RowInput]) -> None:
    """Fill reference fields given by external id, name or e-mail, a batch at a time; in a
    Plumb export, ids inside deal contacts, activity links and task records too."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    from_schema = _targets(ctx, mapping)
    for item in items:
        for column, target, text in item.refs:
            wanted[(from_schema[column], target.by)].add(_key(target.by, text))
    found: dict[tuple[str, str], dict[str, list[str]]] = {}
    for (obj, by), keys in wanted.items():
        found[(obj, by)] = _lookup(ctx, mapping, obj, by, keys)
    for item in items:
        for column, target, text in item.refs:
            obj = from_schema[column]
            hits = found[(obj, target.by)].get(_key(target.by, text), [])
            if len(hits) == 1:
                item.values[target.field] = hits[0]
            elif not hits and mapping.preset == "plumb" and target.by == "external_id":
                item.values[target.field] = text  # a Plumb id of this database
            elif not hits:
                item.refuse(
                    column,
                    "reference",
                    f"no {obj} with {target.by.replace('_', ' ')} {text!r}"
                    + (f" in {mapping.source}" if target.by == "external_id" else ""),
                )
            else:
                item.refuse(
                    column,
                    "ambiguous_reference",
                    f"{len(hits)} {obj} records have {target.by} {text!r}; give an id",
                )
    if mapping.preset == "plumb":
        _translate_plumb_ids(ctx, mapping, items)


def _targets(ctx: Ctx, mapping: Mapping) -> dict[str, str]:
    sch = schema_for(ctx.workspace, mapping.object)
    return {
        c: sch[t.field].target or ""
        for c, t in mapping.columns.items()
        if t.by != "id" and t.field in sch.fields
    }


def _key(by: str, text: str) -> str:
    if by == "name":
        return std.company_key(text) or text.strip().lower()
    if by == "email":
        return text.strip().lower()
    return text.strip()


def _lookup(ctx: Ctx, mapping: Mapping, obj: str, by: str, keys: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if by == "id":
        return {k: [k.upper()] for k in keys}
    if by == "external_id":
        rows = ctx.session.execute(
            select(ExternalId.external_id, ExternalId.record_id).where(
                ExternalId.record_type == obj,
                ExternalId.source == (mapping.source or ""),
                ExternalId.external_id.in_(keys),
            )
        )
        for ext, record_id in rows:
            out[ext].append(record_id)
        return out
    model: Any = Company if by == "name" else Contact
    column = Company.name_key if by == "name" else Contact.email
    stmt = select(column, model.id).where(column.in_(keys), model.archived == false())
    clause = authz.visible(ctx, obj)
    if clause is not None:
        stmt = stmt.where(clause)
    for key, record_id in ctx.session.execute(stmt):
        out[key].append(record_id)
    return out


def _translate_plumb_ids(ctx: Ctx, mapping: Mapping, items: list[RowInput]) -> None:
    """Ids inside a Plumb export's structured cells name records of the database it came
    from; where those records were imported here, use their new ids."""
    refs: dict[str, set[str]] = defaultdict(set)
    for item in items:
        for value in item.values.values():
            for kind, ident in _embedded(mapping.object, value):
                refs[kind].add(ident)
    if not refs:
        return
    known: dict[tuple[str, str], str] = {}
    for kind, ids in refs.items():
        rows = ctx.session.execute(
            select(ExternalId.external_id, ExternalId.record_id).where(
                ExternalId.record_type == kind,
                ExternalId.source == (mapping.source or ""),
                ExternalId.external_id.in_(ids),
            )
        )
        known.update({(kind, ext): rid for ext, rid in rows})
    for item in items:
        for name, value in item.values.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                item.values[name] = [_swap(known, i) for i in value]
            elif isinstance(value, dict):
                item.values[name] = _swap(known, value)


def _embedded(obj: str, value: Any) -> list[tuple[str, str]]:
    items = value if isinstance(value, list) else [value]
    out: list[tuple[str, str]] = []
    for i in items:
        if not isinstance(i, dict):
            continue
        if "contact_id" in i:
            out.append(("contact", str(i["contact_id"])))
        elif "type" in i and "id" in i:
            out.append((str(i["type"]), str(i["id"])))
    return out


def _swap(known: dict[tuple[str, str], str], item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    if "contact_id" in item:
        new = known.get(("contact", str(item["contact_id"])))
        return {**item, "contact_id": new} if new else item
    if "type" in item and "id" in item:
        new = known.get((str(item["type"]), str(item["id"])))
        return {**item, "id": new} if new else item
    return item
