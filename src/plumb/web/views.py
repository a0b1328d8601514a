"""Turning records into what a page shows: labels, formatted values, inputs and glossary hints.

Nothing here reads the database on its own; callers hand in the workspace, the snapshots (already
redacted for the actor) and the names of users and related records they looked up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plumb.core.clock import parse_datetime
from plumb.records.fields import Field, ObjectSchema
from plumb.workspace.schema import Stage, Workspace
from plumb.workspace.standard import PLURALS, FieldType

SOURCE_LABELS = {
    "ui": "person",
    "api": "person via API",
    "cli": "person via CLI",
    "import": "import",
    "rule": "rule",
    "integration": "integration",
    "email": "email",
    "agent": "agent",
    "merge": "merge",
    "system": "system",
}
"""How a change-log source is named on the timeline."""

OBJECT_LABELS = {
    "contact": "Contact",
    "company": "Company",
    "deal": "Deal",
    "activity": "Activity",
    "task": "Task",
    "case": "Case",
}

NOT_EDITABLE_TYPES = frozenset(
    {FieldType.DEAL_CONTACTS, FieldType.LINKS, FieldType.PARTICIPANTS, FieldType.RECORD_ANY}
)


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    definition: str = ""


@dataclass
class FieldView:
    """One field of one record as a page shows it."""

    name: str
    label: str
    help: str
    value: Any
    display: str
    href: str | None = None
    definition: str = ""
    """The glossary definition of the current value (stages and picklist values)."""
    input: str = "text"
    """text, textarea, lines (one value a line), select, date, datetime."""
    options: list[Option] = field(default_factory=list)
    editable: bool = False
    raw: str = ""
    """The value as the input shows it."""
    required: bool = False


def record_label(obj: str, snap: dict[str, Any] | None) -> str:
    if not snap:
        return ""
    match obj:
        case "contact":
            name = " ".join(p for p in (snap.get("first_name"), snap.get("last_name")) if p)
            return name or snap.get("email") or snap["id"]
        case "company" | "deal":
            return str(snap.get("name") or snap["id"])
        case "case":
            return str(snap.get("subject") or snap["id"])
        case "task":
            return str(snap.get("title") or snap["id"])
        case "activity":
            return str(snap.get("subject") or snap.get("type") or snap["id"])
    return str(snap.get("id", ""))


def record_href(obj: str, record_id: str) -> str:
    return f"/{PLURALS[obj]}/{record_id}"


def fmt_money(value: Any, currency: str | None = None) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, dict):
        currency = value.get("currency") or currency
        value = value.get("amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def fmt_when(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M")


def stage_options(ws: Workspace, obj: str, pipeline: str | None) -> list[Stage]:
    if obj in ("contact", "company"):
        return list(ws.lifecycle_stages)
    pipe = ws.pipeline(obj, pipeline) if pipeline else None
    if pipe is None:
        pipes = ws.pipelines_for(obj)
        pipe = pipes[0] if pipes else None
    return list(pipe.stages) if pipe else []


def options_for(
    ws: Workspace, obj: str, spec: Field, snap: dict[str, Any], users: dict[str, str]
) -> list[Option]:
    if spec.type in (FieldType.PICKLIST, FieldType.MULTI_PICKLIST) and spec.picklist:
        pick = ws.picklists.get(spec.picklist)
        return [Option(v.key, v.label, v.definition) for v in pick.values] if pick else []
    if spec.type == FieldType.STAGE:
        return [
            Option(s.key, s.label, s.definition)
            for s in stage_options(ws, obj, snap.get("pipeline"))
        ]
    if spec.type == FieldType.PIPELINE:
        return [Option(p.key, p.label) for p in ws.pipelines_for(obj)]
    if spec.type == FieldType.CHOICE:
        return [Option(c, c.replace("_", " ").capitalize()) for c in spec.choices]
    if spec.type == FieldType.USER:
        return [Option(uid, name) for uid, name in users.items()]
    if spec.type == FieldType.BOOLEAN:
        return [Option("true", "Yes"), Option("false", "No")]
    return []


def input_kind(spec: Field) -> str:
    if spec.type in (
        FieldType.PICKLIST,
        FieldType.STAGE,
        FieldType.PIPELINE,
        FieldType.CHOICE,
        FieldType.USER,
        FieldType.BOOLEAN,
    ):
        return "select"
    if spec.many:
        return "lines"
    if spec.type == FieldType.LONGTEXT:
        return "textarea"
    if spec.type == FieldType.DATE:
        return "date"
    return "text"


def raw_value(spec: Field, value: Any) -> str:
    """The value as an input shows it (and as a person would type it back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if isinstance(value, dict) and spec.type == FieldType.MONEY:
        return f"{value.get('amount', '')} {value.get('currency', '')}".strip()
    return str(value)


def parse_input(spec: Field, raw: str) -> Any:
    """What a form field submits, in the form the write path cleans (``""`` clears)."""
    text = raw.strip()
    if spec.many:
        parts = [p.strip() for line in text.splitlines() for p in line.split(";")]
        return [p for p in parts if p]
    if not text:
        return None
    return text


def display_value(
    ws: Workspace,
    obj: str,
    spec: Field,
    value: Any,
    snap: dict[str, Any],
    users: dict[str, str],
    labels: dict[tuple[str, str], str],
) -> tuple[str, str | None, str]:
    """(text, link, glossary definition) for one value."""
    if value is None or value == [] or value == "":
        return "", None, ""
    if spec.type == FieldType.USER:
        return users.get(str(value), str(value)), None, ""
    if spec.type == FieldType.RECORD and spec.target:
        return labels.get((spec.target, value), value), record_href(spec.target, value), ""
    if spec.type == FieldType.RECORD_ANY and isinstance(value, dict):
        kind, ident = value["type"], value["id"]
        return (
            f"{OBJECT_LABELS[kind]}: {labels.get((kind, ident), ident)}",
            record_href(kind, ident),
            "",
        )
    if spec.type == FieldType.MONEY:
        return fmt_money(value, snap.get("currency") if obj == "deal" else None), None, ""
    if spec.type == FieldType.DATETIME:
        return fmt_when(value), None, ""
    if spec.type in (FieldType.STAGE, FieldType.PICKLIST, FieldType.PIPELINE):
        for option in options_for(ws, obj, spec, snap, users):
            if option.key == value:
                return option.label, None, option.definition
        return str(value), None, ""
    if spec.type == FieldType.DEAL_CONTACTS:
        return (
            ", ".join(
                f"{labels.get(('contact', i['contact_id']), i['contact_id'])}"
                + (f" ({i['role']})" if i.get("role") else "")
                for i in value
            ),
            None,
            "",
        )
    if spec.type == FieldType.LINKS:
        return (
            ", ".join(
                f"{OBJECT_LABELS[i['type']]}: {labels.get((i['type'], i['id']), i['id'])}"
                for i in value
            ),
            None,
            "",
        )
    if spec.type == FieldType.PARTICIPANTS:
        return ", ".join(str(p.get("name") or p.get("email")) for p in value), None, ""
    if spec.type == FieldType.BOOLEAN:
        return ("Yes" if value else "No"), None, ""
    if isinstance(value, list):
        if spec.type == FieldType.MULTI_PICKLIST:
            opts = {o.key: o.label for o in options_for(ws, obj, spec, snap, users)}
            return ", ".join(opts.get(str(v), str(v)) for v in value), None, ""
        return ", ".join(str(v) for v in value), None, ""
    return str(value), None, ""


def references(sch: ObjectSchema, snaps: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Object -> ids named by these records' reference fields (to look their labels up)."""
    out: dict[str, set[str]] = {}
    for snap in snaps:
        for name, spec in sch.fields.items():
            value = snap.get(name)
            if not value:
                continue
            if spec.type == FieldType.RECORD and spec.target:
                out.setdefault(spec.target, set()).add(value)
            elif spec.type == FieldType.RECORD_ANY:
                out.setdefault(value["type"], set()).add(value["id"])
            elif spec.type == FieldType.DEAL_CONTACTS:
                out.setdefault("contact", set()).update(i["contact_id"] for i in value)
            elif spec.type == FieldType.LINKS:
                for i in value:
                    out.setdefault(i["type"], set()).add(i["id"])
    return out


def field_views(
    ws: Workspace,
    sch: ObjectSchema,
    snap: dict[str, Any],
    *,
    hidden: frozenset[str],
    locked: frozenset[str],
    may_edit: bool,
    users: dict[str, str],
    labels: dict[tuple[str, str], str],
) -> list[FieldView]:
    out: list[FieldView] = []
    for name, spec in sch.fields.items():
        if name in hidden:
            continue
        value = snap.get(name)
        text, href, definition = display_value(ws, sch.object, spec, value, snap, users, labels)
        out.append(
            FieldView(
                name=name,
                label=spec.label,
                help=spec.description,
                value=value,
                display=text,
                href=href,
                definition=definition,
                input=input_kind(spec),
                options=options_for(ws, sch.object, spec, snap, users),
                editable=may_edit
                and not spec.read_only
                and name not in locked
                and spec.type not in NOT_EDITABLE_TYPES,
                raw=raw_value(spec, value),
                required=spec.required,
            )
        )
    return out


def source_label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


TEMPLATE_GLOBALS: dict[str, Any] = {
    "record_href": record_href,
    "record_label": record_label,
    "object_labels": OBJECT_LABELS,
    "plurals": PLURALS,
}
TEMPLATE_FILTERS: dict[str, Any] = {
    "money": fmt_money,
    "when": fmt_when,
    "source_label": source_label,
}
