"""One cell's text, both ways: values to cells on export (with spreadsheet formula injection
neutralised) and cells back to values on import (with the neutralisation undone).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula; the export prefixes it with an apostrophe, which they show
as text. A value that itself starts with apostrophes before such a character gets one more, so
the import can always remove exactly one and round trips are lossless (E.164 phones start
with ``+``).
"""

from __future__ import annotations

import json
import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")
LIST_SEPARATOR = "; "


def neutralise(text: str) -> str:
    if text.startswith(FORMULA_START) or _NEUTRALISED.match(text):
        return "'" + text
    return text


def restore(text: str) -> str:
    """Undo ``neutralise``: ``'+14155550100`` -> ``+14155550100``."""
    return text[1:] if _NEUTRALISED.match(text) else text


def to_cell(value: Any) -> str:
    """A field's JSON value as cell text: lists of words joined by ``; ``, structures as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return neutralise(LIST_SEPARATOR.join(value))
        return neutralise(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if isinstance(value, dict):
        return neutralise(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return neutralise(str(value))


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]
