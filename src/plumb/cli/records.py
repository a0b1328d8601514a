"""Record commands: ``plumb contacts create|get|list|update|archive|restore`` and friends.

Values are given as ``--set name=value`` (text as typed, cleaned like API input) or
``--set name:=json``, or as a whole JSON object with ``--data``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.access import authz
from plumb.cli.support import console, parse_assignments, print_json, print_record, transaction
from plumb.core.clock import parse_datetime
from plumb.core.context import Ctx
from plumb.core.errors import BadRequest
from plumb.history.queries import as_of as record_as_of
from plumb.records import operations as ops
from plumb.records import queries
from plumb.records.prepare import stage_field
from plumb.workspace.standard import OBJECTS, PLURALS

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="name=value, or name:=json for lists, numbers and null."),
]
DataOpt = Annotated[str | None, typer.Option("--data", help="A JSON object of field values.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", help="Refuse the change if the record is no longer at this version."),
]

LIST_COLUMNS = {
    "contact": ("first_name", "last_name", "email", "lifecycle_stage"),
    "company": ("name", "domain", "industry", "lifecycle_stage"),
    "deal": ("name", "stage", "amount", "close_date"),
    "activity": ("type", "subject", "occurred_at"),
    "task": ("title", "status", "due_date"),
    "case": ("subject", "status", "priority"),
}


def _values(sets: list[str] | None, data: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if data:
        try:
            loaded = json.loads(data)
        except ValueError as exc:
            raise typer.BadParameter(f"--data is not JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter("--data must be a JSON object of field values")
        values.update(loaded)
    values.update(parse_assignments(sets or []))
    return values


def _show(ctx: Ctx, obj: str, record: Any, as_json: bool) -> None:
    snap = authz.redact(ctx, obj, queries.get_snapshot(ctx, obj, record))
    if as_json:
        print_json(snap)
    else:
        print_record(snap)


def _object_app(obj: str) -> typer.Typer:
    plural = PLURALS[obj]
    group = typer.Typer(help=f"{plural.capitalize()}: create, read, update, archive.")

    @group.command("create")
    def create(sets: SetOpt = None, data: DataOpt = None, as_json: JsonOpt = False) -> None:
        """Create a record from field values."""
        values = _values(sets, data)
        with transaction(as_json=as_json) as ctx:
            record = ops.create(ctx, obj, values)
            _show(ctx, obj, record, as_json)

    @group.command("get")
    def get(
        record_id: str,
        as_of: Annotated[
            str | None, typer.Option("--as-of", help="The record as it stood at this time.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Show one record (or its state at --as-of)."""
        with transaction(write=False, as_json=as_json) as ctx:
            if as_of:
                try:
                    at = parse_datetime(as_of)
                except ValueError as exc:
                    raise BadRequest(f"--as-of {as_of!r} is not a date or time") from exc
                snap = authz.redact(ctx, obj, record_as_of(ctx, obj, record_id, at))
                print_json(snap) if as_json else print_record(snap)
                return
            _show(ctx, obj, queries.get(ctx, obj, record_id), as_json)

    @group.command("list")
    def list_(
        where: Annotated[
            list[str] | None,
            typer.Option("--where", "-w", help="field=value or field.op=value (as in the API)."),
        ] = None,
        sort: Annotated[str | None, typer.Option(help="field or -field.")] = None,
        search: Annotated[str | None, typer.Option("--search", "-q")] = None,
        limit: Annotated[int, typer.Option(help="At most this many (max 500).")] = 50,
        cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
        include_archived: Annotated[bool, typer.Option("--include-archived")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """List records with filters, sort and cursor pagination."""
        pairs: list[tuple[str, str]] = []
        for item in where or []:
            name, sep, value = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--where {item!r}: expected field=value")
            pairs.append((name.strip(), value))
        with transaction(write=False, as_json=as_json) as ctx:
            page = queries.list_records(
                ctx,
                obj,
                filters=queries.parse_filters(queries.schema(ctx, obj), pairs),
                sort=sort,
                cursor=cursor,
                limit=limit,
                include_archived=include_archived,
                count=True,
                search=search,
            )
            snaps = [authz.redact(ctx, obj, s) for s in queries.snapshots(ctx, obj, page.records)]
        if as_json:
            print_json({"data": snaps, "next_cursor": page.next_cursor, "total": page.total})
            return
        columns = LIST_COLUMNS[obj]
        table = Table("id", *columns, box=None)
        for snap in snaps:
            table.add_row(str(snap["id"]), *(_cell(snap.get(c)) for c in columns))
        console.print(table)
        console.print(f"{len(snaps)} of {page.total} {plural}", style="dim")
        if page.next_cursor:
            console.print(f"next page: --cursor {page.next_cursor}", style="dim")

    @group.command("update")
    def update(
        record_id: str,
        sets: SetOpt = None,
        data: DataOpt = None,
        version: VersionOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Change field values (a merge patch: fields not given stay as they are)."""
        values = _values(sets, data)
        if not values:
            raise typer.BadParameter("nothing to change: give --set or --data")
        with transaction(as_json=as_json) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.update(ctx, obj, record, values, expected_version=version)
            _show(ctx, obj, record, as_json)

    @group.command("archive")
    def archive(
        record_id: str,
        reason: Annotated[str | None, typer.Option(help="Why it leaves the working set.")] = None,
        version: VersionOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Archive a record (nothing is deleted; restore brings it back)."""
        with transaction(as_json=as_json) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.archive(ctx, obj, record, reason=reason, expected_version=version)
            _show(ctx, obj, record, as_json)

    @group.command("restore")
    def restore(record_id: str, version: VersionOpt = None, as_json: JsonOpt = False) -> None:
        """Bring an archived record back into the working set."""
        with transaction(as_json=as_json) as ctx:
            record = queries.get(ctx, obj, record_id, for_update=True)
            record = ops.restore(ctx, obj, record, expected_version=version)
            _show(ctx, obj, record, as_json)

    if stage_field(obj) is not None:

        @group.command("move")
        def move(
            record_id: str,
            stage: str,
            sets: SetOpt = None,
            version: VersionOpt = None,
            as_json: JsonOpt = False,
        ) -> None:
            """Move to a stage, filling the fields its gate requires with --set."""
            values = parse_assignments(sets or [])
            with transaction(as_json=as_json) as ctx:
                record = queries.get(ctx, obj, record_id, for_update=True)
                record = ops.move_stage(
                    ctx, obj, record, stage, values=values, expected_version=version
                )
                _show(ctx, obj, record, as_json)

    return group


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "amount" in value:
        return f"{value['amount']} {value.get('currency') or ''}".strip()
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def register(app: typer.Typer) -> None:
    for obj in OBJECTS:
        app.add_typer(_object_app(obj), name=PLURALS[obj])
