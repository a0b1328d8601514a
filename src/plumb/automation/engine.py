"""Running rules on writes: the after-write hook, and the evaluation every trigger leads to.

Every evaluation of a rule on a record ends in one outcome, counted per rule and day:

- ``fired``: the condition held and every action ran (written through the operations layer
  under the rule's actor, or enqueued in the outbox), in the triggering transaction;
- ``not_matched``: the condition did not hold;
- ``gap``: data the rule needs is missing or unusable; a gap is opened (or refreshed) naming
  the rule, the record and the field, and nothing of the rule's actions is written;
- ``stopped``: rules triggering rules reached ``automation.max_depth``; recorded as a gap too.

A write to a record with open gaps runs those rules again; when they fire or no longer match,
their gaps close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from plumb.automation import actions
from plumb.automation.conditions import EvaluationError, blank
from plumb.automation.gaps import Missing, close_gap, open_gaps_for, record_gap
from plumb.automation.outcomes import Tally
from plumb.automation.ruleset import CompiledRule, RuleSet, ruleset
from plumb.automation.subject import Subject
from plumb.core.actor import ActorKind, Source
from plumb.core.context import Ctx, RecordChange
from plumb.core.errors import PlumbError


def rule_ctx(ctx: Ctx, rule: CompiledRule) -> Ctx:
    """The context a rule's actions run in: the rule as actor, with full rights, one level deeper.

    The actor whose change set the rule off is kept as ``on_behalf_of``."""
    actor = ctx.actor.acting_as(ActorKind.RULE, Source.RULE, rule.name, rule.name)
    actor = replace(actor, user_id=None, role=None, scopes=frozenset())
    return ctx.derive(actor=actor, depth=ctx.depth + 1)


def gap_assignee(ctx: Ctx, subject: Subject) -> str | None:
    """Who should fix a gap: the record's active owner, else the integrity owner."""
    owner = subject.owner(ctx)
    if owner is not None and owner["active"]:
        return str(owner["email"])
    return ctx.workspace.integrity_owner


def evaluate(
    ctx: Ctx,
    rs: RuleSet,
    rule: CompiledRule,
    subject: Subject,
    occurrence: str,
    tally: Tally,
    *,
    had_gap: bool,
    claim: Callable[[], bool] | None = None,
) -> str:
    """Evaluate ``rule`` on ``subject`` and act on the outcome; return the outcome.

    ``claim`` (time-based rules) is asked once the rule would fire or gap; when it answers
    False another run has taken this occurrence and nothing is done (outcome ``claimed``)."""
    obj, ident = subject.obj, subject.record_id
    decided, missing = _decide(ctx, rs, rule, subject, occurrence)
    if decided != "not_matched" and claim is not None and not claim():
        return "claimed"
    if isinstance(decided, list):
        rctx = rule_ctx(ctx, rule)
        try:
            with ctx.session.begin_nested():
                for step in decided:
                    step(rctx)
        except PlumbError as exc:
            missing = Missing(
                exc.issues[0].field if exc.issues else None,
                "action_refused",
                f"an action of rule {rule.name!r} was refused: {exc}",
            )
        result = "gap" if missing else "fired"
    else:
        result = decided
    if missing is not None:
        record_gap(ctx, rule.name, obj, ident, missing, gap_assignee(ctx, subject))
    elif had_gap:
        close_gap(ctx, rule.name, obj, ident, result)
    tally.add(rule.name, result, obj, ident)
    return result


def _decide(
    ctx: Ctx, rs: RuleSet, rule: CompiledRule, subject: Subject, occurrence: str
) -> tuple[str | list[actions.Step], Missing | None]:
    for path in rule.requires:
        if blank(subject.raw(ctx, path)):
            name = ".".join(path)
            return "gap", Missing(
                name, "missing", f"rule {rule.name!r} requires {name}, which is blank"
            )
    if rule.condition is not None:
        try:
            held = rule.condition.holds(lambda p: subject.lookup(ctx, p), ctx.now())
        except EvaluationError as exc:
            return "gap", Missing(None, "condition_error", f"rule {rule.name!r}: {exc}")
        if not held:
            return "not_matched", None
    planned = actions.plan(ctx, rs, rule, subject, occurrence)
    if isinstance(planned, Missing):
        return "gap", planned
    return planned, None


