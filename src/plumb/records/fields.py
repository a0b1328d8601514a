"""Fields of an object: standard and custom together, each with a compiled coercer.

``ObjectSchema.clean`` turns raw input (API JSON, CLI strings, import cells) into the values
Plumb stores, standardizing as it goes, and collects every problem as a ``FieldIssue`` naming
the field and the rule (the coercers themselves are in ``plumb.records.coerce``). Values that the
workspace's ``keep`` policy stores unstandardized are reported beside the clean values. Values
have two forms: the Python form (``Decimal``, ``date``) held on the ORM row, and the JSON form
(strings for decimals and dates) used in the API and history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from plumb.core.clock import isoformat
from plumb.core.errors import FieldIssue
from plumb.hygiene import standardize as std
from plumb.records.coerce import Coercer, FieldValueError, Kept, coercer_for, text_coercer
from plumb.workspace.schema import CustomField, Workspace
from plumb.workspace.standard import STANDARD_FIELDS, FieldSpec, FieldType

MISSING: Any = object()


REFERENCE_TYPES = frozenset(
    {
        FieldType.RECORD,
        FieldType.USER,
        FieldType.DEAL_CONTACTS,
        FieldType.LINKS,
        FieldType.RECORD_ANY,
    }
)
"""Field types whose values name other records or users."""


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    label: str
    custom: bool
    required: bool = False
    picklist: str | None = None
    target: str | None = None
    choices: tuple[str, ...] = ()
    many: bool = False
    personal: bool = False
    read_only: bool = False
    description: str = ""
    coerce: Coercer = field(default=lambda v: v, compare=False, repr=False)
    is_link_set: bool = field(init=False, compare=False, repr=False)
    """Kept in a join table rather than a column (deal contacts, activity links)."""

    def __post_init__(self) -> None:
        # computed once: every write asks it of every field
        link_set = self.type in (FieldType.DEAL_CONTACTS, FieldType.LINKS)
        object.__setattr__(self, "is_link_set", link_set)

    def empty(self) -> Any:
        return [] if self.many else None


class ObjectSchema:
    """The fields of one object under one workspace definition."""

    def __init__(self, obj: str, fields: list[Field], workspace: Workspace) -> None:
        self.object = obj
        self.fields = {f.name: f for f in fields}
        self.workspace = workspace
        self.personal = [f.name for f in fields if f.personal]
        self.custom_names = frozenset(f.name for f in fields if f.custom)
        self.link_sets = [f.name for f in fields if f.is_link_set]
        self.reference_fields = frozenset(f.name for f in fields if f.type in REFERENCE_TYPES)
        self.phone_fields = frozenset(f.name for f in fields if f.type == FieldType.PHONE)
        self._blank: dict[str, Any] = {f.name: None for f in fields}
        self._many = tuple(f.name for f in fields if f.many)
        self._phone_coercers: dict[tuple[str, str], Coercer] = {}

    def empty_record(self) -> dict[str, Any]:
        """Every field's empty value (``Field.empty``), in field order: a new record's start."""
        out = dict(self._blank)
        for name in self._many:
            out[name] = []
        return out

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def clean(
        self, raw: dict[str, Any], *, allow_read_only: bool = False, country: str | None = None
    ) -> tuple[dict[str, Any], list[FieldIssue], dict[str, str]]:
        """Coerce the given fields. Unknown and read-only names are issues, never dropped.

        Phone numbers without a country code are read in the record's country: the one given
        here, else ``country`` (the record's stored country), else the workspace's default
        region. The third result names the fields whose value was kept as typed under the
        workspace's ``keep`` policy, with the rule it failed."""
        values: dict[str, Any] = {}
        issues: list[FieldIssue] = []
        kept: dict[str, str] = {}
        region, country_value = self._region(raw, country)
        for name, value in raw.items():
            spec = self.fields.get(name)
            if spec is None:
                issues.append(
                    FieldIssue(name, "unknown_field", f"{self.object} has no field {name!r}")
                )
                continue
            if spec.read_only and not allow_read_only:
                issues.append(FieldIssue(name, "read_only", f"{spec.label} is maintained by Plumb"))
                continue
            if value is None or value == "" or (spec.many and value == []):
                values[name] = spec.empty()
                continue
            coerce = spec.coerce
            if region is not None and spec.type == FieldType.PHONE:
                coerce = self._phone_coercer(spec, region)
            try:
                clean = country_value if name == "country" and country_value else coerce(value)
            except FieldValueError as exc:
                issues.append(FieldIssue(name, exc.rule, exc.message, _printable(value)))
                continue
            except std.Unstandardizable as exc:
                issues.append(FieldIssue(name, exc.rule, exc.message, _printable(value)))
                continue
            if isinstance(clean, Kept):
                kept[name], clean = clean.rule, str(clean)
            elif isinstance(clean, list) and any(isinstance(v, Kept) for v in clean):
                kept[name] = next(v.rule for v in clean if isinstance(v, Kept))
                clean = [str(v) if isinstance(v, Kept) else v for v in clean]
            values[name] = clean
        return values, issues, kept

    def _region(self, raw: dict[str, Any], country: str | None) -> tuple[str | None, Any]:
        """The region to read phones in when it is not the default one (the record's country
        as an ISO code, when phones are given), and the given country already coerced."""
        if not self.phone_fields.intersection(raw) or "country" not in self.fields:
            return None, None
        coerced = None
        if "country" in raw:
            given = raw["country"]
            try:
                country = coerced = self.fields["country"].coerce(given) if given else None
            except (FieldValueError, std.Unstandardizable):
                return None, None
        if not isinstance(country, str) or isinstance(country, Kept):
            return None, coerced
        if country == self.workspace.workspace.default_region or not std.is_country_code(country):
            return None, coerced
        return country, coerced

    def _phone_coercer(self, spec: Field, region: str) -> Coercer:
        key = (spec.name, region)
        coerce = self._phone_coercers.get(key)
        if coerce is None:
            source = _spec_source(self.workspace, self.object, spec.name)
            coerce = coercer_for(source, spec.type, self.workspace, region)
            self._phone_coercers[key] = coerce
        return coerce

    def json_schema(self) -> dict[str, Any]:
        """A JSON Schema of the writable fields, for the OpenAPI document."""
        props: dict[str, Any] = {}
        for f in self.fields.values():
            if f.read_only:
                continue
            schema = dict(_JSON_SCHEMA.get(f.type, {"type": "string"}))
            if f.type in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST) and f.picklist:
                keys = [v.key for v in self.workspace.picklists[f.picklist].values]
                item = {"type": "string", "enum": keys}
                schema = (
                    {"type": "array", "items": item} if f.type == FieldType.MULTI_PICKLIST else item
                )
            elif f.type == FieldType.CHOICE:
                schema = {"type": "string", "enum": list(f.choices)}
            if (
                f.many
                and f.type not in (FieldType.MULTI_PICKLIST,)
                and schema.get("type") != "array"
            ):
                schema = {"type": "array", "items": schema}
            schema["title"] = f.label
            if f.description:
                schema["description"] = f.description
            props[f.name] = schema
        return {"type": "object", "properties": props, "additionalProperties": False}


