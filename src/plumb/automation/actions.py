"""A rule's actions, planned before anything is written.

Planning resolves every input an action needs (the task's assignee, the e-mail's address, the
routing's territory). If one is missing or unusable, the plan is a ``Missing`` and the rule does
nothing: it leaves a gap instead of half its work. Otherwise each planned step writes through
the operations layer under the rule's actor, or enqueues in the outbox, in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from plumb.automation.conditions import blank
from plumb.automation.gaps import Missing
from plumb.automation.routing import plan_assign
from plumb.automation.ruleset import CompiledRule, RuleSet
from plumb.automation.subject import Subject, user_by_email, user_info
from plumb.core.context import Ctx
from plumb.outbox import enqueue
from plumb.records import operations as ops
from plumb.records import queries
from plumb.workspace.rules import Action, path_problem, related_object

Step = Callable[[Ctx], None]
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\}")


def render(ctx: Ctx, template: str, rule: CompiledRule, subject: Subject) -> str:
    """``{field}`` and ``{relation.field}`` replaced by the record's values; ``{rule}``, ``{id}``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "rule":
            return rule.name
        path = tuple(name.split("."))
        if path_problem(ctx.workspace, subject.obj, path) is not None:
            return match.group(0)
        value = subject.raw(ctx, path)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(one, template)


def resolve_user(ctx: Ctx, who: str, subject: Subject) -> dict[str, Any] | Missing:
    """``owner``, ``owner_manager`` or a user's e-mail, as an active user."""
    if who in ("owner", "owner_manager"):
        owner = subject.owner(ctx)
        if owner is None:
            return Missing("owner_id", "missing", f"the {subject.obj} has no owner")
        if who == "owner_manager":
            if not owner["manager_id"]:
                return Missing("owner.manager", "missing", f"owner {owner['email']} has no manager")
            manager = user_info(ctx, owner["manager_id"])
            if manager is None or not manager["active"]:
                return Missing(
                    "owner.manager",
                    "user_inactive",
                    f"the manager of {owner['email']} is deactivated",
                )
            return manager
        if not owner["active"]:
            return Missing("owner_id", "owner_inactive", f"owner {owner['email']} is deactivated")
        return owner
    user = user_by_email(ctx, who)
    if user is None:
        return Missing(None, "user_unknown", f"no user with e-mail {who}")
    if not user["active"]:
        return Missing(None, "user_inactive", f"user {who} is deactivated")
    return user


def dedupe_key(rule: str, subject: Subject, occurrence: str, index: int) -> str:
    raw = f"{rule}|{subject.obj}|{subject.record_id}|{occurrence}|{index}"
    return "rule:" + hashlib.sha256(raw.encode()).hexdigest()[:48]


def plan(
    ctx: Ctx, rs: RuleSet, rule: CompiledRule, subject: Subject, occurrence: str
) -> list[Step] | Missing:
    steps: list[Step] = []
    for index, action in enumerate(rule.actions):
        step = _plan_one(
            ctx, rs, rule, subject, action, dedupe_key(rule.name, subject, occurrence, index)
        )
        if isinstance(step, Missing):
            return step
        steps.append(step)
    return steps


def _plan_one(
    ctx: Ctx, rs: RuleSet, rule: CompiledRule, subject: Subject, action: Action, key: str
) -> Step | Missing:
    obj, ident = subject.obj, subject.record_id
    if action.set is not None:
        values = dict(action.set)

        def set_fields(rctx: Ctx) -> None:
            ops.update(rctx, obj, queries.get(rctx, obj, ident), values)

        return set_fields
    if action.task is not None:
        task = action.task
        who = resolve_user(ctx, task.assignee, subject)
        if isinstance(who, Missing):
            return who
        due = (ctx.now() + timedelta(days=task.due_in_days)).date().isoformat()
        item = {
            "title": render(ctx, task.title, rule, subject),
            "description": render(ctx, task.description, rule, subject) or None,
            "assignee_id": who["id"],
            "owner_id": who["id"],
            "due_date": due,
            "status": "open",
            "record": f"{obj}:{ident}",
        }
        return lambda rctx: _create(rctx, "task", item)
    if action.update_related is not None:
        related = action.update_related
        target = related_object(ctx.workspace, obj, related.relation)
        if target is None:
            return Missing(None, "unknown_relation", f"{obj} has no relation {related.relation}")
        if obj == "deal" and related.relation == "contacts":
            ids = [c["contact_id"] for c in subject.values.get("contacts") or []]
        else:
            ref = subject.related_id(ctx, related.relation)
            ids = [ref[1]] if ref else []
        patch = dict(related.set)

        def update_related(rctx: Ctx) -> None:
            for rid in ids:
                ops.update(rctx, target, queries.get(rctx, target, rid), patch)

        return update_related
    if action.email is not None:
        email = action.email
        to = email.to
        if to in ("owner", "owner_manager") or user_by_email(ctx, to) is not None:
            who = resolve_user(ctx, to, subject)
            if isinstance(who, Missing):
                return who
            address = who["email"]
        else:
            address = to
        if blank(address):
            return Missing(None, "no_address", f"no e-mail address for {to}")
        payload = {
            "subject": render(ctx, email.subject, rule, subject),
            "text": render(ctx, email.text, rule, subject),
        }
        return lambda rctx: _enqueue(rctx, "email", address, payload, key, rule, subject)
    if action.webhook is not None:
        endpoint = action.webhook.endpoint

        def webhook(rctx: Ctx) -> None:
            fresh = Subject.load(rctx, obj, ident)
            body = {
                "event": "rule.fired",
                "rule": rule.name,
                "object": obj,
                "record_id": ident,
                "record": fresh.values if fresh else subject.values,
            }
            _enqueue(rctx, "webhook", endpoint, body, key, rule, subject)

        return webhook
    assert action.assign is not None
    return plan_assign(ctx, rs, action.assign.routing, subject)


def _create(rctx: Ctx, obj: str, item: dict[str, Any]) -> None:
    ops.create(rctx, obj, item)


def _enqueue(
    rctx: Ctx,
    channel: str,
    destination: str,
    payload: dict[str, Any],
    key: str,
    rule: CompiledRule,
    subject: Subject,
) -> None:
    enqueue(
        rctx,
        channel,
        destination,
        payload,
        dedupe_key=key,
        origin=rule.name,
        record=(subject.obj, subject.record_id),
    )
