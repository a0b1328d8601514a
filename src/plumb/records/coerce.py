"""Coercers: turn one raw value (API JSON, a CLI string, an import cell) into the value Plumb
stores, standardizing it on the way (``plumb.hygiene.standardize``), or raise with the rule.

``coercer_for`` builds the coercer of a field under a workspace definition, which supplies the
default phone region and currency, the picklists, and the policy for values that cannot be
standardized (refuse, or keep as typed and mark as ``Kept``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plumb.core.clock import ensure_utc, parse_datetime
from plumb.hygiene import standardize as std
from plumb.workspace.schema import CustomField, Picklist, Workspace, normalize_word
from plumb.workspace.standard import OBJECTS, FieldSpec, FieldType


class FieldValueError(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


Coercer = Callable[[Any], Any]


class Kept(str):
    """A value stored as typed because it could not be standardized and the workspace's policy
    for its field type is ``keep``; ``rule`` is the rule it failed."""

    rule: str

    def __new__(cls, value: str, rule: str) -> Kept:
        kept = super().__new__(cls, value)
        kept.rule = rule
        return kept


# -- coercers ----------------------------------------------------------------------------------


def _astext_coercer(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise FieldValueError("type", f"expected text, got {type(value).__name__}")
    return str(value)


def text_coercer(max_len: int) -> Coercer:
    def coerce(value: Any) -> str | None:
        out = std.text(_astext_coercer(value))
        if len(out) > max_len:
            raise FieldValueError("max_length", f"longer than {max_len} characters")
        return out or None

    return coerce


def _longtext(value: Any) -> str | None:
    return std.longtext(_astext_coercer(value)) or None


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise FieldValueError("type", "expected a number, got true/false")
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(Decimal(_astext_coercer(value).replace(",", "").strip()))
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
            text = _astext_coercer(value).strip()
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
    text = _astext_coercer(value).strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
    except ValueError as exc:
        raise FieldValueError("date", f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return ensure_utc(value)
    text = _astext_coercer(value).strip()
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
        key = table.get(normalize_word(_astext_coercer(value)))
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
        word = _astext_coercer(value).strip().lower()
        if word not in choices:
            raise FieldValueError("choice", f"{value!r} is not one of {', '.join(choices)}")
        return word

    return coerce


def _ident(value: Any) -> str:
    text = _astext_coercer(value).strip()
    if not text or len(text) > 64:
        raise FieldValueError("reference", f"{value!r} is not a record id")
    return text.upper() if len(text) == 26 else text


def _user_ref(value: Any) -> str:
    """A user id, or an e-mail address the write path resolves to a user."""
    text = _astext_coercer(value).strip()
    if "@" in text:
        return text.lower()
    return _ident(text)


def _stage_word(value: Any) -> str:
    return normalize_word(_astext_coercer(value)).replace(" ", "_")


def _deal_contacts(role_picklist: Picklist | None) -> Coercer:
    role_of = _picklist("deal_contact_role", role_picklist) if role_picklist else text_coercer(100)

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


# Longest value each standardized type may store (the column widths of the standard fields).
_MAX_LENGTH = {
    FieldType.EMAIL: 320,
    FieldType.PHONE: std.PHONE_MAX_LENGTH,
    FieldType.URL: 2000,
    FieldType.DOMAIN: 255,
    FieldType.COUNTRY: 100,
}


def _standardized(standardize: Callable[[str], str], ftype: FieldType, keep: bool) -> Coercer:
    """Text through ``standardize``; under the ``keep`` policy a value it cannot standardize is
    kept as typed (whitespace tidied) and marked with the rule it failed."""
    max_len = _MAX_LENGTH[ftype]

    def coerce(value: Any) -> str:
        raw = _astext_coercer(value)
        try:
            out = standardize(raw)
        except std.Unstandardizable as exc:
            if not keep or exc.rule not in std.KEEPABLE_RULES:
                raise
            out = Kept(std.text(raw), exc.rule)
        if len(out) > max_len:
            raise FieldValueError("max_length", f"longer than {max_len} characters")
        return out

    return coerce


def coercer_for(
    spec: FieldSpec | CustomField, ftype: FieldType, ws: Workspace, region: str | None = None
) -> Coercer:
    """The coercer of one field under one workspace definition. ``region`` (an ISO country
    code) is how phone numbers without a country code are read: the record's country when it
    has one, else the workspace's default region."""
    region = region or ws.workspace.default_region
    picklist = getattr(spec, "picklist", None)

    def keep(field_type: str) -> bool:
        return ws.hygiene.policy(field_type) == "keep"

    simple: dict[FieldType, Coercer] = {
        FieldType.TEXT: text_coercer(500),
        FieldType.LONGTEXT: _longtext,
        FieldType.NUMBER: _number,
        FieldType.DATE: _date,
        FieldType.DATETIME: _datetime,
        FieldType.BOOLEAN: _boolean,
        FieldType.EMAIL: _standardized(std.email, FieldType.EMAIL, keep("email")),
        FieldType.PHONE: _standardized(
            lambda v: std.phone(v, region), FieldType.PHONE, keep("phone")
        ),
        FieldType.URL: _standardized(std.url, FieldType.URL, keep("url")),
        FieldType.DOMAIN: _standardized(std.company_domain, FieldType.DOMAIN, keep("domain")),
        FieldType.COUNTRY: _standardized(std.country, FieldType.COUNTRY, keep("country")),
        # Needs the record's country: made an ISO 3166-2 code in records.prepare.
        FieldType.REGION: text_coercer(100),
        FieldType.CURRENCY: lambda v: std.currency(_astext_coercer(v)),
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
