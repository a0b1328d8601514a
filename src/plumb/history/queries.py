"""Reading history: a record's entries, and the record as it stood at a point in time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from plumb.access import authz
from plumb.core.clock import isoformat
from plumb.core.context import Ctx
from plumb.core.errors import NotFound
from plumb.models import ChangeEntry
from plumb.records import queries


def entry_json(entry: ChangeEntry, hidden: frozenset[str] | None = None) -> dict[str, Any]:
    changes = entry.changes
    if hidden:
        changes = {k: v for k, v in changes.items() if k not in hidden}
    return {
        "id": entry.id,
        "at": isoformat(entry.at),
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "version": entry.record_version,
        "action": entry.action,
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "label": entry.actor_label},
        "source": entry.source,
        "correlation_id": entry.correlation_id,
        "changes": changes,
        "context": entry.context,
        "note": entry.note,
        "redacted": entry.redacted or [],
    }


def record_entries(
    ctx: Ctx, obj: str, record_id: str, *, after: datetime | None = None
) -> list[ChangeEntry]:
    stmt = select(ChangeEntry).where(
        ChangeEntry.record_type == obj, ChangeEntry.record_id == record_id
    )
    if after is not None:
        stmt = stmt.where(ChangeEntry.at > after)
    return list(ctx.session.scalars(stmt.order_by(ChangeEntry.at, ChangeEntry.id)))


def record_history(ctx: Ctx, obj: str, record_id: str) -> list[dict[str, Any]]:
    """Every entry about a record, oldest first (404 when the actor may not see the record)."""
    record = queries.get(ctx, obj, record_id, follow_aliases=False)
    readable = authz.readable_fields(ctx, obj)
    hidden = None
    if readable is not None:
        hidden = frozenset(queries.schema(ctx, obj).fields) - readable
    return [entry_json(e, hidden) for e in record_entries(ctx, obj, record.id)]


def as_of(ctx: Ctx, obj: str, record_id: str, at: datetime) -> dict[str, Any]:
    """The record as it stood at ``at``: today's values with every later change undone."""
    record = queries.get(ctx, obj, record_id, follow_aliases=False)
    snap = queries.get_snapshot(ctx, obj, record)
    if record.created_at > at:
        raise NotFound(
            f"{obj} {record.id} did not exist at {isoformat(at)} (created {isoformat(record.created_at)})",
            object=obj,
            record_id=record.id,
        )
    later = record_entries(ctx, obj, record.id, after=at)
    for entry in reversed(later):
        for name, (old, _new) in entry.changes.items():
            if name in snap:
                snap[name] = old
    if obj == "contact":
        snap["email"] = snap["emails"][0] if snap.get("emails") else None
        snap["phone"] = snap["phones"][0] if snap.get("phones") else None
    earlier = ctx.session.scalars(
        select(ChangeEntry)
        .where(
            ChangeEntry.record_type == obj,
            ChangeEntry.record_id == record.id,
            ChangeEntry.at <= at,
            ChangeEntry.record_version.is_not(None),
        )
        .order_by(ChangeEntry.at.desc(), ChangeEntry.id.desc())
        .limit(1)
    ).first()
    if earlier is not None:
        snap["version"] = earlier.record_version
        snap["updated_at"] = isoformat(earlier.at)
    snap["as_of"] = isoformat(at)
    return snap


ADMIN_TYPES = ("user", "team", "token", "workspace")
"""Entries that are not about CRM records: who may do what, and the definition in use."""


def admin_history(ctx: Ctx, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """Every entry about a user, team, token or the workspace definition (administrators)."""
    authz.require_admin(ctx, "read the history of users, teams, tokens and the workspace")
    return [entry_json(e) for e in record_entries(ctx, record_type, record_id.strip().upper())]
