"""``plumb check``, ``plumb verify``, ``plumb quarantine`` and ``plumb report``."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.cli.support import console, fail, print_json, transaction
from plumb.core.clock import ensure_utc, parse_datetime
from plumb.core.errors import BadRequest
from plumb.quality.engine import all_checks, run_checks
from plumb.reports import export
from plumb.reports.registry import REPORTS, run_report


def check(
    obj: Annotated[str | None, typer.Option("--object", help="Only this object's checks.")] = None,
    slice_: Annotated[
        str | None,
        typer.Option("--slice", help="Only records where this condition holds (rules' language)."),
    ] = None,
    name: Annotated[list[str] | None, typer.Option("--check", help="Only this check.")] = None,
    limit: Annotated[int, typer.Option(help="Findings listed per check (0: all).")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the checks and exit.")] = False,
) -> None:
    """Records that fail a data-quality check, with the reason, and a summary by check."""
    with transaction(write=False, as_json=as_json) as ctx:
        if list_:
            rows = [
                {
                    "check": c.name,
                    "object": c.object,
                    "indicator": c.indicator,
                    "owner": c.owner,
                    "description": c.description,
                }
                for c in all_checks(ctx)
            ]
            if as_json:
                print_json(rows)
            else:
                table = Table("check", "indicator", "owner", "description", box=None)
                for r in rows:
                    table.add_row(r["check"], r["indicator"], r["owner"] or "", r["description"])
                console.print(table)
            return
        run = run_checks(ctx, obj=obj, slice_text=slice_, names=name or None, limit=limit or None)
    if as_json:
        print_json(run.json())
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["check", "indicator", "object", "record_id", "reason"])
        for f in run.findings:
            writer.writerow([f.check, f.indicator, f.object, f.record_id, f.reason])
        return
    table = Table("check", "record", "reason", box=None)
    for f in run.findings:
        table.add_row(f.check, f.record_id, f.reason)
    console.print(table)
    summary = Table("check", "indicator", "records failing", box=None)
    for s in run.summary:
        summary.add_row(s.check, s.indicator, str(s.records))
    console.print(summary)


def report(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(REPORTS)}.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As the data stood then (date or datetime, UTC).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV or XLSX (by the file's extension).")
    ] = None,
) -> None:
    """A report with the integrity annotation of every figure."""
    with transaction(write=False, as_json=as_json) as ctx:
        try:
            at = _as_of(as_of)
        except ValueError as exc:
            fail(BadRequest(f"--as-of {as_of!r}: {exc}"), as_json=as_json)
        result = run_report(ctx, kind, as_of=at)
    if out is not None:
        export.write(result, out)
        console.print(f"wrote {out}")
        return
    if as_json:
        print_json(result.json())
        return
    table = Table(*result.columns, "integrity", box=None)
    for row in result.rows:
        table.add_row(*(_cell(row.get(c)) for c in result.columns), export.integrity_text(row))
    console.print(table)
    if result.as_of is not None:
        console.print(f"as of {result.as_of.isoformat()}")


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    if len(text) == 10:
        # A day means the end of it: "as it stood on 1 March" includes 1 March.
        return ensure_utc(datetime.fromisoformat(text)).replace(hour=23, minute=59, second=59)
    return parse_datetime(text)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("report")(report)
