"""Which column of a file fills which field.

Mapped automatically for Plumb's own export (column names are field names, ``id`` is the
record's id there), HubSpot exports (property labels, ``Record ID``) and Salesforce exports
(API names, ``Id``); any other file maps columns whose name is a field's name or label, and a
mapping file (YAML) says the rest::

    object: contact            # optional; must match the command's object
    source: legacy-crm         # the system the ids come from (needed with external_id)
    columns:
      Cust No: external_id
      Given name: first_name
      Mail: email
      Firm: {field: company_id, by: name}      # a company named so
      Firm ref: {field: company_id, by: external_id}
      Notes: skip

A reference column (a company, a contact) names its record ``by`` its Plumb ``id``, its
``external_id`` in the same source, its ``name`` (companies) or its ``email`` (contacts).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plumb.core.errors import BadRequest, FieldIssue
from plumb.records.fields import ObjectSchema
from plumb.workspace.standard import META_KEYS, FieldType

EXTERNAL_ID = "external_id"
SKIP = "skip"
REF_BY = ("id", "external_id", "name", "email")
ALIASES = {"contact": {"email": "emails", "phone": "phones", "name": "first_name"}}
"""Names the write path accepts beside the fields (``name`` is a full name, parsed)."""
BY_NAME_TARGETS = {"company": "name", "contact": "email"}


@dataclass(frozen=True)
class Target:
    field: str
    by: str = "id"

    def as_json(self) -> Any:
        return self.field if self.by == "id" else {"field": self.field, "by": self.by}


@dataclass
class Mapping:
    object: str
    preset: str
    """``plumb``, ``hubspot``, ``salesforce``, ``names`` (matched by name) or ``file``."""
    source: str | None
    """The system external ids come from; None: rows are keyed by file hash and row number."""
    columns: dict[str, Target]
    skipped: list[str] = field(default_factory=list)

    @property
    def id_column(self) -> str | None:
        return next((c for c, t in self.columns.items() if t.field == EXTERNAL_ID), None)

    def column_for(self, name: str) -> str | None:
        """The column that fills field ``name`` (for error reports)."""
        wanted = {name} | {a for a, f in ALIASES.get(self.object, {}).items() if f == name}
        return next((c for c, t in self.columns.items() if t.field in wanted), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "preset": self.preset,
            "source": self.source,
            "columns": {c: t.as_json() for c, t in self.columns.items()},
            "skipped": self.skipped,
        }

    def digest(self) -> str:
        body = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", header.lower())


# -- presets ---------------------------------------------------------------------------------------

_HUBSPOT: dict[str, dict[str, Target | str]] = {
    "*": {
        "Record ID": EXTERNAL_ID,
        "Contact ID": EXTERNAL_ID,
        "Company ID": EXTERNAL_ID,
        "Deal ID": EXTERNAL_ID,
        "Lifecycle Stage": "lifecycle_stage",
        "City": "city",
        "State/Region": "region",
        "Country/Region": "country",
        "Postal Code": "postal_code",
        "Zip": "postal_code",
        "Street Address": "street",
    },
    "contact": {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "emails",
        "Additional email addresses": "emails",
        "Phone Number": "phones",
        "Mobile Phone Number": "phones",
        "Job Title": "job_title",
        "Lead Status": "lead_status",
        "Original Source": "lead_source",
        "Company Name": Target("company_id", "name"),
        "Associated Company": Target("company_id", "name"),
        "Associated Company ID": Target("company_id", "external_id"),
        "Primary Associated Company ID": Target("company_id", "external_id"),
    },
    "company": {
        "Company name": "name",
        "Name": "name",
        "Company Domain Name": "domain",
        "Website URL": "website",
        "Phone Number": "phone",
        "Industry": "industry",
    },
    "deal": {
        "Deal Name": "name",
        "Pipeline": "pipeline",
        "Deal Stage": "stage",
        "Amount": "amount",
        "Currency": "currency",
        "Close Date": "close_date",
        "Associated Company": Target("company_id", "name"),
        "Associated Company ID": Target("company_id", "external_id"),
    },
}

_SALESFORCE: dict[str, dict[str, Target | str]] = {
    "*": {"Id": EXTERNAL_ID},
    "contact": {
        "FirstName": "first_name",
        "LastName": "last_name",
        "Name": "name",
        "Email": "emails",
        "Phone": "phones",
        "MobilePhone": "phones",
        "Title": "job_title",
        "LeadSource": "lead_source",
        "Status": "lead_status",
        "AccountId": Target("company_id", "external_id"),
        "Company": Target("company_id", "name"),
        "MailingStreet": "street",
        "MailingCity": "city",
        "MailingState": "region",
        "MailingPostalCode": "postal_code",
        "MailingCountry": "country",
        "Street": "street",
        "City": "city",
        "State": "region",
        "PostalCode": "postal_code",
        "Country": "country",
    },
    "company": {
        "Name": "name",
        "Website": "website",
        "Phone": "phone",
        "Industry": "industry",
        "BillingStreet": "street",
        "BillingCity": "city",
        "BillingState": "region",
        "BillingPostalCode": "postal_code",
        "BillingCountry": "country",
    },
    "deal": {
        "Name": "name",
        "StageName": "stage",
        "Amount": "amount",
        "CurrencyIsoCode": "currency",
        "CloseDate": "close_date",
        "AccountId": Target("company_id", "external_id"),
    },
    "case": {
        "Subject": "subject",
        "Description": "description",
        "Status": "status",
        "Priority": "priority",
        "ContactId": Target("contact_id", "external_id"),
        "AccountId": Target("company_id", "external_id"),
    },
    "task": {
        "Subject": "title",
        "Description": "description",
        "ActivityDate": "due_date",
    },
}

PLUMB_SKIPPED = frozenset({*META_KEYS} - {"id"})


def _target(value: Target | str) -> Target:
    return value if isinstance(value, Target) else Target(value)


def auto_mapping(sch: ObjectSchema, header: list[str], source: str | None = None) -> Mapping:
    """The mapping Plumb infers from a file's header."""
    obj = sch.object
    names = set(sch.fields)
    present = [h for h in header if h]
    if "id" in present and sum(h in names for h in present) >= max(1, (len(present) - 1) // 2):
        return _plumb_mapping(sch, present, source)
    if any(norm(h) in ("recordid", "contactid", "companyid", "dealid") for h in present):
        return _preset_mapping(sch, present, "hubspot", _HUBSPOT, source or "hubspot")
    if "Id" in present and any(
        h in _SALESFORCE.get(obj, {}) for h in present if h not in ("Id", "Name")
    ):
        return _preset_mapping(sch, present, "salesforce", _SALESFORCE, source or "salesforce")
    by_name: dict[str, Target] = {}
    for name, spec in sch.fields.items():
        if spec.read_only:
            continue
        by_name.setdefault(norm(name), Target(name))
        by_name.setdefault(norm(spec.label), Target(name))
    for alias in ALIASES.get(obj, {}):
        by_name.setdefault(norm(alias), Target(alias))
    if source:
        by_name.setdefault("externalid", Target(EXTERNAL_ID))
    columns: dict[str, Target] = {}
    skipped: list[str] = []
    for h in present:
        target = by_name.get(norm(h))
        if target is None:
            skipped.append(h)
        else:
            columns[h] = target
    return Mapping(obj, "names", source, columns, skipped)


def _plumb_mapping(sch: ObjectSchema, header: list[str], source: str | None) -> Mapping:
    columns: dict[str, Target] = {}
    skipped: list[str] = []
    for h in header:
        if h == "id":
            columns[h] = Target(EXTERNAL_ID)
        elif h in sch.fields and not sch[h].read_only:
            spec = sch[h]
            by = "external_id" if spec.type == FieldType.RECORD else "id"
            columns[h] = Target(h, by)
        else:
            skipped.append(h)
    return Mapping(sch.object, "plumb", source or "plumb", columns, skipped)


def _preset_mapping(
    sch: ObjectSchema,
    header: list[str],
    preset: str,
    table: dict[str, dict[str, Target | str]],
    source: str,
) -> Mapping:
    known = {norm(k): _target(v) for k, v in table["*"].items()}
    known.update({norm(k): _target(v) for k, v in table.get(sch.object, {}).items()})
    columns: dict[str, Target] = {}
    skipped: list[str] = []
    for h in header:
        target = known.get(norm(h))
        usable = target is not None and (
            target.field == EXTERNAL_ID
            or target.field in sch.fields
            or target.field in ALIASES.get(sch.object, {})
        )
        if target is None or not usable or (target.field == EXTERNAL_ID and _has_id(columns)):
            skipped.append(h)
        else:
            columns[h] = target
    return Mapping(sch.object, preset, source, columns, skipped)


def _has_id(columns: dict[str, Target]) -> bool:
    return any(t.field == EXTERNAL_ID for t in columns.values())


# -- mapping files ---------------------------------------------------------------------------------


class MappingInvalid(BadRequest):
    code = "mapping_invalid"
    title = "The mapping file is invalid"


def load_mapping(path: Path, sch: ObjectSchema, header: list[str]) -> Mapping:
    """Read and check a mapping file; every problem is reported at once, with its line."""
    try:
        text = path.read_text("utf-8")
        root = yaml.compose(text)
    except (OSError, yaml.YAMLError) as exc:
        raise MappingInvalid(f"{path}: cannot read the mapping: {exc}") from exc
    problems: list[FieldIssue] = []

    def problem(node: yaml.Node | None, where: str, rule: str, message: str) -> None:
        line = f"{path.name}:{node.start_mark.line + 1}" if node is not None else path.name
        problems.append(FieldIssue(where, rule, f"{line}: {message}"))

    if not isinstance(root, yaml.MappingNode):
        raise MappingInvalid(f"{path}: expected a mapping with object, source and columns")
    top = {k.value: (k, v) for k, v in root.value}
    for key, (knode, _) in top.items():
        if key not in ("object", "source", "columns"):
            problem(knode, key, "unknown_key", f"unknown key {key!r} (object, source, columns)")
    obj_node = top.get("object", (None, None))[1]
    if obj_node is not None and obj_node.value != sch.object:
        problem(obj_node, "object", "object", f"mapping is for {obj_node.value}, not {sch.object}")
    source_node = top.get("source", (None, None))[1]
    source = str(source_node.value).strip() if source_node is not None else None
    cols_node = top.get("columns", (None, None))[1]
    columns: dict[str, Target] = {}
    skipped: list[str] = []
    if not isinstance(cols_node, yaml.MappingNode):
        problem(cols_node, "columns", "required", "columns: must map file columns to fields")
        cols_node = yaml.MappingNode("tag:yaml.org,2002:map", [])
    aliases = ALIASES.get(sch.object, {})
    for knode, vnode in cols_node.value:
        column = str(knode.value)
        if column not in header:
            problem(knode, column, "unknown_column", f"column {column!r} is not in the file")
            continue
        if isinstance(vnode, yaml.ScalarNode):
            target = Target(str(vnode.value).strip())
        elif isinstance(vnode, yaml.MappingNode):
            spec = {k.value: v.value for k, v in vnode.value}
            extra = set(spec) - {"field", "by"}
            if extra or "field" not in spec:
                problem(vnode, column, "shape", "expected {field: NAME, by: id|external_id|...}")
                continue
            target = Target(str(spec["field"]), str(spec.get("by", "id")))
        else:
            problem(vnode, column, "shape", "expected a field name or {field:, by:}")
            continue
        if target.field == SKIP:
            skipped.append(column)
            continue
        name = aliases.get(target.field, target.field)
        if target.field != EXTERNAL_ID and name not in sch.fields:
            problem(vnode, column, "unknown_field", f"{sch.object} has no field {target.field!r}")
            continue
        if target.field != EXTERNAL_ID and sch[name].read_only:
            problem(vnode, column, "read_only", f"{target.field} is maintained by Plumb")
            continue
        if target.by not in REF_BY:
            problem(vnode, column, "by", f"by: must be one of {', '.join(REF_BY)}")
            continue
        if target.by != "id":
            spec_type = sch[name].type if name in sch.fields else None
            ref_target = sch[name].target if name in sch.fields else None
            if spec_type != FieldType.RECORD:
                problem(vnode, column, "by", f"{target.field} is not a reference to a record")
                continue
            if target.by in ("name", "email") and BY_NAME_TARGETS.get(ref_target or "") != (
                target.by
            ):
                problem(vnode, column, "by", f"a {ref_target} cannot be found by {target.by}")
                continue
            if target.by == "external_id" and not source:
                problem(vnode, column, "source", "by: external_id needs source: at the top")
                continue
        if target.field == EXTERNAL_ID:
            if _has_id(columns):
                problem(vnode, column, "unique", "only one column may be the external_id")
                continue
            if not source:
                problem(vnode, column, "source", "an external_id column needs source: at the top")
                continue
        columns[column] = target
    if problems:
        raise MappingInvalid(
            f"{path}: the mapping has {len(problems)} problem(s)",
            object=sch.object,
            issues=problems,
        )
    skipped += [h for h in header if h and h not in columns and h not in skipped]
    return Mapping(sch.object, "file", source, columns, skipped)
