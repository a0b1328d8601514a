"""Reading record forms: field values, the version the user read, and errors at the field."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from plumb.core.errors import PlumbError, VersionConflict
from plumb.records.fields import ObjectSchema
from plumb.web.core import text
from plumb.web.views import parse_input

FIELD_PREFIX = "f."
"""Form inputs that carry a field's value are named ``f.<field>``."""


def field_values(sch: ObjectSchema, form: FormData) -> dict[str, Any]:
    """Every ``f.<field>`` input, parsed for the write path. A blank input clears the field."""
    out: dict[str, Any] = {}
    for key in form:
        if not key.startswith(FIELD_PREFIX):
            continue
        name = key.removeprefix(FIELD_PREFIX)
        if name not in sch:
            continue
        spec = sch[name]
        if spec.type.value == "multi_picklist":
            out[name] = [v for v in form.getlist(key) if isinstance(v, str) and v]
        else:
            out[name] = parse_input(spec, text(form, key))
    return out


def version_of(form: FormData) -> int | None:
    raw = text(form, "version")
    return int(raw) if raw.isdigit() else None


def field_errors(exc: PlumbError) -> dict[str, str]:
    """Field -> message; errors not about one field go under ``""``."""
    out: dict[str, str] = {}
    for issue in exc.issues:
        out.setdefault(issue.field, issue.message)
    if not exc.issues or isinstance(exc, VersionConflict):
        out.setdefault("", exc.message)
    return out
