"""``plumb import OBJECT FILE``, ``plumb import list|undo`` and ``plumb export OBJECT``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from plumb.cli.support import console, fail, print_json, runtime, transaction
from plumb.core.errors import BadRequest, PlumbError
from plumb.transfer import export as exporter
from plumb.transfer import importer
from plumb.transfer.undo import list_runs, undo_import
from plumb.workspace.standard import OBJECTS, PLURALS

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

import_app = typer.Typer(
    help="Import CSV or XLSX files; list imports; undo one.", no_args_is_help=True
)
export_app = typer.Typer(help="Export records to CSV or XLSX.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    for obj in OBJECTS:
        import_app.command(PLURALS[obj], help=f"Import {PLURALS[obj]} from a CSV or XLSX file.")(
            _import_command(obj)
        )
        export_app.command(PLURALS[obj], help=f"Export {PLURALS[obj]} to CSV or XLSX.")(
            _export_command(obj)
        )


def _import_command(obj: str):  # type: ignore[no-untyped-def]
    def command(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        mapping: Annotated[
            Path | None,
            typer.Option("--mapping", help="A YAML mapping of columns to fields.", exists=True),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Count new/updated/duplicate/invalid; write none.")
        ] = False,
        errors: Annotated[
            Path | None, typer.Option("--errors", help="Write refused rows to this CSV file.")
        ] = None,
        show_mapping: Annotated[
            bool, typer.Option("--show-mapping", help="Print the mapping and stop.")
        ] = False,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = importer.BATCH_SIZE,
        as_json: JsonOpt = False,
    ) -> None:
        _run_import(obj, file, mapping, dry_run, errors, show_mapping, batch_size, as_json)

    return command


def _run_import(
    obj: str,
    file: Path,
    mapping: Path | None,
    dry_run: bool,
    errors: Path | None,
    show_mapping: bool,
    batch_size: int,
    as_json: bool,
) -> None:
    rt = runtime()
    with transaction(write=False, as_json=as_json) as ctx:
        plan = importer.plan_import(ctx, obj, file, mapping_file=mapping)
        actor = ctx.actor
    if show_mapping:
        _print_mapping(plan, as_json)
        return
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn() if plan.format.kind == "csv" else TextColumn("{task.completed} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task(f"importing {plan.path.name}", total=None)

            def progress(done: int, total: int, counts: importer.Counts) -> None:
                line = ", ".join(f"{v} {k}" for k, v in counts.as_dict().items() if v)
                bar.update(task, completed=done, total=total or None, description=line)

            outcome = importer.run_import(
                rt, actor, plan, dry_run=dry_run, batch_size=batch_size, progress=progress
            )
    except PlumbError as exc:
        fail(exc, as_json=as_json)
    written = None
    if errors is not None:
        if dry_run:
            written = importer.write_errors(errors, outcome.errors)
        else:
            with rt.reading(actor) as rctx:
                written = importer.write_errors(
                    errors, importer.stored_errors(rctx.session, outcome.run_id)
                )
    if as_json:
        body = outcome.as_json()
        body["errors_written"] = written
        print_json(body)
        return
    counts = outcome.counts.as_dict()
    head = "dry run (nothing written)" if dry_run else f"import {outcome.run_id}"
    if outcome.already_done:
        head += ": this file was already imported with this mapping; nothing to do"
    elif outcome.resumed_from:
        head += f": resumed after {outcome.resumed_from} rows"
    console.print(escape(f"{head} — {plan.format.describe()}, {PLURALS[obj]}"))
    console.print(", ".join(f"{v} {k}" for k, v in counts.items()))
    if written is not None:
        console.print(escape(f"{written} problem(s) written to {errors}"))
    elif counts["invalid"] or counts["duplicate"]:
        console.print("refused rows: see them with --errors FILE")


def _print_mapping(plan: importer.Plan, as_json: bool) -> None:
    m = plan.mapping
    if as_json:
        print_json({"format": plan.format.describe(), **m.as_json()})
        return
    console.print(
        escape(
            f"{plan.path.name}: {plan.format.describe()}; mapping: {m.preset}; "
            f"ids from: {m.source or 'none (rows keyed by file and row number)'}"
        )
    )
    table = Table("column", "field", "found by", box=None)
    for column, target in m.columns.items():
        table.add_row(escape(column), target.field, target.by if target.by != "id" else "")
    for column in m.skipped:
        table.add_row(escape(column), "[dim](not imported)[/]", "")
    console.print(table)


def _export_command(obj: str):  # type: ignore[no-untyped-def]
    def command(
        fmt: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Defaults to OBJECTS.FORMAT.")
        ] = None,
        include_archived: Annotated[bool, typer.Option("--include-archived")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        if fmt not in ("csv", "xlsx"):
            fail(BadRequest(f"--format must be csv or xlsx, not {fmt!r}"), as_json=as_json)
        path = output or Path(f"{PLURALS[obj]}.{fmt}")
        with transaction(write=False, as_json=as_json) as ctx:
            count = exporter.write_export(ctx, obj, path, fmt, include_archived=include_archived)
        if as_json:
            print_json({"object": obj, "file": str(path), "format": fmt, "records": count})
        else:
            console.print(escape(f"{count} {PLURALS[obj]} written to {path}"))

    return command


@import_app.command("list")
def list_imports(limit: Annotated[int, typer.Option(min=1)] = 50, as_json: JsonOpt = False) -> None:
    """Recent imports: file, object, status and counts."""
    with transaction(write=False, as_json=as_json) as ctx:
        runs = list_runs(ctx, limit)
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "object": r.object,
                "file": r.file_name,
                "status": r.status,
                "started_at": r.started_at.isoformat(),
                "by": r.actor_label,
                "rows": r.rows_done,
                "counts": importer.Counts.of(r).as_dict(),
            }
            for r in runs
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "object", "file", "status", "rows", "counts", "started", box=None)
    for r in rows:
        counts = ", ".join(f"{v} {k}" for k, v in r["counts"].items() if v)
        table.add_row(
            r["id"],
            r["object"],
            escape(r["file"]),
            r["status"],
            str(r["rows"]),
            counts,
            r["started_at"][:19],
        )
    console.print(table)


@import_app.command("undo")
def undo(import_id: str, as_json: JsonOpt = False) -> None:
    """Archive what an import created and put back what it changed (unless changed since)."""
    with transaction(as_json=as_json) as ctx:
        report = undo_import(ctx, import_id)
    if as_json:
        print_json(report.as_json())
        return
    console.print(
        f"import {report.import_id} undone: {report.archived} archived, {report.reverted} put back"
    )
    if report.changed_since:
        console.print(
            f"{len(report.changed_since)} created record(s) had been changed since; archived"
        )
    for item in report.skipped:
        console.print(escape(f"  left as is: {item['id']}: {item['reason']}"))