def stop(ctx: Ctx, rule: CompiledRule, subject: Subject, tally: Tally) -> None:
    limit = ctx.workspace.automation.max_depth
    gap = Missing(
        None,
        "loop_depth",
        f"rule {rule.name!r} was triggered {ctx.depth} rules deep (limit {limit}) and did not run",
    )
    record_gap(ctx, rule.name, subject.obj, subject.record_id, gap, gap_assignee(ctx, subject))
    tally.add(rule.name, "stopped", subject.obj, subject.record_id)


def triggered(
    ctx: Ctx, rs: RuleSet, changes: list[RecordChange]
) -> list[tuple[CompiledRule, Subject, str]]:
    """(rule, record, occurrence) for every rule the changes trigger."""
    out: list[tuple[CompiledRule, Subject, str]] = []
    for change in changes:
        subject = Subject(change.object, change.record_id, change.values, change.version)
        occurrence = f"v{change.version}"
        rules: list[CompiledRule] = []
        if change.action == "create":
            rules += rs.created.get(change.object, [])
        for name, (old, new) in change.changes.items():
            rules += rs.for_change(change.object, name, old, new)
        out += [(r, subject, occurrence) for r in rules]
        if change.object == "activity" and change.action == "create" and rs.activity:
            kind = str(change.values.get("type"))
            for link in change.values.get("links") or []:
                linked = rs.activity.get((link["type"], kind))
                if not linked:
                    continue
                target = Subject.load(ctx, link["type"], link["id"])
                if target is not None:
                    out += [(r, target, f"activity:{change.record_id}") for r in linked]
    return out


def run_on_changes(ctx: Ctx, changes: list[RecordChange]) -> None:
    """The after-write hook: evaluate triggered rules, then re-run rules with open gaps."""
    rs = ruleset(ctx.loaded)
    if not rs.active or not changes:
        return
    run(ctx, rs, changes)


def run(ctx: Ctx, rs: RuleSet, changes: list[RecordChange]) -> Tally:
    tally = Tally()
    todo = triggered(ctx, rs, changes)
    subjects = {(s.obj, s.record_id): s for _, s, _ in todo}
    for change in changes:
        subjects.setdefault(
            (change.object, change.record_id),
            Subject(change.object, change.record_id, change.values, change.version),
        )
    open_gaps = open_gaps_for(ctx, subjects)
    deep = ctx.depth >= ctx.workspace.automation.max_depth
    done: set[tuple[str, str, str]] = set()
    for rule, subject, occurrence in todo:
        key = (rule.name, subject.obj, subject.record_id)
        if key in done:
            continue
        done.add(key)
        if deep:
            stop(ctx, rule, subject, tally)
            continue
        had_gap = rule.name in open_gaps.get((subject.obj, subject.record_id), [])
        evaluate(ctx, rs, rule, subject, occurrence, tally, had_gap=had_gap)
    if not deep:
        for (obj, ident), names in open_gaps.items():
            for name in names:
                if (name, obj, ident) in done:
                    continue
                recheck(ctx, rs, name, subjects[(obj, ident)], tally)
    tally.flush(ctx)
    return tally


def recheck(ctx: Ctx, rs: RuleSet, name: str, subject: Subject, tally: Tally) -> None:
    """Run a rule with an open gap on this record again; close the gap if it can no longer
    apply (the rule was removed, or the record moved past the trigger)."""
    rule = rs.rules.get(name)
    if rule is None:
        close_gap(ctx, name, subject.obj, subject.record_id, "rule_removed")
        return
    fresh = Subject.load(ctx, subject.obj, subject.record_id) or subject
    if not rule.trigger_holds(fresh.values):
        close_gap(ctx, name, subject.obj, subject.record_id, "trigger_passed")
        return
    evaluate(ctx, rs, rule, fresh, f"recheck:v{fresh.version}", tally, had_gap=True)
