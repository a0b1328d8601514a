"""Roles: what each kind of user may do, see and edit. Declared in the workspace definition.

A role lists, per object, the actions it may take (``"*"`` as the object applies to every
object not listed), which records it sees (everyone, its team, or only its own), the fields it
may not see or may not edit, and the named permissions it holds for writes only some roles
may make. ``all: true`` grants everything (the administrator).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plumb.workspace.standard import OBJECTS

ACTIONS = ("view", "create", "edit", "archive", "export", "merge", "import", "administer")
Action = Literal["view", "create", "edit", "archive", "export", "merge", "import", "administer"]
Visibility = Literal["everyone", "team", "owner"]
GRANTS = ("change_owner", "move_stage_backwards", "bypass_stage_gate")
Grant = Literal["change_owner", "move_stage_backwards", "bypass_stage_gate"]
Path = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldAccess(_Strict):
    hidden: list[str] = Field(
        default_factory=list, description="Fields this role never sees, anywhere."
    )
    read_only: list[str] = Field(
        default_factory=list, description="Fields it sees but may not edit."
    )


class Role(_Strict):
    label: str = ""
    description: str = ""
    all: bool = Field(False, description="Every action on every object, every field, every record.")
    objects: dict[str, list[Action]] = Field(default_factory=dict)
    visibility: dict[str, Visibility] = Field(
        default_factory=dict, description="Per object (or '*'): everyone (default), team, owner."
    )
    fields: dict[str, FieldAccess] = Field(default_factory=dict)
    grants: list[Grant] = Field(default_factory=list)

    def actions(self, obj: str) -> frozenset[str]:
        if self.all:
            return frozenset(ACTIONS)
        return frozenset(self.objects.get(obj, self.objects.get("*", [])))

    def sees(self, obj: str) -> str:
        if self.all:
            return "everyone"
        return self.visibility.get(obj, self.visibility.get("*", "everyone"))

    def hidden(self, obj: str) -> frozenset[str]:
        if self.all or obj not in self.fields:
            return frozenset()
        return frozenset(self.fields[obj].hidden)

    def read_only(self, obj: str) -> frozenset[str]:
        if self.all or obj not in self.fields:
            return frozenset()
        access = self.fields[obj]
        return frozenset(access.read_only) | frozenset(access.hidden)

    def holds(self, grant: str) -> bool:
        return self.all or grant in self.grants


def role_problems(roles: dict[str, Role], field_names: Any) -> list[tuple[Path, str]]:
    """Cross-references: objects and fields a role names must exist."""
    found: list[tuple[Path, str]] = []
    known = (*OBJECTS, "*")
    for name, role in roles.items():
        for section in ("objects", "visibility", "fields"):
            for obj in getattr(role, section):
                if obj not in known:
                    found.append(
                        (("roles", name, section, obj), f"unknown object {obj!r} in role {name!r}")
                    )
        for obj, access in role.fields.items():
            if obj not in OBJECTS:
                continue
            names = field_names(obj)
            for kind in ("hidden", "read_only"):
                for i, field in enumerate(getattr(access, kind)):
                    if field not in names:
                        found.append(
                            (
                                ("roles", name, "fields", obj, kind, i),
                                f"role {name!r} names unknown {obj} field {field!r}",
                            )
                        )
    return found
