"""Fields of an object: standard and custom together, each with a compiled coercer.

``ObjectSchema.clean`` turns raw input (API JSON, CLI strings, import cells) into the values
Plumb stores, standardizing as it goes, and collects every problem as a ``FieldIssue`` naming
the field and the rule. Values have two forms: the Python form (``Decimal``, ``date``) held on
the ORM row, and the JSON form (strings for decimals and dates) used in the API and history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plumb.core.clock import ensure_utc, isoformat, parse_datetime
from plumb.core.errors import FieldIssue
from plumb.hygiene import standardize as std
from plumb.workspace.schema import CustomField, Picklist, Workspace, normalize_word
from plumb.workspace.standard import OBJECTS, STANDARD_FIELDS, FieldSpec, FieldType

MISSING: Any = object()


class FieldValueError(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


Coercer = Callable[[Any], Any]

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

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def clean(
        self, raw: dict[str, Any], *, allow_read_only: bool = False
    ) -> tuple[dict[str, Any], list[FieldIssue]]:
        """Coerce the given fields. Unknown and read-only names are issues, never dropped."""
        values: dict[str, Any] = {}
        issues: list[FieldIssue] = []
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
            try:
                values[name] = spec.coerce(value)
            except FieldValueError as exc:
                issues.append(FieldIssue(name, exc.rule, exc.message, _printable(value)))
            except std.Unstandardizable as exc:
                issues.append(FieldIssue(name, exc.rule, exc.message, _printable(value)))
        return values, issues

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


# -- coercers ----------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise FieldValueError("type", f"expected text, got {type(value).__name__}")
    return str(value)


def _text(max_len: int) -> Coercer:
    def coerce(value: Any) -> str | None:
        out = std.text(_as_text(value))
        if len(out) > max_len:
            raise FieldValueError("max_length", f"longer than {max_len} characters")
        return out or None

    return coerce


def _longtext(value: Any) -> str | None:
    return std.longtext(_as_text(value)) or None


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldValueError("type", "expected a number, got true/false")
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(Decimal(_as_text(value).replace(",", "").strip()))
        except InvalidOperation as exc:
            raise FieldValueError("number", "is not a number") from exc
    if isinstance(number, float):
        if number != number or number in (float("inf"), float("-inf")):
            raise FieldValueError("number", "must be a finite number")
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
    return number


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise FieldValueError("type", "expected an amount, got true/false")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation as exc:
        raise FieldValueError("money", f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise FieldValueError("money", "must be a finite amount")
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        raise FieldValueError("money", "has more than four decimal places")
    if abs(amount) >= Decimal("1e14"):
        raise FieldValueError("money", "is too large")
    return amount


def _money_amount(value: Any) -> Decimal:
    amount = _decimal(value)
    if amount < 0:
        raise FieldValueError("non_negative", "must not be negative")
    return amount


def _money_object(default_currency: str) -> Coercer:
    def coerce(value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            extra = set(value) - {"amount", "currency"}
            if extra or "amount" not in value:
                raise FieldValueError("money", "expected {amount, currency}")
            amount = _decimal(value["amount"])
            currency = std.currency(str(value.get("currency") or default_currency))
        else:
            text = _as_text(value).strip()
            parts = text.split()
            currency = default_currency
            if len(parts) == 2 and parts[1].isalpha():
                text, currency = parts[0], std.currency(parts[1])
            elif len(parts) == 2 and parts[0].isalpha():
                currency, text = std.currency(parts[0]), parts[1]
            amount = _decimal(text)
        return {"amount": format(amount, "f"), "currency": currency}

    return coerce


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _as_text(value).strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
    except ValueError as exc:
        raise FieldValueError("date", f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return ensure_utc(value)
    text = _as_text(value).strip()
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise FieldValueError("datetime", f"{text!r} is not a date and time (ISO 8601)") from exc


_TRUE = {"true", "yes", "y", "1", "on", "t"}
_FALSE = {"false", "no", "n", "0", "off", "f"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise FieldValueError("boolean", f"{value!r} is not yes/no")


def picklist_lookup(picklist: Picklist) -> dict[str, str]:
    """Every accepted spelling (key, label, synonym), normalized, to the value's key."""
    table: dict[str, str] = {}
    for value in picklist.values:
        for word in (value.key, value.label, *value.synonyms):
            table.setdefault(normalize_word(word), value.key)
    return table


def _picklist(name: str, picklist: Picklist) -> Coercer:
    table = picklist_lookup(picklist)
    keys = ", ".join(v.key for v in picklist.values)

    def coerce(value: Any) -> str:
        key = table.get(normalize_word(_as_text(value)))
        if key is None:
            raise FieldValueError("picklist", f"{value!r} is not a value of {name} ({keys})")
        return key

    return coerce


def _split(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.replace(";", ",").split(",")) if part]
    return [value]


def _many(inner: Coercer) -> Coercer:
    def coerce(value: Any) -> list[Any]:
        out: list[Any] = []
        for item in _split(value):
            if item is None or item == "":
                continue
            clean = inner(item)
            if clean is not None and clean not in out:
                out.append(clean)
        return out

    return coerce


def _choice(choices: tuple[str, ...]) -> Coercer:
    def coerce(value: Any) -> str:
        word = _as_text(value).strip().lower()
        if word not in choices:
            raise FieldValueError("choice", f"{value!r} is not one of {', '.join(choices)}")
        return word

    return coerce


def _ident(value: Any) -> str:
    text = _as_text(value).strip()
    if not text or len(text) > 64:
        raise FieldValueError("reference", f"{value!r} is not a record id")
    return text.upper() if len(text) == 26 else text