def _printable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


_JSON_SCHEMA: dict[FieldType, dict[str, Any]] = {
    FieldType.NUMBER: {"type": "number"},
    FieldType.MONEY: {"type": "string", "pattern": r"^-?\d+(\.\d{1,4})?$"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.EMAIL: {"type": "string", "format": "email"},
    FieldType.URL: {"type": "string", "format": "uri"},
    FieldType.DEAL_CONTACTS: {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"contact_id": {"type": "string"}, "role": {"type": "string"}},
            "required": ["contact_id"],
        },
    },
    FieldType.LINKS: {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
            "required": ["type", "id"],
        },
    },
    FieldType.PARTICIPANTS: {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
        },
    },
    FieldType.RECORD_ANY: {
        "type": "object",
        "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
        "required": ["type", "id"],
    },
}


_CACHE: dict[int, tuple[Workspace, dict[str, ObjectSchema]]] = {}


def _schemas(workspace: Workspace) -> dict[str, ObjectSchema]:
    hit = _CACHE.get(id(workspace))
    if hit is not None and hit[0] is workspace:
        return hit[1]
    built = _build(workspace)
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[id(workspace)] = (workspace, built)
    return built


def _build(workspace: Workspace) -> dict[str, ObjectSchema]:
    out: dict[str, ObjectSchema] = {}
    for obj, specs in STANDARD_FIELDS.items():
        fields = [
            Field(
                name=s.name,
                type=s.type,
                label=s.label,
                custom=False,
                required=s.required,
                picklist=s.picklist,
                target=s.target,
                choices=s.choices,
                many=s.many,
                personal=s.personal,
                read_only=s.read_only,
                description=s.description,
                coerce=coercer_for(s, s.type, workspace),
            )
            for s in specs
        ]
        if obj == "company":
            # Extra width for names: keep the 300 characters the column allows.
            fields = [
                replace(f, coerce=text_coercer(300)) if f.name == "name" else f for f in fields
            ]
        fields += [
            Field(
                name=c.name,
                type=c.type,
                label=c.label,
                custom=True,
                required=c.required,
                picklist=c.picklist,
                target=c.target,
                many=c.type == FieldType.MULTI_PICKLIST,
                personal=c.personal,
                description=c.description,
                coerce=coercer_for(c, c.type, workspace),
            )
            for c in workspace.custom_fields(obj)
        ]
        out[obj] = ObjectSchema(obj, fields, workspace)
    return out


def _spec_source(workspace: Workspace, obj: str, name: str) -> FieldSpec | CustomField:
    """The standard field's spec or the custom field's definition named ``name``."""
    for s in STANDARD_FIELDS[obj]:
        if s.name == name:
            return s
    return next(c for c in workspace.custom_fields(obj) if c.name == name)


def schema_for(workspace: Workspace, obj: str) -> ObjectSchema:
    return _schemas(workspace)[obj]


# -- JSON form -----------------------------------------------------------------------------------


_PLAIN = frozenset({str, bool, int, float, type(None)})


def to_json(value: Any) -> Any:
    """The JSON form of a stored value: decimals and dates become strings."""
    if type(value) in _PLAIN or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    raise TypeError(f"no JSON form for {type(value).__name__}")
