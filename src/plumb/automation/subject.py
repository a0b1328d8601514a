"""The record a rule is evaluated on, and how its conditions read fields of it, of related
records, of its owner and of the actor whose change set the rule off."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from plumb.automation.conditions import FieldPath
from plumb.core.clock import parse_datetime
from plumb.core.context import Ctx
from plumb.models import Team, User
from plumb.records import queries
from plumb.records.rows import model_for
from plumb.workspace.rules import field_type, relations
from plumb.workspace.standard import FieldType


def python_value(kind: FieldType | None, value: Any) -> Any:
    """A field's JSON value in the form conditions compare: numbers as Decimal, dates as dates."""
    if value is None or value == "":
        return None
    try:
        if kind == FieldType.MONEY:
            amount = value.get("amount") if isinstance(value, dict) else value
            return None if amount is None else Decimal(str(amount))
        if kind == FieldType.NUMBER:
            return Decimal(str(value))
        if kind == FieldType.DATE and isinstance(value, str):
            return date.fromisoformat(value)
        if kind == FieldType.DATETIME and isinstance(value, str):
            return parse_datetime(value)
    except (InvalidOperation, ValueError):
        return value
    return value


@dataclass
class Subject:
    """One record under evaluation. ``values`` is its JSON form (all fields)."""

    obj: str
    record_id: str
    values: dict[str, Any]
    version: int
    _related: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _owner: dict[str, Any] | None = None

    @classmethod
    def load(cls, ctx: Ctx, obj: str, record_id: str) -> Subject | None:
        model = model_for(obj)
        record = ctx.session.scalars(
            select(model).where(model.id == record_id).execution_options(populate_existing=True)
        ).first()
        if record is None:
            return None
        snap = queries.get_snapshot(ctx, obj, record)
        return cls(obj, record_id, snap, record.version)

    def raw(self, ctx: Ctx, path: FieldPath) -> Any:
        """The JSON value at ``path`` (None when blank or when the related record is missing)."""
        head = path[0]
        if len(path) == 1:
            if head == "id":
                return self.record_id
            if head not in self.values:
                fresh = Subject.load(ctx, self.obj, self.record_id)
                if fresh is not None:
                    self.values = {**fresh.values, **self.values}
            return self.values.get(head)
        name = path[1]
        if head == "actor":
            actor = ctx.actor
            return {
                "kind": actor.kind.value,
                "source": actor.source.value,
                "label": actor.label,
                "role": actor.role,
                "user_id": actor.user_id,
            }.get(name)
        if head == "owner":
            owner = self.owner(ctx)
            return owner.get(name) if owner else None
        related = self.related(ctx, head)
        return related.get(name) if related else None

    def lookup(self, ctx: Ctx, path: FieldPath) -> Any:
        """The value at ``path`` in the form conditions compare."""
        value = self.raw(ctx, path)
        if len(path) == 1:
            return python_value(field_type(ctx.workspace, self.obj, path[0]), value)
        target = relations(ctx.workspace, self.obj).get(path[0])
        if target is None:
            return value
        return python_value(field_type(ctx.workspace, target, path[1]), value)

    def related_id(self, ctx: Ctx, relation: str) -> tuple[str, str] | None:
        target = relations(ctx.workspace, self.obj).get(relation)
        if target is None:
            return None
        if self.obj == "activity":
            ident = next(
                (i["id"] for i in self.values.get("links") or [] if i["type"] == target), None
            )
        elif self.obj == "task":
            ref = self.values.get("record") or {}
            ident = ref.get("id") if ref.get("type") == target else None
        else:
            key = f"{relation}_id" if f"{relation}_id" in self.values else relation
            ident = self.values.get(key)
        return (target, ident) if ident else None

    def related(self, ctx: Ctx, relation: str) -> dict[str, Any] | None:
        if relation not in self._related:
            ref = self.related_id(ctx, relation)
            found = Subject.load(ctx, *ref) if ref else None
            self._related[relation] = found.values if found else None
        return self._related[relation]

    def owner(self, ctx: Ctx) -> dict[str, Any] | None:
        owner_id = self.values.get("owner_id")
        if not owner_id:
            return None
        if self._owner is None or self._owner.get("id") != owner_id:
            self._owner = user_info(ctx, owner_id)
        return self._owner


def user_info(ctx: Ctx, user_id: str) -> dict[str, Any] | None:
    row = ctx.session.execute(
        select(User.id, User.email, User.name, User.active, User.role, User.manager_id, Team.name)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        return None
    return {
        "id": row[0],
        "email": row[1],
        "name": row[2],
        "active": row[3],
        "role": row[4],
        "manager_id": row[5],
        "team": row[6],
    }


def user_by_email(ctx: Ctx, email: str) -> dict[str, Any] | None:
    user_id = ctx.session.scalar(select(User.id).where(User.email == email.strip().lower()))
    return user_info(ctx, user_id) if user_id else None


def is_date(value: Any) -> bool:
    return isinstance(value, date | datetime)
