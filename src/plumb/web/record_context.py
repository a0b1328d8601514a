"""What a record page shows beside its fields: one timeline of field history and activities,
each marked with its source, and the records that point at this one."""

from __future__ import annotations

from typing import Any

from plumb.core.clock import parse_datetime
from plumb.history.queries import record_history
from plumb.records import queries
from plumb.web import lookups
from plumb.web.core import Page
from plumb.web.views import fmt_when, raw_value, record_href, record_label
from plumb.workspace.standard import PLURALS, FieldType


def timeline(page: Page, obj: str, record_id: str, users: dict[str, str]) -> list[dict[str, Any]]:
    """Field history and activities, newest first, each marked with its source."""
    ctx = page.ctx
    sch = queries.schema(ctx, obj)
    items: list[dict[str, Any]] = []
    entries = record_history(ctx, obj, record_id)
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        for name, pair in entry["changes"].items():
            spec = sch.fields.get(name)
            if spec is not None and spec.type == FieldType.RECORD and spec.target:
                wanted.setdefault(spec.target, set()).update(v for v in pair if isinstance(v, str))
    labels = lookups.labels_for(ctx, wanted)
    for entry in entries:
        changes = []
        for name, pair in entry["changes"].items():
            if name not in sch:
                continue
            old, new = pair
            spec = sch[name]
            changes.append(
                {
                    "label": spec.label,
                    "old": _short(spec, old, users, labels),
                    "new": _short(spec, new, users, labels),
                }
            )
        items.append(
            {
                "kind": "change",
                "order": (parse_datetime(entry["at"]), 0, entry["id"]),
                "at": entry["at"],
                "source": entry["source"],
                "actor": entry["actor"]["label"],
                "action": entry["action"],
                "changes": changes,
            }
        )
    if page.may("activity", "view"):
        act_sch = queries.schema(ctx, "activity")
        filters = queries.parse_filters(act_sch, [("links", f"{obj}:{record_id}")])
        found = queries.list_records(
            ctx, "activity", filters=filters, sort="-occurred_at", limit=100
        )
        snaps = [
            lookups.redacted(ctx, "activity", s)
            for s in queries.snapshots(ctx, "activity", found.records)
        ]
        created = lookups.creations(ctx, "activity", [s["id"] for s in snaps])
        for snap in snaps:
            source, seq = created.get(snap["id"], ("ui", 0))
            items.append(
                {
                    "kind": "activity",
                    "order": (parse_datetime(snap["occurred_at"]), 1, seq),
                    "at": snap["occurred_at"],
                    "source": source,
                    "actor": users.get(snap.get("owner_id") or "", ""),
                    "type": snap["type"],
                    "subject": snap.get("subject") or "",
                    "body": snap.get("body") or "",
                    "id": snap["id"],
                }
            )
    # Newest first. At the same moment: activities before field changes, and within each the
    # later change-log entry (by its sequence: an activity's is its creation's) first.
    items.sort(key=lambda i: i["order"], reverse=True)
    return items


def _short(spec: Any, value: Any, users: dict[str, str], labels: dict[tuple[str, str], str]) -> str:
    """A value in a timeline entry, as a person reads it."""
    if value is None or value == []:
        return "—"
    if spec.type == FieldType.USER:
        return users.get(str(value), str(value))
    if spec.type == FieldType.RECORD and spec.target:
        return labels.get((spec.target, str(value)), str(value))
    if spec.type == FieldType.DATETIME:
        return fmt_when(value)
    return raw_value(spec, value).replace("\n", ", ")


def related(page: Page, obj: str, record_id: str) -> list[dict[str, Any]]:
    """Groups of records that point at this one."""
    wanted: list[tuple[str, str, str]] = []
    if obj == "contact":
        wanted = [("deal", "contacts", "Deals"), ("case", "contact_id", "Cases")]
    elif obj == "company":
        wanted = [
            ("contact", "company_id", "Contacts"),
            ("deal", "company_id", "Deals"),
            ("case", "company_id", "Cases"),
        ]
    out = []
    ctx = page.ctx
    for other, field, title in wanted:
        if not page.may(other, "view"):
            continue
        filters = queries.parse_filters(queries.schema(ctx, other), [(field, record_id)])
        found = queries.list_records(ctx, other, filters=filters, limit=20)
        snaps = [
            lookups.redacted(ctx, other, s) for s in queries.snapshots(ctx, other, found.records)
        ]
        out.append(
            {
                "title": title,
                "records": [
                    {"href": record_href(other, s["id"]), "label": record_label(other, s)}
                    for s in snaps
                ],
                "more": found.next_cursor is not None,
                "list": f"/{PLURALS[other]}?{field}={record_id}",
            }
        )
    return out
