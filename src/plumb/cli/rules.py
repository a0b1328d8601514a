"""``plumb rules list|health|simulate`` and ``plumb gaps``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plumb.automation.gaps import gap_json, grouped, list_gaps
from plumb.automation.outcomes import health as rule_health
from plumb.automation.outcomes import summary
from plumb.automation.ruleset import ruleset
from plumb.automation.simulate import simulate as run_simulation
from plumb.cli.support import console, fail, print_json, runtime, transaction
from plumb.core.errors import BadRequest, PlumbError
from plumb.workspace.loader import load_workspace

rules_app = typer.Typer(help="Automation rules: list, health, dry runs.", no_args_is_help=True)


@rules_app.command("list")
def list_rules(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every rule with its owner, trigger and outcomes of the last 7 days."""
    rt = runtime()
    ws = rt.loaded.workspace
    with transaction(write=False, as_json=as_json) as ctx:
        counts = summary(ctx, 7)
    rows: list[dict[str, Any]] = [
        {
            "name": r.name,
            "enabled": r.enabled,
            "owner": r.owner,
            "object": r.when.object,
            "trigger": r.when.kind,
            "description": r.description,
            "last_7_days": counts.get(r.name, {}),
        }
        for r in ws.rules
    ]
    rows += [
        {
            "name": name,
            "enabled": True,
            "owner": ws.integrity_owner,
            "object": rule.obj,
            "trigger": "created",
            "description": rule.description,
            "last_7_days": counts.get(name, {}),
        }
        for name, rule in ruleset(rt.loaded).rules.items()
        if name.startswith("routing.")
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("rule", "on", "owner", "fired", "not matched", "gaps", "stopped", box=None)
    for row in rows:
        c = row["last_7_days"]
        name = row["name"] + ("" if row["enabled"] else " (disabled)")
        on = f"{row['object']} {row['trigger']}"
        table.add_row(
            name,
            on,
            str(row["owner"] or ""),
            *(str(c.get(k, 0)) for k in ("fired", "not_matched", "gap", "stopped")),
        )
    console.print(table)


@rules_app.command("health")
def health(
    recent_days: Annotated[int, typer.Option(help="The recent window, in days.")] = 7,
    baseline_days: Annotated[int, typer.Option(help="The window before it, in days.")] = 28,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rules that used to fire and fire no more (or only open gaps), comparing two windows."""
    rt = runtime()
    names = list(ruleset(rt.loaded).rules)
    with transaction(write=False, as_json=as_json) as ctx:
        report = rule_health(ctx, names, recent_days=recent_days, baseline_days=baseline_days)
    if as_json:
        print_json([h.__dict__ for h in report])
        return
    table = Table("rule", "status", "fired before", "fired lately", "evaluated lately", box=None)
    for h in report:
        style = "" if h.status in ("ok", "new") else "[bold red]"
        table.add_row(
            h.rule,
            f"{style}{h.status}",
            str(h.before["fired"]),
            str(h.recent["fired"]),
            str(sum(h.recent.values())),
        )
    console.print(table)
    if any(h.status in ("stopped_matching", "silent") for h in report):
        raise typer.Exit(2)


@rules_app.command("simulate")
def simulate(
    rule: Annotated[
        str | None, typer.Argument(help="One rule (enabled or not); default all.")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="Try the rules of another definition.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run rules against today's data without writing, and report what they would change,
    send and which gaps they would open. Everything is rolled back."""
    rt = runtime()
    try:
        loaded = load_workspace(workspace) if workspace else rt.loaded
        if workspace is not None and not workspace.exists():
            raise BadRequest(f"{workspace}: no such file")
        names = {r.name for r in loaded.workspace.rules} | {
            f"routing.{k}" for k, v in loaded.workspace.routing.items() if v.on_create
        }
        if rule is not None and rule not in names:
            raise BadRequest(f"no rule named {rule!r} in {loaded.source}")
    except PlumbError as exc:
        fail(exc, as_json=as_json)
    with transaction(write=True, as_json=as_json, commit=False) as ctx:
        report = run_simulation(ctx, loaded, rule).as_json()
    if as_json:
        print_json(report)
        return
    console.print("[bold]outcomes[/] (nothing was written)")
    for name, counts in sorted(report["outcomes"].items()):
        console.print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    console.print(f"[bold]changes[/]: {len(report['changes'])}")
    for c in report["changes"]:
        fields = ", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in c["changes"].items())
        console.print(f"  {c['rule']}: {c['action']} {c['object']} {c['record_id']}  {fields}")
    console.print(f"[bold]messages[/]: {len(report['messages'])}")
    for m in report["messages"]:
        console.print(f"  {m['rule']}: {m['channel']} to {m['destination']}")
    console.print(f"[bold]gaps[/]: {len(report['gaps'])}")
    for g in report["gaps"]:
        console.print(f"  {g['rule']}: {g['object']} {g['record_id']} {g['field']}: {g['detail']}")


def gaps(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's gaps.")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Count open gaps by rule or by field.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open gaps: rules whose trigger matched but which lacked the data they need."""
    with transaction(write=False, as_json=as_json) as ctx:
        if by not in (None, "rule", "field"):
            raise BadRequest("--by takes rule or field")
        found = list_gaps(ctx, rule=rule)
        body = grouped(found, by) if by else [gap_json(g) for g in found]
    if as_json:
        print_json(body)
        return
    if by:
        for row in body:
            console.print(f"{row[by]}: {row['open']}")
        return
    table = Table("rule", "record", "field", "reason", "assignee", "since", box=None)
    for g in body:
        table.add_row(
            g["rule"],
            f"{g['object']} {g['record_id']}",
            g["field"] or "",
            g["detail"],
            g["assignee"] or "",
            g["opened_at"][:10],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
    app.command("gaps")(gaps)
