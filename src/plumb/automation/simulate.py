"""Dry runs: evaluate rules against today's data and report what they would do.

The caller runs ``simulate`` in a transaction it rolls back. Rules run exactly as they would
live (actions through the operations layer, outbox messages, gaps, rules triggering rules), so
the report is what the live engine would do, read back from the transaction before it is
undone. A rule triggered by a change is tried on every record that stands where its trigger
would leave it (``changed: stage, to: proposal_sent`` on deals now at proposal_sent; ``created``
on every record); time-based rules run as ``run_due`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import false, func, select

from plumb.automation.engine import evaluate
from plumb.automation.gaps import gap_json
from plumb.automation.outcomes import Tally
from plumb.automation.ruleset import RuleSet, build
from plumb.automation.subject import Subject
from plumb.automation.timed import run_due
from plumb.core.context import Ctx
from plumb.models import ChangeEntry, OutboxMessage, RuleGap
from plumb.records.rows import model_for
from plumb.workspace.loader import LoadedWorkspace


@dataclass
class Report:
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "outcomes": self.outcomes,
            "changes": self.changes,
            "messages": self.messages,
            "gaps": self.gaps,
        }


def simulate(ctx: Ctx, loaded: LoadedWorkspace, rule: str | None = None) -> Report:
    """Run the enabled rules of ``loaded`` (or the one named, enabled or not) on today's data.

    Writes happen in ``ctx``'s transaction: the caller must roll it back."""
    sim = ctx.derive(loaded=loaded)
    rs: RuleSet = build(loaded.workspace, only={rule} if rule else None)
    last_entry = ctx.session.scalar(select(func.max(ChangeEntry.id))) or 0
    known_messages = set(ctx.session.scalars(select(OutboxMessage.id)))
    known_gaps = set(ctx.session.scalars(select(RuleGap.id)))
    tally = Tally()
    for compiled in rs.rules.values():
        if compiled.trigger.timed:
            continue
        model = model_for(compiled.obj)
        ids = list(
            ctx.session.scalars(
                select(model.id).where(model.archived == false()).order_by(model.id)
            )
        )
        for ident in ids:
            subject = Subject.load(sim, compiled.obj, ident)
            if subject is None or not compiled.trigger_holds(subject.values):
                continue
            evaluate(sim, rs, compiled, subject, "simulate", tally, had_gap=False)
    if any(r.trigger.timed for r in rs.rules.values()):
        run_due(sim, rs, tally)
    report = Report()
    for (name, outcome), (n, _, _) in tally.counts.items():
        report.outcomes.setdefault(name, {})[outcome] = n
    entries = ctx.session.scalars(
        select(ChangeEntry)
        .where(ChangeEntry.id > last_entry, ChangeEntry.actor_kind == "rule")
        .order_by(ChangeEntry.id)
    )
    report.changes = [
        {
            "rule": e.actor_label,
            "object": e.record_type,
            "record_id": e.record_id,
            "action": e.action,
            "changes": e.changes,
        }
        for e in entries
    ]
    report.messages = [
        {"rule": m.origin, "channel": m.channel, "destination": m.destination, "payload": m.payload}
        for m in ctx.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        if m.id not in known_messages
    ]
    report.gaps = [
        gap_json(g)
        for g in ctx.session.scalars(select(RuleGap).where(RuleGap.open_key.is_not(None)))
        if g.id not in known_gaps
    ]
    return report