def _user_ref(value: Any) -> str:
    """A user id, or an e-mail address the write path resolves to a user."""
    text = _as_text(value).strip()
    if "@" in text:
        return text.lower()
    return _ident(text)


def _stage_word(value: Any) -> str:
    return normalize_word(_as_text(value)).replace(" ", "_")


def _deal_contacts(role_picklist: Picklist | None) -> Coercer:
    role_of = _picklist("deal_contact_role", role_picklist) if role_picklist else _text(100)

    def coerce(value: Any) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for item in _split(value):
            if isinstance(item, str):
                contact_id, role = _ident(item), None
            elif (
                isinstance(item, dict)
                and "contact_id" in item
                and set(item) <= {"contact_id", "role"}
            ):
                contact_id = _ident(item["contact_id"])
                role = role_of(item["role"]) if item.get("role") else None
            else:
                raise FieldValueError("deal_contacts", "expected {contact_id, role} items")
            out[contact_id] = {"contact_id": contact_id, "role": role}
        return [out[k] for k in sorted(out)]

    return coerce


def _record_pair(value: Any) -> tuple[str, str]:
    if isinstance(value, str) and ":" in value:
        kind, _, ident = value.partition(":")
    elif isinstance(value, dict) and set(value) == {"type", "id"}:
        kind, ident = str(value["type"]), str(value["id"])
    else:
        raise FieldValueError("record", "expected {type, id} or 'type:id'")
    kind = kind.strip().lower()
    if kind not in OBJECTS:
        raise FieldValueError("record", f"{kind!r} is not an object ({', '.join(OBJECTS)})")
    return kind, _ident(ident)


def _links(value: Any) -> list[dict[str, str]]:
    pairs = sorted({_record_pair(item) for item in _split(value) if item})
    return [{"type": kind, "id": ident} for kind, ident in pairs]


def _record_any(value: Any) -> dict[str, str]:
    kind, ident = _record_pair(value)
    return {"type": kind, "id": ident}


def _participants(value: Any) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for item in _split(value):
        if isinstance(item, str):
            name, _, addr = item.rpartition("<")
            if addr.endswith(">"):
                entry = {"email": std.email(addr[:-1]), "name": std.text(name).strip('" ') or None}
            elif "@" in item:
                entry = {"email": std.email(item), "name": None}
            else:
                entry = {"email": None, "name": std.text(item)}
        elif isinstance(item, dict) and set(item) <= {"email", "name"}:
            entry = {
                "email": std.email(item["email"]) if item.get("email") else None,
                "name": std.text(str(item["name"])) if item.get("name") else None,
            }
        else:
            raise FieldValueError("participants", "expected e-mail addresses or {email, name}")
        if entry not in out:
            out.append(entry)
    return out


def _coercer(spec: FieldSpec | CustomField, ftype: FieldType, ws: Workspace) -> Coercer:
    region = ws.workspace.default_region
    picklist = getattr(spec, "picklist", None)
    simple: dict[FieldType, Coercer] = {
        FieldType.TEXT: _text(500),
        FieldType.LONGTEXT: _longtext,
        FieldType.NUMBER: _number,
        FieldType.DATE: _date,
        FieldType.DATETIME: _datetime,
        FieldType.BOOLEAN: _boolean,
        FieldType.EMAIL: lambda v: std.email(_as_text(v)),
        FieldType.PHONE: lambda v: std.phone(_as_text(v), region),
        FieldType.URL: lambda v: std.url(_as_text(v)),
        FieldType.DOMAIN: lambda v: std.domain(_as_text(v)),
        FieldType.COUNTRY: lambda v: std.country(_as_text(v)),
        FieldType.CURRENCY: lambda v: std.currency(_as_text(v)),
        FieldType.RECORD: _ident,
        FieldType.USER: _user_ref,
        FieldType.STAGE: _stage_word,
        FieldType.PIPELINE: _stage_word,
        FieldType.LINKS: _links,
        FieldType.PARTICIPANTS: _participants,
        FieldType.RECORD_ANY: _record_any,
    }
    if ftype == FieldType.MONEY:
        return (
            _money_object(ws.workspace.default_currency)
            if isinstance(spec, CustomField)
            else _money_amount
        )
    if ftype == FieldType.PICKLIST:
        assert picklist is not None
        return _picklist(picklist, ws.picklists[picklist])
    if ftype == FieldType.MULTI_PICKLIST:
        assert picklist is not None
        return _many(_picklist(picklist, ws.picklists[picklist]))
    if ftype == FieldType.CHOICE:
        return _choice(getattr(spec, "choices", ()))
    if ftype == FieldType.DEAL_CONTACTS:
        return _deal_contacts(ws.picklists.get("deal_contact_role"))
    base = simple[ftype]
    if getattr(spec, "many", False) and ftype not in (FieldType.LINKS, FieldType.PARTICIPANTS):
        return _many(base)
    return base


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
                coerce=_coercer(s, s.type, workspace),
            )
            for s in specs
        ]
        if obj == "company":
            # Extra width for names: keep the 300 characters the column allows.
            fields = [replace(f, coerce=_text(300)) if f.name == "name" else f for f in fields]
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
                coerce=_coercer(c, c.type, workspace),
            )
            for c in workspace.custom_fields(obj)
        ]
        out[obj] = ObjectSchema(obj, fields, workspace)
    return out


def schema_for(workspace: Workspace, obj: str) -> ObjectSchema:
    return _schemas(workspace)[obj]


# -- JSON form -----------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """The JSON form of a stored value: decimals and dates become strings."""
    if value is None or isinstance(value, str | bool | int | float):
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
