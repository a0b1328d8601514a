"""Between ORM rows and field values.

``snapshot`` gives a record's JSON form (what the API returns and history compares);
``column_values`` turns cleaned field values into the columns to write. Link-set fields (deal
contacts, activity links) live in join tables and are loaded in one query per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plumb.models import RECORD_MODELS, ActivityLink, DealContact
from plumb.models.base import RecordMixin
from plumb.records.fields import ObjectSchema, to_json
from plumb.workspace.standard import META_KEYS, FieldType

Links = dict[str, dict[str, list[dict[str, Any]]]]
"""record id -> link-set field name -> items."""


def model_for(obj: str) -> type[RecordMixin]:
    return RECORD_MODELS[obj]


def load_links(session: Session, obj: str, ids: Iterable[str]) -> Links:
    ids = list(ids)
    out: Links = defaultdict(dict)
    if not ids:
        return out
    if obj == "deal":
        rows = session.execute(
            select(DealContact.deal_id, DealContact.contact_id, DealContact.role)
            .where(DealContact.deal_id.in_(ids))
            .order_by(DealContact.deal_id, DealContact.contact_id)
        )
        for deal_id, contact_id, role in rows:
            out[deal_id].setdefault("contacts", []).append({"contact_id": contact_id, "role": role})
    elif obj == "activity":
        rows = session.execute(
            select(ActivityLink.activity_id, ActivityLink.record_type, ActivityLink.record_id)
            .where(ActivityLink.activity_id.in_(ids))
            .order_by(ActivityLink.activity_id, ActivityLink.record_type, ActivityLink.record_id)
        )
        for activity_id, record_type, record_id in rows:
            out[activity_id].setdefault("links", []).append({"type": record_type, "id": record_id})
    return out


def field_json(schema: ObjectSchema, record: RecordMixin, name: str, links: Links) -> Any:
    spec = schema[name]
    if spec.custom:
        value = record.custom.get(name)
        return spec.empty() if value is None else value
    if spec.is_link_set:
        return links.get(record.id, {}).get(name, [])
    if spec.type == FieldType.RECORD_ANY:
        kind, ident = getattr(record, "record_type", None), getattr(record, "record_id", None)
        return {"type": kind, "id": ident} if kind and ident else None
    value = getattr(record, name)
    if spec.many and value is None:
        return []
    return to_json(value)


def snapshot(schema: ObjectSchema, record: RecordMixin, links: Links) -> dict[str, Any]:
    """The record's JSON form: meta keys, then every field."""
    out: dict[str, Any] = {"object": schema.object}
    for key in META_KEYS:
        out[key] = to_json(getattr(record, key))
    for name in schema.fields:
        out[name] = field_json(schema, record, name, links)
    if schema.object == "contact":
        out["email"] = out["emails"][0] if out["emails"] else None
        out["phone"] = out["phones"][0] if out["phones"] else None
    return out


def field_values(schema: ObjectSchema, snap: dict[str, Any]) -> dict[str, Any]:
    """Only the fields of a snapshot (what history compares)."""
    return {name: snap[name] for name in schema.fields}


def column_values(
    schema: ObjectSchema, values: dict[str, Any], custom: dict[str, Any]
) -> dict[str, Any]:
    """Columns for cleaned values (Python form). ``custom`` is the full custom dict to store."""
    out: dict[str, Any] = {}
    touched_custom = False
    for name, value in values.items():
        spec = schema[name]
        if spec.custom:
            touched_custom = True
            if value is None or value == []:
                custom.pop(name, None)
            else:
                custom[name] = to_json(value)
        elif spec.is_link_set:
            continue
        elif spec.type == FieldType.RECORD_ANY:
            out["record_type"] = value["type"] if value else None
            out["record_id"] = value["id"] if value else None
        else:
            out[name] = value
            if name == "emails":
                out["email"] = value[0].lower() if value else None
            elif name == "phones":
                out["phone"] = value[0] if value else None
    if touched_custom:
        out["custom"] = custom
    return out
