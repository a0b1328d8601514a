"""Exporting one object's records to CSV or XLSX.

Lifecycle stage (or pipeline stage) and status come first, then the record's id, its fields
and when it was created and last changed. Only records the actor may see, and only fields it
may see, are written; the actor needs the ``export`` permission on the object. Every cell is
neutralised against formula injection. Column names are field names, so the file re-imports
into Plumb with no mapping (``id`` becomes the rows' external id under source ``plumb``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from plumb.access import authz
from plumb.core.context import Ctx
from plumb.records import queries
from plumb.records.fields import schema_for
from plumb.transfer.cells import to_cell

FIRST = {
    "contact": ("lifecycle_stage", "lead_status"),
    "company": ("lifecycle_stage",),
    "deal": ("pipeline", "stage"),
    "case": ("pipeline", "stage", "status"),
    "task": ("status",),
    "activity": ("type",),
}
TRAILING = ("created_at", "updated_at")
PAGE = 500


def export_columns(ctx: Ctx, obj: str, *, include_archived: bool = False) -> list[str]:
    sch = schema_for(ctx.workspace, obj)
    readable = authz.readable_fields(ctx, obj)
    fields = [n for n in sch.fields if readable is None or n in readable]
    first = [n for n in FIRST.get(obj, ()) if n in fields]
    rest = [n for n in fields if n not in first]
    extra = ["archived", "archive_reason"] if include_archived else []
    return [*first, "id", *rest, *TRAILING, *extra]


def export_rows(
    ctx: Ctx, obj: str, columns: list[str], *, include_archived: bool = False
) -> Iterator[list[str]]:
    """Each visible record as cells, a page at a time (memory stays flat)."""
    authz.require(ctx, obj, "export")
    cursor: str | None = None
    while True:
        page = queries.list_records(
            ctx, obj, cursor=cursor, limit=PAGE, include_archived=include_archived
        )
        for snap in queries.snapshots(ctx, obj, page.records):
            safe = authz.redact(ctx, obj, snap)
            yield [to_cell(safe.get(c)) for c in columns]
        ctx.session.expunge_all()
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def write_export(
    ctx: Ctx, obj: str, path: Path, fmt: str, *, include_archived: bool = False
) -> int:
    """Write the export to ``path``; the number of records written."""
    authz.require(ctx, obj, "export")
    columns = export_columns(ctx, obj, include_archived=include_archived)
    rows = export_rows(ctx, obj, columns, include_archived=include_archived)
    if fmt == "xlsx":
        return _write_xlsx(path, obj, columns, rows)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(columns)
        for row in rows:
            out.writerow(row)
            count += 1
    return count


def _write_xlsx(path: Path, obj: str, columns: list[str], rows: Iterator[list[str]]) -> int:
    book = Workbook(write_only=True)
    sheet: Any = book.create_sheet(obj)
    sheet.append(columns)
    count = 0
    for row in rows:
        cells = []
        for text in row:
            cell = WriteOnlyCell(sheet, value=text)
            cell.data_type = "s"  # text, always: a cell is never a formula
            cells.append(cell)
        sheet.append(cells)
        count += 1
    book.save(path)
    return count
