"""The workspace definition (``plumb.yaml``) as pydantic models.

Shape checks live on the models; cross-references (a stage requiring a field that does not
exist, a picklist field naming an unknown picklist) are checked in ``Workspace.problems`` so each
problem carries the path of the offending node, which the loader turns into a line number.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plumb.workspace.checks import CheckSettings, check_problems
from plumb.workspace.matching import Matching, matching_problems
from plumb.workspace.roles import Role, role_problems
from plumb.workspace.rules import AutomationSettings, Routing, Rule, automation_problems
from plumb.workspace.standard import (
    CUSTOM_FIELD_TYPES,
    LIFECYCLE_OBJECTS,
    OBJECTS,
    PIPELINE_OBJECTS,
    RESERVED_NAMES,
    STANDARD_FIELDS,
    FieldType,
)
from plumb.workspace.survivorship import MergeSettings
from plumb.workspace.webhooks import Webhooks

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]
ValueKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=100)]
Path = tuple[str | int, ...]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _title(key: str) -> str:
    return key.replace("_", " ").capitalize()


class PicklistValue(Strict):
    key: ValueKey
    label: str = ""
    definition: str = Field("", description="What this value means, in a sentence people agree on.")
    synonyms: list[str] = Field(default_factory=list)

    def model_post_init(self, _context: Any) -> None:
        if not self.label:
            object.__setattr__(self, "label", _title(self.key))


class Picklist(Strict):
    label: str = ""
    values: list[PicklistValue] = Field(min_length=1)


class Stage(Strict):
    key: Key
    label: str = ""
    definition: str = ""
    required_fields: list[str] = Field(default_factory=list)
    probability: float | None = Field(None, ge=0, le=1)
    outcome: Literal["open", "won", "lost"] = "open"
    in_funnel: bool = True
    """A lifecycle stage outside the progression (``other``: a partner, a journalist) says
    False: the funnel report neither shows it nor counts a move into it as going on."""

    def model_post_init(self, _context: Any) -> None:
        if not self.label:
            object.__setattr__(self, "label", _title(self.key))


class Pipeline(Strict):
    key: Key
    label: str = ""
    stages: list[Stage] = Field(min_length=1)

    def model_post_init(self, _context: Any) -> None:
        if not self.label:
            object.__setattr__(self, "label", _title(self.key))

    def stage(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)


class CustomField(Strict):
    name: Key
    type: FieldType
    label: str = ""
    description: str = ""
    required: bool = False
    picklist: str | None = None
    target: str | None = Field(None, description="For type record: the object it points to.")
    personal: bool = Field(False, description="Personal data, removed by `plumb erase`.")

    @field_validator("type", mode="before")
    @classmethod
    def _custom_type(cls, value: Any) -> Any:
        if value not in {t.value for t in CUSTOM_FIELD_TYPES}:
            allowed = ", ".join(sorted(t.value for t in CUSTOM_FIELD_TYPES))
            raise ValueError(f"unknown field type {value!r}; custom fields take one of: {allowed}")
        return value

    def model_post_init(self, _context: Any) -> None:
        if not self.label:
            object.__setattr__(self, "label", _title(self.name))


class ObjectDefinition(Strict):
    fields: list[CustomField] = Field(default_factory=list)


class Pipelines(Strict):
    deal: list[Pipeline] = Field(default_factory=list)
    case: list[Pipeline] = Field(default_factory=list)


class WorkspaceSettings(Strict):
    name: str = "Plumb"
    default_region: str = Field(
        "US", pattern=r"^[A-Z]{2}$", description="ISO country code used to read local numbers."
    )
    default_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"


Policy = Literal["refuse", "keep"]
KeepableType = Literal["email", "phone", "url", "domain", "country", "region"]


class HygieneSettings(Strict):
    """What happens to a value Plumb cannot standardize (an impossible phone number, a country
    it does not know): ``refuse`` the write with an error naming the field, the value and the
    rule, or ``keep`` the value as typed and record the field and rule in the change log."""

    on_unstandardizable: Policy = "refuse"
    per_type: dict[KeepableType, Policy] = Field(
        default_factory=dict, description="Overrides by field type, e.g. {phone: keep}."
    )

    def policy(self, field_type: str) -> Policy:
        """The policy for values of ``field_type`` (a FieldType value)."""
        for kind, policy in self.per_type.items():
            if kind == field_type:
                return policy
        return self.on_unstandardizable


class Workspace(Strict):
    """The whole definition. Later capabilities add their own sections here."""

    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    hygiene: HygieneSettings = Field(default_factory=HygieneSettings)
    picklists: dict[Key, Picklist] = Field(default_factory=dict)
    lifecycle_stages: list[Stage] = Field(default_factory=list)
    pipelines: Pipelines = Field(default_factory=Pipelines)
    objects: dict[str, ObjectDefinition] = Field(default_factory=dict)
    roles: dict[Key, Role] = Field(default_factory=dict)
    merge: MergeSettings = Field(default_factory=MergeSettings)
    rules: list[Rule] = Field(default_factory=list)
    routing: dict[Key, Routing] = Field(default_factory=dict)
    automation: AutomationSettings = Field(default_factory=AutomationSettings)
    integrity_owner: str | None = Field(
        None, description="The e-mail of the person accountable for pipeline integrity."
    )
    webhooks: Webhooks = Field(default_factory=Webhooks)
    matching: Matching = Field(default_factory=dict)
    checks: CheckSettings = Field(default_factory=CheckSettings)

    # -- lookups -------------------------------------------------------------------------------

    def pipelines_for(self, obj: str) -> list[Pipeline]:
        return list(getattr(self.pipelines, obj, []))

    def pipeline(self, obj: str, key: str) -> Pipeline | None:
        return next((p for p in self.pipelines_for(obj) if p.key == key), None)

    def lifecycle_stage(self, key: str) -> Stage | None:
        return next((s for s in self.lifecycle_stages if s.key == key), None)

    def custom_fields(self, obj: str) -> list[CustomField]:
        definition = self.objects.get(obj)
        return list(definition.fields) if definition else []

    def field_names(self, obj: str) -> set[str]:
        names = {f.name for f in STANDARD_FIELDS[obj]}
        names |= {f.name for f in self.custom_fields(obj)}
        if obj == "contact":
            names |= {"email", "phone", "name"}
        return names

    # -- cross-reference checks ----------------------------------------------------------------

    def problems(self) -> list[tuple[Path, str]]:
        found: list[tuple[Path, str]] = []
        for obj, definition in self.objects.items():
            if obj not in OBJECTS:
                found.append(
                    (("objects", obj), f"unknown object {obj!r}; objects are {', '.join(OBJECTS)}")
                )
                continue
            found += self._field_problems(obj, definition)
        for name, picklist in self.picklists.items():
            found += _picklist_problems(name, picklist)
        found += role_problems(self.roles, self.field_names)
        found += self.merge.problems(self.field_names)
        found += automation_problems(self)
        found += matching_problems(
            self.matching, {o: {f.name: f.type for f in d.fields} for o, d in self.objects.items()}
        )
        found += check_problems(self)
        found += _stage_list_problems(("lifecycle_stages",), self.lifecycle_stages)
        for i, stage in enumerate(self.lifecycle_stages):
            for obj in LIFECYCLE_OBJECTS:
                found += self._required_problems(("lifecycle_stages", i), stage, obj, strict=False)
        for obj in PIPELINE_OBJECTS:
            pipelines = self.pipelines_for(obj)
            if not pipelines:
                found.append((("pipelines",), f"at least one {obj} pipeline is needed"))
            keys = [p.key for p in pipelines]
            for i, pipe in enumerate(pipelines):
                if keys.count(pipe.key) > 1:
                    found.append((("pipelines", obj, i, "key"), f"pipeline {pipe.key!r} twice"))
                found += _stage_list_problems(("pipelines", obj, i, "stages"), pipe.stages)
                for j, stage in enumerate(pipe.stages):
                    path = ("pipelines", obj, i, "stages", j)
                    found += self._required_problems(path, stage, obj, strict=True)
        return found

    def _field_problems(self, obj: str, definition: ObjectDefinition) -> list[tuple[Path, str]]:
        found: list[tuple[Path, str]] = []
        standard = {f.name for f in STANDARD_FIELDS[obj]}
        seen: set[str] = set()
        for i, cf in enumerate(definition.fields):
            path: Path = ("objects", obj, "fields", i)
            if cf.name in standard or cf.name in RESERVED_NAMES:
                found.append((path + ("name",), f"{cf.name!r} is a standard {obj} field name"))
            if cf.name in seen:
                found.append((path + ("name",), f"field {cf.name!r} is declared twice"))
            seen.add(cf.name)
            if cf.type in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST):
                if not cf.picklist:
                    found.append((path, f"a {cf.type.value} field needs `picklist:`"))
                elif cf.picklist not in self.picklists:
                    found.append((path + ("picklist",), f"no picklist named {cf.picklist!r}"))
            elif cf.picklist:
                found.append((path + ("picklist",), "`picklist:` only goes with picklist types"))
            if cf.type == FieldType.RECORD:
                if cf.target not in OBJECTS:
                    found.append(
                        (path + ("target",), f"a record field needs `target:` one of {OBJECTS}")
                    )
            elif cf.target:
                found.append((path + ("target",), "`target:` only goes with type record"))
        return found

    def _required_problems(
        self, path: Path, stage: Stage, obj: str, *, strict: bool
    ) -> list[tuple[Path, str]]:
        names = self.field_names(obj)
        found: list[tuple[Path, str]] = []
        for k, field_name in enumerate(stage.required_fields):
            if field_name in names:
                continue
            # A lifecycle stage applies to contacts and companies: a field of either is fine.
            if not strict and any(field_name in self.field_names(o) for o in LIFECYCLE_OBJECTS):
                continue
            found.append(
                (
                    path + ("required_fields", k),
                    f"stage {stage.key!r} requires unknown field {field_name!r} of {obj}",
                )
            )
        return found


def _picklist_problems(name: str, picklist: Picklist) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    claimed: dict[str, str] = {}
    for i, value in enumerate(picklist.values):
        for j, word in enumerate([value.key, value.label, *value.synonyms]):
            norm = normalize_word(word)
            owner = claimed.get(norm)
            if owner is not None and owner != value.key and j != 1:
                where: Path = ("picklists", name, "values", i)
                if j >= 2:
                    where = where + ("synonyms", j - 2)
                found.append((where, f"{word!r} would mean both {owner!r} and {value.key!r}"))
            claimed.setdefault(norm, value.key)
    return found


def _stage_list_problems(path: Path, stages: list[Stage]) -> list[tuple[Path, str]]:
    keys = [s.key for s in stages]
    return [
        (path + (i, "key"), f"stage {s.key!r} is declared twice")
        for i, s in enumerate(stages)
        if keys.count(s.key) > 1 and keys.index(s.key) != i
    ]


_WORD = re.compile(r"[^a-z0-9]+")


def normalize_word(word: str) -> str:
    """How picklist words are compared: case, spacing and punctuation do not count."""
    return _WORD.sub(" ", word.casefold()).strip()
