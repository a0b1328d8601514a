"""The ``merge:`` section of the workspace definition: which value survives a merge, per field.

When records are merged, each field of the survivor takes one value from the records merged, by
a rule: ``most_recent`` (the value set last, by the field's history), ``most_complete`` (the
non-blank value with the most detail), ``source_priority`` (the value whose last change came
from the most trusted source, in the order ``source_priority`` lists them) or ``survivor`` (the
survivor's own value while it has one). List fields (a contact's e-mail addresses and phone
numbers, multi-picklists, a deal's contacts) are always unioned. The person merging can choose
any field's value per merge; these are the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plumb.core.actor import Source

Rule = Literal["most_recent", "most_complete", "source_priority", "survivor"]
RULES: tuple[str, ...] = ("most_recent", "most_complete", "source_priority", "survivor")
MERGEABLE = ("contact", "company", "deal", "case")
"""Objects whose records can be merged."""
Path = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectMergeRules(_Strict):
    default: Rule = Field("most_recent", description="The rule for fields not listed.")
    fields: dict[str, Rule] = Field(default_factory=dict, description="Per field: its rule.")

    def rule(self, name: str) -> str:
        return self.fields.get(name, self.default)


class MergeSettings(_Strict):
    source_priority: list[str] = Field(
        default_factory=lambda: ["ui", "api", "cli", "integration", "email", "rule", "import"],
        description="Sources from most to least trusted, for the source_priority rule.",
    )
    objects: dict[str, ObjectMergeRules] = Field(default_factory=dict)

    def rules(self, obj: str) -> ObjectMergeRules:
        return self.objects.get(obj) or ObjectMergeRules()

    def problems(self, field_names: Callable[[str], set[str]]) -> list[tuple[Path, str]]:
        """Cross-references: objects that can be merged, fields that exist, known sources."""
        found: list[tuple[Path, str]] = []
        known = {s.value for s in Source}
        for i, source in enumerate(self.source_priority):
            if source not in known:
                found.append(
                    (
                        ("merge", "source_priority", i),
                        f"unknown source {source!r}; sources are {', '.join(sorted(known))}",
                    )
                )
        for obj, rules in self.objects.items():
            if obj not in MERGEABLE:
                found.append(
                    (("merge", "objects", obj), f"{obj!r} records cannot be merged ({MERGEABLE})")
                )
                continue
            names = field_names(obj)
            for name in rules.fields:
                if name not in names:
                    found.append(
                        (("merge", "objects", obj, "fields", name), f"{obj} has no field {name!r}")
                    )
        return found
