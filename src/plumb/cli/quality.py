"""``plumb check``, ``plumb verify``, ``plumb quarantine`` and ``plumb report``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.cli.support import console, fail, print_json, transaction
from plumb.core.errors import BadRequest
from plumb.quality.engine import all_checks, run_checks
from plumb.quality.freshness import decay_estimate, verify
from plumb.quality.quarantine import quarantine, release
from plumb.quality.scores import history, slice_scores, snapshot
from plumb.records import queries
from plumb.reports import export
from plumb.reports.base import parse_time
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
    full = not (obj or slice_ or name or list_)
    with transaction(write=full, as_json=as_json) as ctx:
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
        if full:
            # A full run keeps the scores' history.
            snapshot(ctx)
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
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(REPORTS)} (- or _ alike).")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As the data stood then (date or datetime, UTC).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Period start (funnel, status-usage; default 90 days back)."),
    ] = None,
    stop: Annotated[
        str | None, typer.Option("--to", help="Period end, exclusive (default: now or --as-of).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write CSV or XLSX (by the file's extension).")
    ] = None,
) -> None:
    """A report with the integrity annotation of every figure."""
    with transaction(write=False, as_json=as_json) as ctx:
        try:
            at = parse_time("--as-of", as_of, end_of_day=True)
            period = (parse_time("--from", start), parse_time("--to", stop))
        except BadRequest as exc:
            fail(exc, as_json=as_json)
        result = run_report(ctx, kind, as_of=at, start=period[0], stop=period[1])
    if out is not None:
        export.write(result, out)
        console.print(f"wrote {out}")
        return
    if as_json:
        print_json(result.json())
        return
    table = Table(*result.columns, "integrity", box=None)
    amounts = any("amount" in c for c in result.columns)
    for row in result.rows:
        table.add_row(
            *(_cell(row.get(c)) for c in result.columns),
            export.integrity_text(row, amounts=amounts),
        )
    console.print(table)
    for note in result.notes:
        console.print(note, highlight=False)
    if result.as_of is not None:
        console.print(f"as of {result.as_of.isoformat()}")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def verify_cmd(
    obj: Annotated[str, typer.Argument(help="contact or company")],
    record_id: Annotated[str, typer.Argument()],
) -> None:
    """Confirm a record is right as it stands (sets last_verified_at, recorded in history)."""
    with transaction() as ctx:
        record = verify(ctx, obj, queries.get(ctx, obj, record_id))
        stamp = record.last_verified_at  # type: ignore[attr-defined]
    console.print(f"verified {obj} {record_id} at {stamp.isoformat()}")


def quarantine_cmd(
    obj: Annotated[str, typer.Option("--object")],
    check_name: Annotated[str, typer.Option("--check", help="The check whose records to archive.")],
    slice_: Annotated[str | None, typer.Option("--slice")] = None,
    reason: Annotated[
        str | None, typer.Option(help="Archive reason (default: the check's).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    release_id: Annotated[
        str | None, typer.Option("--release", help="Restore what the run with this id archived.")
    ] = None,
) -> None:
    """Archive (never delete) the records failing a check; reversible with --release ID."""
    with transaction(commit=not dry_run) as ctx:
        if release_id:
            ids = release(ctx, obj, release_id)
            console.print(f"restored {len(ids)} {obj} records")
            return
        result = quarantine(ctx, obj, check_name, slice_text=slice_, reason=reason, dry_run=dry_run)
        run_id = ctx.correlation_id
    verb = "would archive" if dry_run else "archived"
    console.print(f"{verb} {len(result.records)} {obj} records")
    if not dry_run and result.records:
        console.print(
            f"undo with: plumb quarantine --object {obj} --check {check_name} --release {run_id}"
        )


def scores_cmd(
    obj: Annotated[str, typer.Option("--object")] = "contact",
    by: Annotated[str, typer.Option(help="all, owner, team, stage or source")] = "all",
    show_history: Annotated[bool, typer.Option("--history")] = False,
    snap: Annotated[bool, typer.Option("--snapshot", help="Record today's scores.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quality score per slice (share of indicators passed), its history, the decay estimate."""
    with transaction(write=snap, as_json=as_json) as ctx:
        if snap:
            snapshot(ctx)
        rows = history(ctx, obj, by) if show_history else slice_scores(ctx, obj, by)
        decay = decay_estimate(ctx, obj) if obj in ("contact", "company") else None
    if as_json:
        print_json({"scores": rows, "decay": decay})
        return
    table = Table("taken" if show_history else "slice", "slice", "records", "score", box=None)
    for r in rows:
        table.add_row(r.get("taken_at", ""), _cell(r["slice"]), str(r["records"]), str(r["score"]))
    console.print(table)
    if decay:
        console.print(
            f"estimated decayed: {decay['estimated_decayed']} of {decay['records']} "
            f"(yearly rate {decay['decay_rate']})"
        )


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("report")(report)
    app.command("verify")(verify_cmd)
    app.command("quarantine")(quarantine_cmd)
    app.command("scores")(scores_cmd)
