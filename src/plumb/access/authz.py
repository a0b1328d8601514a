"""The one place that decides who may do what and see which records and fields.

Every operation and query consults these functions; no interface has checks of its own.

Until the workspace declares roles, every signed-in user and the local operator may do
everything and see every record: the collective-visibility default of a small team.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement

from plumb.core.context import Ctx
from plumb.core.errors import FieldIssue, PermissionDenied, ValidationFailed
from plumb.workspace.standard import META_KEYS

ACTIONS = ("view", "create", "edit", "archive", "export", "merge", "import", "administer")


def require(ctx: Ctx, obj: str, action: str) -> None:
    """Refuse with 403 unless the actor may perform ``action`` on ``obj`` records."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not _scope_allows(ctx, obj, action):
        raise PermissionDenied(f"this token's scopes do not allow {action} on {obj}", object=obj)


def _scope_allows(ctx: Ctx, obj: str, action: str) -> bool:
    scopes = ctx.actor.scopes
    if not scopes:
        return True
    need = "read" if action in ("view", "export") else "write"
    if action == "administer":
        need = "admin"
    granted = {need, f"{need}:{obj}", "admin"}
    if need == "read":
        granted |= {"write", f"write:{obj}"}
    return bool(granted & scopes)


def visible(ctx: Ctx, obj: str) -> ColumnElement[bool] | None:
    """A WHERE clause limiting ``obj`` records to those the actor may see (None: all)."""
    return None


def readable_fields(ctx: Ctx, obj: str) -> frozenset[str] | None:
    """Fields the actor may see (None: all of them)."""
    return None


def check_writable(ctx: Ctx, obj: str, fields: Iterable[str]) -> None:
    """Refuse, naming the fields, when the actor may not edit some of ``fields``."""
    denied = [f for f in fields if not _field_editable(ctx, obj, f)]
    if denied:
        raise ValidationFailed(
            "you may not edit these fields",
            object=obj,
            issues=[FieldIssue(f, "field_permission", "not editable by your role") for f in denied],
        )


def _field_editable(ctx: Ctx, obj: str, field: str) -> bool:
    return True


def redact(ctx: Ctx, obj: str, snap: dict[str, object]) -> dict[str, object]:
    """A record's JSON form without the fields the actor may not see."""
    readable = readable_fields(ctx, obj)
    if readable is None:
        return snap
    return {k: v for k, v in snap.items() if k in readable or k in META_KEYS or k == "object"}
