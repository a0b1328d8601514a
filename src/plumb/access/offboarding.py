"""Deactivating a user: find every reference to them and hand it over, in one transaction.

References are the user-type fields of every object (owner, task assignee, custom user fields,
archived records included), the users who report to them, and their API tokens and web
sessions. Deactivation hands record references to a named user or to the leaver's manager
through the operations layer (so each change is in the record's history), moves their reports
to their manager, revokes tokens and sessions, and only then marks the user inactive. A user
who is still referenced and given no one to hand over to is refused, with the list.

Closed tasks keep their assignee: who did the work is a fact of history, not a live duty.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, select

from plumb.access import authz
from plumb.access.sessions import revoke_sessions
from plumb.access.tokens import revoke_token
from plumb.access.users import find_user, update_user
from plumb.automation.gaps import Missing, record_gap
from plumb.automation.routing import plan_assign
from plumb.automation.ruleset import ruleset
from plumb.automation.subject import Subject
from plumb.core.context import Ctx
from plumb.core.errors import Conflict, FieldIssue, ValidationFailed
from plumb.models import ApiToken, User
from plumb.records import operations
from plumb.records.fields import schema_for
from plumb.records.rows import model_for
from plumb.workspace.standard import OBJECTS, FieldType

CLOSED_TASK = ("done", "cancelled")


@dataclass(frozen=True)
class Reference:
    object: str
    field: str
    record_id: str
    archived: bool


@dataclass
class Handover:
    user: dict[str, Any]
    to: str | None
    references: list[Reference]
    reports: list[str]
    tokens: list[str]
    kept: list[Reference] = field(default_factory=list)
    definition: list[str] = field(default_factory=list)
    """Places in the workspace definition naming the user (rule owners and recipients,
    routing owners, the integrity owner): changed by editing plumb.yaml, not here."""
    rerouted: list[Reference] = field(default_factory=list)
    gaps: list[Reference] = field(default_factory=list)
    """Records routing could not place (blank inputs, no active owner): each has an open gap."""
    sessions_ended: int = 0
    done: bool = False

    def summary(self) -> dict[str, int]:
        return dict(Counter(f"{r.object}.{r.field}" for r in self.references))

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "handed_to": self.to,
            "references": self.summary(),
            "records": [r.__dict__ for r in self.references],
            "kept": [r.__dict__ for r in self.kept],
            "rerouted": [r.__dict__ for r in self.rerouted],
            "gaps": [r.__dict__ for r in self.gaps],
            "definition_references": self.definition,
            "reports_moved": self.reports,
            "tokens_revoked": self.tokens,
            "sessions_ended": self.sessions_ended,
            "deactivated": self.done,
        }


def references(ctx: Ctx, user: User) -> tuple[list[Reference], list[Reference]]:
    """(references to hand over, references kept as history: closed tasks' assignee)."""
    live: list[Reference] = []
    kept: list[Reference] = []
    for obj in OBJECTS:
        sch = schema_for(ctx.workspace, obj)
        model = model_for(obj)
        for spec in sch.fields.values():
            if spec.type != FieldType.USER:
                continue
            if spec.custom:
                # a coarse SQL prefilter, then an exact check of the value
                rows = ctx.session.execute(
                    select(model.id, model.archived, model.custom).where(
                        cast(model.custom, String).contains(user.id)
                    )
                ).all()
                hits = [
                    (rid, archived)
                    for rid, archived, custom in rows
                    if _holds(custom.get(spec.name), user.id)
                ]
            else:
                column = getattr(model, spec.name)
                stmt = select(model.id, model.archived).where(column == user.id)
                if obj == "task" and spec.name == "assignee_id":
                    closed = select(model.id, model.archived).where(
                        column == user.id,
                        model.status.in_(CLOSED_TASK),  # type: ignore[attr-defined]
                    )
                    kept += [
                        Reference(obj, spec.name, r, a) for r, a in ctx.session.execute(closed)
                    ]
                    stmt = stmt.where(model.status.notin_(CLOSED_TASK))  # type: ignore[attr-defined]
                hits = [(r, a) for r, a in ctx.session.execute(stmt)]
            live += [Reference(obj, spec.name, rid, archived) for rid, archived in hits]
    return live, kept


def _holds(value: Any, user_id: str) -> bool:
    return value == user_id or (isinstance(value, list) and user_id in value)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, list):
        return list(dict.fromkeys(new if v == old else v for v in value))
    return new


