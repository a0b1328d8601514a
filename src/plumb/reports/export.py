"""Reports as CSV or XLSX: the figures, then the integrity of each (count and amount resting on
flagged records, by indicator)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from plumb.core.errors import BadRequest
from plumb.reports.base import Report
from plumb.reports.integrity import LABELS

KINDS = ["any", *LABELS.values()]


def table(report: Report) -> list[list[Any]]:
    """Header and rows: the report's columns, then ``<kind>_count`` and ``<kind>_amount``."""
    header: list[Any] = list(report.columns)
    for kind in KINDS:
        header += [f"{kind}_count", f"{kind}_amount"]
    out = [header]
    for row in report.rows:
        line = [_plain(row.get(c)) for c in report.columns]
        integrity = row.get("integrity") or {}
        for kind in KINDS:
            part = integrity.get(kind) or {}
            line += [part.get("count", 0), _plain(part.get("amount", 0))]
        out.append(line)
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)


def write(report: Report, path: Path) -> None:
    rows = table(report)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    elif path.suffix.lower() == ".xlsx":
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = report.name
        for line in rows:
            sheet.append(line)
        book.save(path)
    else:
        raise BadRequest(f"{path.name}: export writes .csv or .xlsx")


def integrity_text(row: dict[str, Any], *, amounts: bool = True) -> str:
    """A short line for terminals: "2 stale (1200.00), 1 orphaned (0.00)"; without the amounts
    for reports that count records that carry none (contacts)."""
    parts = []
    for kind, part in (row.get("integrity") or {}).items():
        if kind != "any" and part.get("count"):
            amount = f" ({part['amount']})" if amounts else ""
            parts.append(f"{part['count']} {kind}{amount}")
    return ", ".join(parts)
