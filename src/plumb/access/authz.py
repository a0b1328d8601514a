"""The one place that decides who may do what and see which records and fields.

Every operation and query consults these functions; no interface has checks of its own.

A user acts under the role the workspace definition gives that name (``roles:`` in
``plumb.yaml``). Actors without a user (the local operator at the CLI, rules, system jobs)
act with full rights; what they do is still recorded in history under their own name. An API
token narrows its user's rights further by its scopes (``read``, ``write``, ``admin``, or per
object: ``read:contact``, ``write:deal``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, false, select

from plumb.core.context import Ctx
from plumb.core.errors import FieldIssue, PermissionDenied, ValidationFailed
from plumb.models import User
from plumb.records.rows import model_for
from plumb.workspace.roles import ACTIONS, GRANTS, Role
from plumb.workspace.standard import META_KEYS

ALIASES = {"emails": ("email",), "phones": ("phone",)}
"""Fields shown twice in a record's JSON: hiding one hides the other."""
_TEAM_KEY = "plumb.authz.team"


def role_of(ctx: Ctx) -> Role | None:
    """The actor's role; None for actors with full rights (no user behind them)."""
    actor = ctx.actor
    if actor.user_id is None:
        return None
    role = ctx.workspace.roles.get(actor.role or "")
    if role is None:
        # A user whose role is not defined may do nothing, rather than everything.
        return Role(label=f"undefined role {actor.role!r}")
    return role


def require(ctx: Ctx, obj: str, action: str) -> None:
    """Refuse with 403 unless the actor may perform ``action`` on ``obj`` records."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    role = role_of(ctx)
    if role is not None and action not in role.actions(obj):
        raise PermissionDenied(
            f"role {ctx.actor.role!r} may not {action} {obj} records", object=obj
        )
    if not _scope_allows(ctx, obj, action):
        raise PermissionDenied(f"this token's scopes do not allow {action} on {obj}", object=obj)


def may(ctx: Ctx, obj: str, action: str) -> bool:
    role = role_of(ctx)
    allowed = role is None or action in role.actions(obj)
    return allowed and _scope_allows(ctx, obj, action)


def is_admin(ctx: Ctx) -> bool:
    """An administrator of the workspace: the system, or a role that may ``administer`` every
    object (``all: true``, or ``administer`` under ``"*"``), through a token (if any) scoped
    ``admin``."""
    role = role_of(ctx)
    if role is not None and not (role.all or "administer" in role.actions("*")):
        return False
    return _scope_allows(ctx, "*", "administer")


def require_admin(ctx: Ctx, what: str) -> None:
    """Refuse with 403 unless the actor is an administrator; ``what`` names the refused act."""
    if not is_admin(ctx):
        raise PermissionDenied(
            f"only an administrator may {what}", extra={"needs": "administer on every object"}
        )


def require_grant(ctx: Ctx, grant: str, *, obj: str, record_id: str | None = None) -> None:
    """Refuse unless the actor holds the named permission (``change_owner``, ...)."""
    if grant not in GRANTS:
        raise ValueError(f"unknown grant {grant!r}")
    role = role_of(ctx)
    if role is not None and not role.holds(grant):
        raise PermissionDenied(
            f"role {ctx.actor.role!r} does not hold the permission {grant}",
            object=obj,
            record_id=record_id,
            extra={"permission": grant},
        )


def _scope_allows(ctx: Ctx, obj: str, action: str) -> bool:
    scopes = ctx.actor.scopes
    if not scopes:
        return True
    need = "read" if action in ("view", "export") else "write"
    if action == "administer":
        need = "admin"
    granted = {need, f"{need}:{obj}", "admin"}
    if need == "read":
        granted |= {"write", f"write:{obj}"}
    return bool(granted & scopes)


def team_of(ctx: Ctx) -> frozenset[str]:
    """The users whose records a team-visibility actor sees: themselves, their team, and
    everyone who reports to them, directly or up a chain of managers."""
    cached = ctx.session.info.get(_TEAM_KEY)
    user_id = ctx.actor.user_id
    if cached is not None and cached[0] == user_id:
        return cached[1]
    rows = ctx.session.execute(select(User.id, User.team_id, User.manager_id)).all()
    me = next((r for r in rows if r.id == user_id), None)
    members = {user_id} if user_id else set()
    if me is not None and me.team_id is not None:
        members |= {r.id for r in rows if r.team_id == me.team_id}
    reports: dict[str | None, list[str]] = {}
    for r in rows:
        reports.setdefault(r.manager_id, []).append(r.id)
    stack = [user_id]
    while stack:
        for sub in reports.get(stack.pop(), []):
            if sub not in members:
                members.add(sub)
                stack.append(sub)
    team = frozenset(m for m in members if m)
    ctx.session.info[_TEAM_KEY] = (user_id, team)
    return team


def visible(ctx: Ctx, obj: str) -> ColumnElement[bool] | None:
    """A WHERE clause limiting ``obj`` records to those the actor may see (None: all)."""
    role = role_of(ctx)
    if role is None:
        return None
    if "view" not in role.actions(obj):
        return false()
    scope = role.sees(obj)
    if scope == "everyone":
        return None
    owner = model_for(obj).owner_id
    if scope == "owner":
        return owner == ctx.actor.user_id
    return owner.in_(sorted(team_of(ctx)))


def readable_fields(ctx: Ctx, obj: str) -> frozenset[str] | None:
    """Fields the actor may see (None: all of them)."""
    hidden = hidden_fields(ctx, obj)
    if not hidden:
        return None
    from plumb.records.fields import schema_for

    names = set(schema_for(ctx.workspace, obj).fields)
    names |= {alias for aliases in ALIASES.values() for alias in aliases}
    return frozenset(names - hidden)


def hidden_fields(ctx: Ctx, obj: str) -> frozenset[str]:
    role = role_of(ctx)
    if role is None:
        return frozenset()
    hidden = set(role.hidden(obj))
    for name, aliases in ALIASES.items():
        if name in hidden:
            hidden.update(aliases)
    return frozenset(hidden)


def check_writable(ctx: Ctx, obj: str, fields: Iterable[str]) -> None:
    """Refuse, naming the fields, when the actor may not edit some of ``fields``."""
    role = role_of(ctx)
    if role is None:
        return
    locked = set(role.read_only(obj))
    for name, aliases in ALIASES.items():
        if name in locked:
            locked.update(aliases)
    denied = sorted(f for f in fields if f in locked)
    if denied:
        raise ValidationFailed(
            "you may not edit these fields",
            object=obj,
            issues=[
                FieldIssue(f, "field_permission", f"role {ctx.actor.role!r} may not edit {f}")
                for f in denied
            ],
        )


def redact(ctx: Ctx, obj: str, snap: dict[str, object]) -> dict[str, object]:
    """A record's JSON form without the fields the actor may not see."""
    hidden = hidden_fields(ctx, obj)
    if not hidden:
        return snap
    return {k: v for k, v in snap.items() if k not in hidden or k in META_KEYS}
