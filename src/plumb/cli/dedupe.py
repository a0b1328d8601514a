"""``plumb dedupe``: find duplicates in bulk, review them, say "not a duplicate", learn weights.

plumb dedupe [--object contact] [--threshold X] [--export pairs.csv] [--json]
plumb dedupe queue [--object contact] [--limit 50]
plumb dedupe candidates OBJECT ID
plumb dedupe distinct OBJECT ID1 ID2 [--note ...]
plumb dedupe estimate [--object contact]
plumb dedupe reindex [--object contact]
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from plumb.access import authz
from plumb.cli.support import console, print_json, step_progress, transaction
from plumb.core.context import Ctx
from plumb.core.errors import NotFound
from plumb.identity import candidates as cand
from plumb.identity import keys, queue, scan
from plumb.identity.plan import Plan, plan_for

dedupe_app = typer.Typer(
    help="Duplicates: scan, review queue, not-a-duplicate decisions, weights.",
    invoke_without_command=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ObjectOpt = Annotated[
    str | None,
    typer.Option("--object", "-o", help="One object (default: every object with matching)."),
]


def _plans(ctx: Ctx, obj: str | None) -> list[Plan]:
    names = [obj] if obj else sorted(ctx.workspace.matching)
    plans = []
    for name in names:
        plan = plan_for(ctx.workspace, name)
        if plan is None:
            raise NotFound(f"the workspace declares no matching for {name!r}")
        plans.append(plan)
    return plans


def _export(path: Path, plan: Plan, result: scan.ScanResult) -> None:
    fields = [pf.name for pf in plan.fields]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["object", "cluster", "record_a", "record_b", "score", *fields])
        for flag in result.flags:
            levels = {e["field"]: e["level"] for e in flag.explanation}
            writer.writerow(
                [
                    result.object,
                    flag.cluster,
                    flag.record_a,
                    flag.record_b,
                    f"{flag.score:.2f}",
                    *(levels.get(f, "") for f in fields),
                ]
            )


@dedupe_app.callback()
def dedupe(
    ctx: typer.Context,
    obj: ObjectOpt = None,
    threshold: Annotated[
        float | None, typer.Option(help="Score from which a pair is a likely duplicate.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Write the likely pairs to this CSV file.")
    ] = None,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="Re-estimate the weights before scoring.")
    ] = False,
    reindex: Annotated[
        bool, typer.Option("--reindex", help="Rebuild the blocking keys first.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Scan every live record for duplicates: candidate pairs from the blocking keys, scored,
    clustered, and put in the review queue (pairs decided "not a duplicate" are left out)."""
    if ctx.invoked_subcommand is not None:
        return
    summaries = []
    with transaction(as_json=as_json) as tx:
        for plan in _plans(tx, obj):
            authz.require(tx, plan.object, "administer")
            with step_progress("dedupe", quiet=as_json) as progress:
                result = scan.scan(
                    tx,
                    plan,
                    threshold=threshold,
                    estimate_weights=estimate,
                    reindex_keys=reindex,
                    progress=progress,
                )
            if export is not None:
                single = obj or len(tx.workspace.matching) == 1
                target = (
                    export
                    if single
                    else export.with_name(f"{export.stem}-{plan.object}{export.suffix}")
                )
                _export(target, plan, result)
            summaries.append(result.summary())
    if as_json:
        print_json(summaries if obj is None else summaries[0])
        return
    for s in summaries:
        console.print(
            f"[bold]{s['object']}[/]: {s['records']:,} records, {s['candidate_pairs']:,} "
            f"candidate pairs, {s['likely_duplicate_pairs']:,} likely duplicate pairs at "
            f"score >= {s['threshold']:g} in {s['clusters']:,} clusters "
            f"({s['records_in_clusters']:,} records, largest {s['largest_cluster']}); "
            f"{s['queued']:,} in the review queue"
        )
        if s["skipped_common_keys"]:
            console.print(
                f"  {s['skipped_common_keys']:,} blocking keys were shared by too many records "
                "to pair on (matching.max_block)"
            )
        if s["estimated_weights"]:
            console.print(f"  weights estimated from this data: {s['weights_id']}")


