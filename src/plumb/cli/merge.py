"""``plumb merge``, ``plumb merges list|show`` and ``plumb undo``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.access import authz
from plumb.cli.support import console, fail, parse_assignments, print_json, transaction
from plumb.core.errors import BadRequest
from plumb.identity import merge as merging
from plumb.records import queries
from plumb.workspace.standard import SINGULARS
from plumb.workspace.survivorship import MERGEABLE

merges_app = typer.Typer(help="Merges: list and inspect (undo with `plumb undo`).")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _object(name: str) -> str:
    obj = SINGULARS.get(name, name)
    if obj not in MERGEABLE:
        raise BadRequest(f"{name!r} records cannot be merged; one of: {', '.join(MERGEABLE)}")
    return obj


def _versions(pairs: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pair in pairs:
        ident, sep, raw = pair.partition("=")
        if not sep or not raw.strip().isdigit():
            raise typer.BadParameter(f"--version {pair!r}: expected RECORD_ID=VERSION")
        out[ident.strip()] = int(raw)
    return out


def _show_plan(plan: dict[str, Any]) -> None:
    table = Table("field", "value", "from", "rule", box=None)
    for name, r in plan["fields"].items():
        value = "(hidden)" if r.get("hidden") else r.get("value")
        if value is None or value == []:
            continue
        source = r["record_id"] or ", ".join(r.get("from_records") or []) or "(chosen)"
        changed = "*" if name in plan["changes"] else ""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(f"{changed}{name}", text, source, r["rule"])
    console.print(table)
    console.print("* the survivor's value changes", style="dim")


def merge(
    obj_name: Annotated[str, typer.Argument(metavar="OBJECT", help="contact, company, deal, case")],
    survivor: Annotated[str, typer.Argument(help="The record that survives.")],
    others: Annotated[list[str], typer.Argument(metavar="OTHER...", help="Records to merge.")],
    choose: Annotated[
        list[str] | None,
        typer.Option(
            "--choose",
            "-c",
            help="field=RECORD_ID takes that record's value; field=value (or field:=json) sets it.",
        ),
    ] = None,
    version: Annotated[
        list[str] | None,
        typer.Option("--version", help="RECORD_ID=N: refuse if the record moved past N."),
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show each field's resolution; write nothing.")
    ] = False,
    note: Annotated[str | None, typer.Option(help="Why these are the same.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge OTHER records into SURVIVOR: fields by the workspace's survivorship rules (or
    --choose), children and external ids moved, the others archived and kept as aliases."""
    try:
        obj = _object(obj_name)
    except BadRequest as exc:
        fail(exc, as_json=as_json)
    choices = parse_assignments(choose or [])
    versions = _versions(version or [])
    with transaction(write=not preview, as_json=as_json) as ctx:
        if preview:
            s, merged = merging.load_records(ctx, obj, survivor, others, versions, lock=False)
            plan = merging.plan_merge(ctx, obj, s, merged, choices).as_json(ctx)
            if as_json:
                print_json({"preview": True, **plan})
            else:
                console.print(f"preview: merging {', '.join(plan['merged'])} into {s.id}")
                _show_plan(plan)
            return
        done = merging.merge(
            ctx, obj, survivor, others, choices=choices, versions=versions, note=note
        )
        out = merging.merge_json(ctx, done)
        record = queries.get(ctx, obj, done.survivor_id)
        out["record"] = authz.redact(ctx, obj, queries.get_snapshot(ctx, obj, record))
    if as_json:
        print_json(out)
        return
    console.print(
        f"merged {', '.join(out['merged'])} into {obj} {out['survivor']} (merge {out['id']}); "
        f"undo with: plumb undo {out['id']}",
        highlight=False,
    )


@merges_app.command("list")
def list_(
    obj_name: Annotated[str | None, typer.Option("--object", help="contact, company...")] = None,
    record: Annotated[str | None, typer.Option(help="Merges this record was part of.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Merges, newest first."""
    with transaction(write=False, as_json=as_json) as ctx:
        obj = _object(obj_name) if obj_name else None
        found = [
            merging.merge_json(ctx, m)
            for m in merging.list_merges(ctx, obj=obj, record_id=record, limit=limit)
        ]
    if as_json:
        print_json({"data": found})
        return
    table = Table("merge", "object", "survivor", "merged", "by", "at", "undone", box=None)
    for m in found:
        table.add_row(
            m["id"],
            m["object"],
            m["survivor"],
            ", ".join(m["merged"]),
            m["actor"]["label"],
            m["created_at"],
            m["undone_at"] or "",
        )
    console.print(table)


@merges_app.command("show")
def show(merge_id: str, as_json: JsonOpt = False) -> None:
    """One merge: each field's rule and source, what it changed, what it moved."""
    with transaction(write=False, as_json=as_json) as ctx:
        out = merging.merge_json(ctx, merging.get_merge(ctx, merge_id), detail=True)
    if as_json:
        print_json(out)
        return
    console.print(
        f"merge {out['id']}: {', '.join(out['merged'])} into {out['object']} {out['survivor']} "
        f"by {out['actor']['label']} at {out['created_at']}"
        + (f"; undone at {out['undone_at']} by {out['undone_by']}" if out["undone_at"] else ""),
        highlight=False,
    )
    table = Table("field", "rule", "from", "before", "after", box=None)
    changes = out["survivor_changes"]
    for name, r in out["fields"].items():
        old, new = changes.get(name, ["", ""])
        table.add_row(
            name,
            r["rule"],
            r["record_id"] or ", ".join(r.get("from_records") or []),
            _text(old),
            _text(new),
        )
    console.print(table)
    console.print(
        f"{len(out['relinks'])} references and {len(out['external_ids'])} external ids moved",
        highlight=False,
    )


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def undo(merge_id: str, as_json: JsonOpt = False) -> None:
    """Undo a merge: the merged records, their links and external ids come back, and the
    survivor's fields the merge set return to their values before (unless changed since)."""
    with transaction(as_json=as_json) as ctx:
        report = merging.undo(ctx, merge_id)
    if as_json:
        print_json(report)
        return
    console.print(
        f"undid merge {report['merge_id']}: restored {', '.join(report['restored']) or 'none'}; "
        f"{len(report['fields_reverted'])} survivor fields put back, "
        f"{report['references_restored']} references and {report['external_ids_restored']} "
        "external ids moved back",
        highlight=False,
    )
    for name, why in report["fields_kept"].items():
        console.print(f"  kept {name} on the survivor: {why}", highlight=False)
    for ref in report["references_kept"]:
        console.print(
            f"  left {ref['object']} {ref['id']} {ref['field']} as it is: {ref['reason']}",
            highlight=False,
        )
    for ext in report["external_ids_kept"]:
        console.print(
            f"  left external id {ext['source']}:{ext['external_id']} on {ext['now_on']}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("merge")(merge)
    app.command("undo")(undo)
    app.add_typer(merges_app, name="merges")