def deactivate(
    ctx: Ctx,
    ref: str,
    *,
    to: str | None = None,
    to_manager: bool = False,
    reroute: bool = False,
    dry_run: bool = False,
) -> Handover:
    """Hand over everything that refers to the user, then deactivate them.

    With ``reroute``, records the workspace routes (by their object's routing) get a new owner
    from routing, with the leaver already out of every round-robin pool; a record routing
    cannot place keeps a recorded gap. What routing does not cover goes to ``to`` or the
    manager; without either, such references refuse the deactivation."""
    authz.require_admin(ctx, "deactivate a user")
    user = find_user(ctx, ref)
    if not user.active:
        raise Conflict(f"{user.email} is already deactivated", object="user", record_id=user.id)
    target = _target(ctx, user, to=to, to_manager=to_manager)
    live, kept = references(ctx, user)
    reports = list(ctx.session.scalars(select(User.id).where(User.manager_id == user.id)))
    tokens = list(
        ctx.session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    )
    report = Handover(
        user={"id": user.id, "email": user.email},
        to=target.email if target else None,
        references=live,
        reports=reports,
        tokens=tokens,
        kept=kept,
        definition=definition_references(ctx.loaded.content, user.email),
    )
    routed = _routed_objects(ctx) if reroute else {}
    by_routing = [r for r in live if r.field == "owner_id" and r.object in routed]
    rest = [r for r in live if r not in by_routing]
    if dry_run:
        return report
    if target is None and (rest or reports):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(report.summary().items()))
        raise Conflict(
            f"{user.email} is still referenced ({counts or ''}"
            f"{'; ' if counts and reports else ''}"
            f"{f'{len(reports)} reports' if reports else ''}); name who takes over "
            "(--to USER or --to-manager; --reroute covers owners of routed records only)",
            object="user",
            record_id=user.id,
            rule="handover_required",
            extra={"references": report.summary(), "reports": reports},
        )
    # out of every round-robin pool before routing runs
    update_user(ctx, user, active=False)
    if by_routing:
        report.rerouted, report.gaps = _reroute(ctx, by_routing, routed)
    if target is not None:
        _hand_over(ctx, rest, user.id, target.id)
        for report_id in reports:
            update_user(ctx, ctx.session.get_one(User, report_id), manager_id=user.manager_id)
    for token_id in tokens:
        revoke_token(ctx, token_id)
    report.sessions_ended = revoke_sessions(ctx, user.id)
    report.done = True
    return report


def _target(ctx: Ctx, user: User, *, to: str | None, to_manager: bool) -> User | None:
    if to and to_manager:
        raise ValidationFailed(
            "give either a user to hand over to or --to-manager, not both", object="user"
        )
    if to_manager:
        if user.manager_id is None:
            raise ValidationFailed(
                f"{user.email} has no manager to hand over to",
                object="user",
                record_id=user.id,
                issues=[FieldIssue("manager_id", "handover", "no manager is set")],
            )
        target = ctx.session.get_one(User, user.manager_id)
    elif to:
        target = find_user(ctx, to)
    else:
        return None
    if target.id == user.id:
        raise ValidationFailed("a user cannot hand over to themselves", object="user")
    if not target.active:
        raise ValidationFailed(
            f"{target.email} is deactivated and cannot take over",
            object="user",
            record_id=target.id,
            issues=[FieldIssue("to", "inactive_user", "the user taking over is deactivated")],
        )
    return target


def _hand_over(ctx: Ctx, refs: list[Reference], old: str, new: str) -> None:
    by_record: dict[tuple[str, str], list[str]] = {}
    for ref in refs:
        by_record.setdefault((ref.object, ref.record_id), []).append(ref.field)
    for (obj, record_id), fields in by_record.items():
        model = model_for(obj)
        record = ctx.session.get_one(model, record_id)
        sch = schema_for(ctx.workspace, obj)
        patch: dict[str, Any] = {}
        for name in fields:
            current = record.custom.get(name) if sch[name].custom else getattr(record, name)
            patch[name] = _replace(current, old, new)
        operations.update(ctx, obj, record, patch, allow_read_only=True, action="handover")


def definition_references(content: Any, email: str, path: str = "") -> list[str]:
    """Dotted paths in the definition whose value is ``email`` (rule owners, recipients, ...)."""
    found: list[str] = []
    if isinstance(content, dict):
        for key, value in content.items():
            found += definition_references(value, email, f"{path}.{key}" if path else str(key))
    elif isinstance(content, list):
        for i, value in enumerate(content):
            found += definition_references(value, email, f"{path}.{i}")
    elif isinstance(content, str) and content.strip().lower() == email.lower():
        found.append(path)
    return found


def _routed_objects(ctx: Ctx) -> dict[str, str]:
    """Object -> the key of the first routing the workspace declares for it."""
    routed: dict[str, str] = {}
    for key, routing in ctx.workspace.routing.items():
        routed.setdefault(routing.object, key)
    return routed


def _reroute(
    ctx: Ctx, refs: list[Reference], routed: dict[str, str]
) -> tuple[list[Reference], list[Reference]]:
    rs = ruleset(ctx.loaded)
    done: list[Reference] = []
    gaps: list[Reference] = []
    for ref in refs:
        key = routed[ref.object]
        subject = Subject.load(ctx, ref.object, ref.record_id)
        assert subject is not None
        step = plan_assign(ctx, rs, key, subject)
        if isinstance(step, Missing):
            record_gap(
                ctx,
                f"routing.{key}",
                ref.object,
                ref.record_id,
                step,
                ctx.workspace.integrity_owner,
            )
            gaps.append(ref)
        else:
            step(ctx)
            done.append(ref)
    return done, gaps