@dedupe_app.command("queue")
def queue_(
    obj: Annotated[str, typer.Option("--object", "-o")] = "contact",
    limit: Annotated[int, typer.Option(help="How many pairs to show.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The review queue: likely duplicate pairs, best first, with what agreed."""
    with transaction(write=False, as_json=as_json) as ctx:
        _plans(ctx, obj)
        data, total = queue.listing(ctx, obj, limit=limit)
    if as_json:
        print_json({"data": data, "total": total})
        return
    table = Table("score", "record a", "record b", "cluster", "agreeing", box=None)
    for row in data:
        agreeing = ", ".join(
            f"{e['field']} {e['level']}"
            for e in row["explanation"]
            if e["level"] not in ("missing", "disagree")
        )
        table.add_row(
            f"{row['score']:.1f}", row["record_a"], row["record_b"], row["cluster"] or "", agreeing
        )
    console.print(table)
    console.print(f"{len(data)} of {total} open pairs")


@dedupe_app.command("candidates")
def candidates(
    obj: Annotated[str, typer.Argument(help="contact, company, ...")],
    record_id: Annotated[str, typer.Argument()],
    threshold: Annotated[float | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Likely duplicates of one record, each with its score and per-field explanation."""
    with transaction(write=False, as_json=as_json) as ctx:
        [plan] = _plans(ctx, obj)
        found = cand.for_record(ctx, plan, record_id, threshold=threshold)
        data = [
            {**c.as_json(), "explanation": queue.redact_explanation(ctx, obj, c.explanation)}
            for c in found
        ]
    if as_json:
        print_json({"record_id": record_id.upper(), "data": data})
        return
    if not data:
        console.print("no likely duplicates")
    for c in data:
        console.print(f"[bold]{c['id']}[/] score {c['score']:.1f}")
        table = Table("field", "level", "this record", "candidate", "weight", box=None)
        for e in c["explanation"]:
            table.add_row(e["field"], e["level"], str(e["a"]), str(e["b"]), f"{e['weight']:+.1f}")
        console.print(table)


@dedupe_app.command("distinct")
def distinct(
    obj: Annotated[str, typer.Argument(help="contact, company, ...")],
    record_a: Annotated[str, typer.Argument()],
    record_b: Annotated[str, typer.Argument()],
    note: Annotated[str | None, typer.Option(help="Why they are different.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Not a duplicate: the pair leaves the queue and is never proposed again."""
    with transaction(as_json=as_json) as ctx:
        [plan] = _plans(ctx, obj)
        decision = queue.mark_distinct(ctx, plan, record_a, record_b, note=note)
        out = {
            "object": obj,
            "record_a": decision.record_a,
            "record_b": decision.record_b,
            "decision": decision.decision,
            "score": decision.score,
            "comparison": decision.comparison,
        }
    if as_json:
        print_json(out)
    else:
        console.print(f"{out['record_a']} and {out['record_b']} are recorded as different {obj}s")


@dedupe_app.command("estimate")
def estimate(obj: ObjectOpt = None, as_json: JsonOpt = False) -> None:
    """Re-estimate the match weights from today's data and every decision made."""
    out = []
    with transaction(as_json=as_json) as ctx:
        for plan in _plans(ctx, obj):
            authz.require(ctx, plan.object, "administer")
            with step_progress("dedupe", quiet=as_json) as progress:
                _, row = scan.estimate_only(ctx, plan, progress=progress)
            out.append(scan.estimation_json(row))
    if as_json:
        print_json(out if obj is None else out[0])
        return
    for e in out:
        console.print(
            f"[bold]{e['object']}[/]: weights {e['weights_id']} from {e['pairs']:,} candidate "
            f"pairs, {e['random_pairs']:,} random pairs and {e['labelled']} decisions "
            f"({e['iterations']} iterations, {'converged' if e['converged'] else 'not converged'})"
        )
        table = Table("field", "level", "m", "u", "weight", box=None)
        for field, levels in e["weights"].items():
            for level, w in levels.items():
                table.add_row(field, level, f"{w['m']:.4f}", f"{w['u']:.6f}", f"{w['weight']:+.2f}")
        console.print(table)


@dedupe_app.command("reindex")
def reindex(obj: ObjectOpt = None, as_json: JsonOpt = False) -> None:
    """Rebuild the blocking keys of existing records (after changing `blocking:`)."""
    out = {}
    with transaction(as_json=as_json) as ctx:
        for plan in _plans(ctx, obj):
            authz.require(ctx, plan.object, "administer")
            with step_progress("dedupe", quiet=as_json) as progress:
                records, written = keys.reindex(ctx, plan, progress)
            out[plan.object] = {"records": records, "keys": written}
    if as_json:
        print_json(out)
        return
    for name, counts in out.items():
        console.print(f"{name}: {counts['keys']:,} keys for {counts['records']:,} records")


def register(app: typer.Typer) -> None:
    app.add_typer(dedupe_app, name="dedupe")
