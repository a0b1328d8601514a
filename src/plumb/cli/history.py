"""``plumb history``, ``plumb audit verify`` and ``plumb erase``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from plumb.access.users import find_user
from plumb.cli.support import console, err_console, fail, print_json, transaction
from plumb.core.errors import BadRequest
from plumb.history.erase import erase as erase_record
from plumb.history.queries import ADMIN_TYPES, admin_history, record_history
from plumb.history.verify import verify
from plumb.models import ChangeEntry
from plumb.records import queries
from plumb.workspace.standard import OBJECTS, SINGULARS

audit_app = typer.Typer(help="Tamper evidence of the change history.", no_args_is_help=True)


def _object(name: str) -> str:
    obj = SINGULARS.get(name, name)
    if obj not in OBJECTS and obj not in ADMIN_TYPES:
        kinds = ", ".join(OBJECTS + ADMIN_TYPES)
        raise BadRequest(f"unknown object {name!r}; one of: {kinds}")
    return obj


def history(
    obj_name: Annotated[
        str,
        typer.Argument(
            metavar="OBJECT", help="contact, company, deal, ... or user, team, token, workspace"
        ),
    ],
    record_id: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every change to a record, oldest first: who, from where, and old -> new per field."""
    with transaction(write=False, as_json=as_json) as ctx:
        obj = _object(obj_name)
        if obj == "user":
            record_id = find_user(ctx, record_id).id
        if obj in ADMIN_TYPES:
            entries = admin_history(ctx, obj, record_id)
        else:
            entries = record_history(ctx, obj, record_id)
    if as_json:
        print_json(entries)
        return
    for entry in entries:
        actor = entry["actor"]["label"] or entry["actor"]["kind"]
        console.print(
            f"[bold]{entry['at']}[/]  {entry['action']}  v{entry['version']}  "
            f"by {actor} via {entry['source']}",
            highlight=False,
        )
        for name, (old, new) in entry["changes"].items():
            console.print(f"    {name}: {_short(old)} -> {_short(new)}", highlight=False)
        if entry["context"]:
            console.print(f"    context: {json.dumps(entry['context'])}", style="dim")


def _short(value: object) -> str:
    text = "∅" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


@audit_app.command("verify")
def audit_verify(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Walk the hash chain; report the first entry that was altered, inserted or removed."""
    with transaction(write=False, as_json=as_json) as ctx:
        total = ctx.session.scalar(select(func.count()).select_from(ChangeEntry)) or 0
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("verify", total=total)
            report = verify(ctx.session, progress=lambda n: progress.update(task, completed=n))
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "entries": report.entries,
                "lanes": len(report.lanes),
                "first_problem": str(report.first) if report.first else None,
                "problems": [str(p) for p in report.problems],
            }
        )
    if report.ok:
        if not as_json:
            console.print(
                f"[green]ok[/]: {report.entries} entries in {len(report.lanes)} lanes verify"
            )
        return
    if not as_json:
        table = Table("problem", box=None)
        for problem in report.problems:
            table.add_row(str(problem))
        err_console.print(f"[bold red]the change history does not verify[/]: first {report.first}")
        err_console.print(table)
    raise typer.Exit(2)


def erase(
    obj_name: Annotated[str, typer.Argument(metavar="OBJECT")],
    record_id: str,
    reason: Annotated[str, typer.Option(help="Why (e.g. the request reference).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Erase a person's personal data from a record and its history (right to erasure)."""
    try:
        obj = _object(obj_name)
    except BadRequest as exc:
        fail(exc, as_json=as_json)
    if not yes and not typer.confirm(
        f"Erase the personal data of {obj} {record_id} from the record and its history? "
        "This cannot be undone"
    ):
        fail("not confirmed; nothing erased")
    with transaction(as_json=as_json) as ctx:
        record = queries.get(ctx, obj, record_id, for_update=True)
        result = erase_record(ctx, obj, record, reason=reason)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"erased {', '.join(result['fields'])} of {obj} {record_id}; "
            f"{result['entries_redacted']} history entries redacted"
        )


def register(app: typer.Typer) -> None:
    app.command("history")(history)
    app.command("erase")(erase)
    app.add_typer(audit_app, name="audit")
