"""Reading records: get, list with filters, sort and keyset cursors.

Every query passes through ``access.authz.visible`` so a record the actor may not see behaves as
absent. Filters arrive as ``field`` / ``field.op`` pairs; values are cleaned by the field's own
coercer, so ``lead_source=web`` finds records whose source is ``website``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from plumb.access import authz
from plumb.core.clock import parse_datetime
from plumb.core.context import Ctx
from plumb.core.db import one_of
from plumb.core.errors import BadRequest, FieldIssue, NotFound, ValidationFailed
from plumb.models import ActivityLink, DealContact, RecordAlias
from plumb.models.base import RecordMixin
from plumb.records.fields import Field, ObjectSchema, schema_for, to_json
from plumb.records.rows import META_KEYS, load_links, model_for, snapshot
from plumb.records.search import search_clause
from plumb.workspace.standard import OBJECTS, FieldType

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "null")
MAX_LIMIT = 500


def schema(ctx: Ctx, obj: str) -> ObjectSchema:
    return schema_for(ctx.workspace, obj)


def _visible(ctx: Ctx, obj: str, stmt: Select[Any]) -> Select[Any]:
    clause = authz.visible(ctx, obj)
    return stmt if clause is None else stmt.where(clause)


def get(
    ctx: Ctx, obj: str, record_id: str, *, for_update: bool = False, follow_aliases: bool = True
) -> RecordMixin:
    """The record with this id, or NotFound (also when the actor may not see it).

    The id of a record merged into another resolves to the survivor (the returned record's id
    then differs from the one asked for); ``follow_aliases=False`` returns the merged-away
    record itself (its own history, the merge's undo)."""
    authz.require(ctx, obj, "view")
    ident = record_id.strip().upper()
    record = _get(ctx, obj, ident, for_update)
    if follow_aliases and (record is None or record.archived):
        survivor = resolve_aliases(ctx.session, obj, {ident}).get(ident)
        if survivor is not None:
            record = _get(ctx, obj, survivor, for_update)
    if record is None:
        raise NotFound(f"no {obj} with id {record_id}", object=obj, record_id=record_id)
    return record


def _get(ctx: Ctx, obj: str, ident: str, for_update: bool) -> RecordMixin | None:
    model = model_for(obj)
    stmt = _visible(ctx, obj, select(model).where(model.id == ident))
    if for_update:
        stmt = stmt.with_for_update()
    return ctx.session.scalars(stmt.execution_options(populate_existing=True)).first()


MAX_ALIAS_HOPS = 50


def resolve_aliases(session: Session, obj: str, ids: set[str]) -> dict[str, str]:
    """For the ids that were merged away: the record they now resolve to, following later
    merges of the survivor too (A into B, then B into C: A resolves to C)."""
    out: dict[str, str] = {}
    pending = {i: i for i in ids}
    for _ in range(MAX_ALIAS_HOPS):
        if not pending:
            break
        rows = dict(
            session.execute(
                select(RecordAlias.alias_id, RecordAlias.survivor_id).where(
                    RecordAlias.object == obj, RecordAlias.alias_id.in_(set(pending.values()))
                )
            ).all()
        )
        pending = {orig: rows[cur] for orig, cur in pending.items() if cur in rows}
        out.update(pending)
    return out


@dataclass(frozen=True)
class Reference:
    """A field of one record that names another record."""

    object: str
    record_id: str
    field: str


def references_to(ctx: Ctx, obj: str, record_id: str) -> list[Reference]:
    """Every field of every record that names this record, whoever may see it (a merge moves
    them all): record fields (a contact's company, a custom field targeting ``obj``), deal
    contacts, activity links and a task's record."""
    out: list[Reference] = []
    for other in OBJECTS:
        model = model_for(other)
        for f in schema(ctx, other).fields.values():
            stmt: Select[Any] | None = None
            if f.type == FieldType.RECORD and f.target == obj:
                col = model.custom[f.name].as_string() if f.custom else getattr(model, f.name)
                stmt = select(model.id).where(col == record_id)
            elif f.type == FieldType.DEAL_CONTACTS and obj == "contact":
                stmt = select(DealContact.deal_id).where(DealContact.contact_id == record_id)
            elif f.type == FieldType.LINKS:
                stmt = select(ActivityLink.activity_id).where(
                    ActivityLink.record_type == obj, ActivityLink.record_id == record_id
                )
            elif f.type == FieldType.RECORD_ANY:
                stmt = select(model.id).where(
                    model.record_type == obj,  # type: ignore[attr-defined]
                    model.record_id == record_id,  # type: ignore[attr-defined]
                )
            if stmt is not None:
                ids = sorted(set(ctx.session.scalars(stmt)))
                out += [Reference(other, i, f.name) for i in ids]
    return out


def get_snapshot(ctx: Ctx, obj: str, record: RecordMixin) -> dict[str, Any]:
    return snapshot(schema(ctx, obj), record, load_links(ctx.session, obj, [record.id]))


def snapshots(ctx: Ctx, obj: str, records: list[RecordMixin]) -> list[dict[str, Any]]:
    links = load_links(ctx.session, obj, [r.id for r in records])
    sch = schema(ctx, obj)
    return [snapshot(sch, r, links) for r in records]


def existing_ids(
    session: Session, obj: str, ids: set[str], *, active_only: bool = True
) -> set[str]:
    if not ids:
        return set()
    model = model_for(obj)
    stmt = select(model.id).where(one_of(session, model.id, ids))
    if active_only:
        stmt = stmt.where(model.archived == false())
    return set(session.scalars(stmt))


# -- listing -------------------------------------------------------------------------------------


@dataclass
class Filter:
    field: str
    op: str
    value: Any


@dataclass
class Page:
    records: list[RecordMixin]
    next_cursor: str | None
    total: int | None = None
    items: list[dict[str, Any]] = field(default_factory=list)


def parse_filters(sch: ObjectSchema, params: list[tuple[str, str]]) -> list[Filter]:
    """``[("lifecycle_stage", "lead"), ("amount.gte", "1000")]`` -> cleaned filters."""
    out: list[Filter] = []
    issues: list[FieldIssue] = []
    for key, raw in params:
        name, _, op = key.partition(".")
        op = op or "eq"
        if op not in OPERATORS:
            issues.append(
                FieldIssue(key, "filter", f"unknown operator {op!r} ({', '.join(OPERATORS)})")
            )
            continue
        if name not in sch and name not in (
            "archived",
            "created_at",
            "updated_at",
            "email",
            "phone",
        ):
            issues.append(FieldIssue(name, "filter", f"{sch.object} has no field {name!r}"))
            continue
        try:
            out.append(Filter(name, op, _filter_value(sch, name, op, raw)))
        except ValueError as exc:
            rule = getattr(exc, "rule", "filter")
            issues.append(FieldIssue(name, rule, str(exc), raw))
    if issues:
        raise ValidationFailed("the filter could not be applied", object=sch.object, issues=issues)
    return out


def _filter_value(sch: ObjectSchema, name: str, op: str, raw: str) -> Any:
    if op == "null":
        return raw.strip().lower() in ("1", "true", "yes")
    if name in ("archived",):
        return raw.strip().lower() in ("1", "true", "yes")
    if name in ("created_at", "updated_at"):
        return parse_datetime(raw)
    if name in ("email", "phone"):
        return _standard_or_typed(sch, name, raw)
    spec = sch[name]
    if op == "in":
        return [_coerce_one(spec, part) for part in raw.split(",") if part.strip()]
    if op == "contains":
        return raw.strip()
    return _coerce_one(spec, raw)


def _standard_or_typed(sch: ObjectSchema, name: str, raw: str) -> str:
    """A filter on an address or a number matches its standard form (``(415) 555-0134`` finds
    ``+14155550134``); a fragment that does not standardize is matched as typed."""
    spec = sch[name] if name in sch else sch[f"{name}s"]
    try:
        value = spec.coerce(raw)
    except ValueError:  # FieldValueError and Unstandardizable: not a whole address or number
        value = None
    if isinstance(value, list):
        value = value[0] if value else None
    out = str(value) if value else raw.strip()
    return out.lower() if name == "email" else out


def _coerce_one(spec: Field, raw: str) -> Any:
    if spec.type in (FieldType.RECORD, FieldType.USER, FieldType.STAGE, FieldType.PIPELINE):
        return raw.strip()
    value = spec.coerce(raw)
    if spec.many and isinstance(value, list):
        return value[0] if value else None
    return value


def _column(
    sch: ObjectSchema, model: type[RecordMixin], name: str, *, numeric: bool = False
) -> Any:
    if name in sch and sch[name].custom:
        element = model.custom[name]
        spec = sch[name]
        if spec.type == FieldType.NUMBER or numeric:
            return element.as_float()
        if spec.type == FieldType.BOOLEAN:
            return element.as_boolean()
        if spec.type == FieldType.MONEY:
            return model.custom[(name, "amount")].as_string()
        return element.as_string()
    return getattr(model, name)


def _condition(
    session: Session, sch: ObjectSchema, model: type[RecordMixin], flt: Filter
) -> ColumnElement[bool]:
    spec = sch.fields.get(flt.field)
    if spec is not None and spec.is_link_set:
        return _link_condition(sch.object, model, flt)
    if spec is not None and spec.many and not spec.custom:
        return _json_list_condition(session, getattr(model, flt.field), flt)
    if spec is not None and spec.type == FieldType.RECORD_ANY:
        raise ValidationFailed(
            "filter a task's record with record_type and record_id",
            object=sch.object,
            issues=[FieldIssue(flt.field, "filter", "not filterable as a whole")],
        )
    col = _column(sch, model, flt.field)
    value = flt.value
    match flt.op:
        case "eq":
            return col.is_(None) if value is None else col == value
        case "ne":
            return or_(col.is_(None), col != value)
        case "gt":
            return col > value
        case "gte":
            return col >= value
        case "lt":
            return col < value
        case "lte":
            return col <= value
        case "in":
            return col.in_(value)
        case "null":
            return col.is_(None) if value else col.is_not(None)
        case "contains":
            return func.lower(col).contains(str(value).lower(), autoescape=True)
    raise BadRequest(f"operator {flt.op} not supported")


def _json_list_condition(session: Session, col: Any, flt: Filter) -> ColumnElement[bool]:
    """Membership in a JSON list column (a contact's emails or phones)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if flt.op == "null":
        length = func.json_array_length(col) if sqlite else func.jsonb_array_length(col)
        empty = func.coalesce(length, 0) == 0
        return empty if flt.value else not_(empty)
    if flt.op not in ("eq", "contains"):
        raise ValidationFailed(
            "list fields take = or .contains",
            issues=[FieldIssue(flt.field, "filter", "unsupported operator")],
        )
    needle = str(flt.value).lower()
    elements = func.json_each(col) if sqlite else func.jsonb_array_elements_text(col)
    each = elements.table_valued("value")
    item = func.lower(each.c.value)
    match = item == needle if flt.op == "eq" else item.contains(needle, autoescape=True)
    return select(1).select_from(each).where(match).exists()


def _link_condition(obj: str, model: type[RecordMixin], flt: Filter) -> ColumnElement[bool]:
    """deals?contacts=ID and activities?links=contact:ID."""
    if flt.op not in ("eq", "contains"):
        raise ValidationFailed(
            "link fields take = only",
            issues=[FieldIssue(flt.field, "filter", "unsupported operator")],
        )
    value = flt.value
    if obj == "deal":
        contact_id = value["contact_id"] if isinstance(value, dict) else str(value).upper()
        return model.id.in_(select(DealContact.deal_id).where(DealContact.contact_id == contact_id))
    if isinstance(value, dict):
        kind, ident = value["type"], value["id"]
    else:
        kind, _, ident = str(value).partition(":")
    return model.id.in_(
        select(ActivityLink.activity_id).where(
            ActivityLink.record_type == kind, ActivityLink.record_id == ident.upper()
        )
    )


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the cursor is not one this server issued") from exc
    if not isinstance(data, list) or len(data) != 3:
        raise BadRequest("the cursor is not one this server issued")
    return data


def filtered(
    ctx: Ctx,
    obj: str,
    *,
    filters: list[Filter] | None = None,
    include_archived: bool = False,
    search: str | None = None,
    sort: str | None = None,
) -> Select[Any]:
    """The records a list shows, before sorting and paging: visible to the actor, live unless
    asked, filtered and searched (a hidden field can be neither filtered nor sorted on)."""
    authz.require(ctx, obj, "view")
    sch = schema(ctx, obj)
    model = model_for(obj)
    hidden = authz.hidden_fields(ctx, obj)
    _refuse_hidden(sch, hidden, [f.field for f in filters or []], sort)
    stmt = _visible(ctx, obj, select(model))
    filters = filters or []
    if not include_archived and not any(f.field == "archived" for f in filters):
        stmt = stmt.where(model.archived == false())
    for flt in filters:
        stmt = stmt.where(_condition(ctx.session, sch, model, flt))
    if search:
        dialect = ctx.session.get_bind().dialect.name
        stmt = stmt.where(search_clause(obj, model, search, hidden, dialect=dialect))
    return stmt


def list_records(
    ctx: Ctx,
    obj: str,
    *,
    filters: list[Filter] | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    include_archived: bool = False,
    count: bool = False,
    search: str | None = None,
) -> Page:
    sch = schema(ctx, obj)
    model = model_for(obj)
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = filtered(
        ctx, obj, filters=filters, include_archived=include_archived, search=search, sort=sort
    )
    total = None
    if count:
        total = ctx.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))

    key, descending = _sort_key(sch, sort)
    col = model.id if key == "id" else _column(sch, model, key)
    # Ascending: (col IS NULL, col, id), blanks last, the same on both databases and what the
    # sort indexes hold (plumb.models.records.SORT_INDEXES); descending is its exact reverse
    # (blanks first), which the same index serves read backwards.
    null_rank = col.is_(None) if key != "id" else None
    if cursor:
        rank, last_value, last_id = _decode_cursor(cursor)
        stmt = stmt.where(
            _after(col, model.id, null_rank, rank, last_value, last_id, descending, key)
        )
    order: list[Any] = []
    if null_rank is not None:
        order.append(null_rank.desc() if descending else null_rank.asc())
    order.append(col.desc() if descending else col.asc())
    if key != "id":  # ties broken by id; ordering by id twice would cost SQLite its fast path
        order.append(model.id.desc() if descending else model.id.asc())
    rows = list(ctx.session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value = last.id if key == "id" else _sort_value(sch, last, key)
        next_cursor = _encode_cursor([1 if value is None else 0, value, last.id])
    return Page(records=rows, next_cursor=next_cursor, total=total)


def _sort_key(sch: ObjectSchema, sort: str | None) -> tuple[str, bool]:
    if not sort:
        return "id", False
    descending = sort.startswith("-")
    key = sort.lstrip("-+")
    sortable = set(META_KEYS) | {
        n
        for n, f in sch.fields.items()
        if not f.many and not f.is_link_set and f.type != FieldType.RECORD_ANY
    }
    if sch.object == "contact":
        sortable |= {"email", "phone"}
    if key not in sortable:
        raise ValidationFailed(
            "cannot sort by that",
            object=sch.object,
            issues=[FieldIssue(key, "sort", f"sortable fields: {', '.join(sorted(sortable))}")],
        )
    return key, descending


def _sort_value(sch: ObjectSchema, record: RecordMixin, key: str) -> Any:
    if key in sch and sch[key].custom:
        value = record.custom.get(key)
        if isinstance(value, dict):
            value = value.get("amount")
        return value
    return to_json(getattr(record, key))


def _as_column_value(col: Any, value: Any) -> Any:
    """A cursor's sort value (JSON) as the column's Python type, for binding."""
    try:
        kind = col.type.python_type
    except (AttributeError, NotImplementedError):
        return value
    if not isinstance(value, str):
        return value
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is Decimal:
        return Decimal(value)
    return value


def _after(
    col: Any,
    id_col: Any,
    null_rank: Any,
    rank: int,
    value: Any,
    last_id: str,
    descending: bool,
    key: str,
) -> ColumnElement[bool]:
    """Rows strictly after the cursor in (null rank, value, id) order."""
    if key == "id":
        return id_col < last_id if descending else id_col > last_id
    if rank:  # the cursor sits among the blanks: last ascending, first descending
        if descending:
            return or_(and_(col.is_(None), id_col < last_id), col.is_not(None))
        return and_(col.is_(None), id_col > last_id)
    # one row-value comparison, which an index on the sort order seeks to; blanks compare as
    # rank 1 against the cursor's 0, so they follow ascending and are behind us descending
    here = tuple_(null_rank, col, id_col)
    there = tuple_(literal(False), literal(_as_column_value(col, value), col.type), last_id)
    return here < there if descending else here > there


def _refuse_hidden(
    sch: ObjectSchema, hidden: frozenset[str], filtered: list[str], sort: str | None
) -> None:
    """Filtering or sorting on a field the actor may not see would reveal its values: it is
    refused exactly like a field that does not exist."""
    names = [*filtered, (sort or "").lstrip("-")]
    denied = [n for n in names if n in hidden]
    if denied:
        raise ValidationFailed(
            "invalid filter",
            object=sch.object,
            issues=[FieldIssue(n, "filter", f"{sch.object} has no field {n!r}") for n in denied],
        )
