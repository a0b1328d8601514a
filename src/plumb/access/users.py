"""Users and teams: the people who own and work records. Writes are recorded in history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from plumb.access import authz
from plumb.access.passwords import hash_password
from plumb.access.sessions import revoke_sessions
from plumb.core.context import Ctx
from plumb.core.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from plumb.core.ids import new_id
from plumb.history import chain
from plumb.hygiene import standardize as std
from plumb.models import Team, User


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "team_id": user.team_id,
        "manager_id": user.manager_id,
        "active": user.active,
    }


def find_user(ctx: Ctx, ref: str) -> User:
    """A user by id or e-mail address."""
    ref = ref.strip()
    stmt = select(User).where(
        func.lower(User.email) == ref.lower() if "@" in ref else User.id == ref.upper()
    )
    user = ctx.session.scalars(stmt).first()
    if user is None:
        raise NotFound(f"no user {ref}", object="user", record_id=ref)
    return user


def list_users(ctx: Ctx, *, include_inactive: bool = True) -> list[User]:
    stmt = select(User).order_by(User.name)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return list(ctx.session.scalars(stmt))


def ensure_team(ctx: Ctx, name: str) -> Team:
    name = std.text(name)
    team = ctx.session.scalars(select(Team).where(Team.name == name)).first()
    if team is not None:
        return team
    team_id = new_id()
    ctx.session.execute(insert(Team).values(id=team_id, name=name, created_at=ctx.now()))
    chain.append(ctx, [chain.Entry("team", team_id, "create", {"name": [None, name]}, 1)])
    return ctx.session.get_one(Team, team_id)


def _check_role(ctx: Ctx, role: str, message: str) -> None:
    if role not in ctx.workspace.roles:
        raise ValidationFailed(
            message,
            object="user",
            issues=[
                FieldIssue(
                    "role",
                    "role",
                    f"no role {role!r} in the workspace ({', '.join(ctx.workspace.roles)})",
                    role,
                )
            ],
        )


def create_user(
    ctx: Ctx,
    *,
    email: str,
    name: str,
    role: str = "admin",
    team: str | None = None,
    manager: str | None = None,
    password_hash: str | None = None,
) -> User:
    authz.require_admin(ctx, "add a user")
    try:
        email = std.email(email).lower()
    except std.Unstandardizable as exc:
        raise ValidationFailed(
            "the user could not be created",
            object="user",
            issues=[FieldIssue("email", exc.rule, exc.message, email)],
        ) from exc
    name = std.text(name)
    if not name:
        raise ValidationFailed(
            "the user could not be created",
            object="user",
            issues=[FieldIssue("name", "required", "a name is required")],
        )
    _check_role(ctx, role, "the user could not be created")
    if ctx.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise Conflict(f"a user with e-mail {email} exists", object="user")
    team_id = ensure_team(ctx, team).id if team else None
    manager_id = find_user(ctx, manager).id if manager else None
    user_id = new_id()
    now = ctx.now()
    values = {
        "email": email,
        "name": name,
        "role": role,
        "team_id": team_id,
        "manager_id": manager_id,
        "active": True,
    }
    ctx.session.execute(
        insert(User).values(
            id=user_id,
            created_at=now,
            updated_at=now,
            version=1,
            password_hash=password_hash,
            **values,
        )
    )
    changes = {k: [None, v] for k, v in values.items() if v is not None}
    if password_hash:
        changes["password"] = [None, "(set)"]
    chain.append(ctx, [chain.Entry("user", user_id, "create", changes, 1)])
    return ctx.session.get_one(User, user_id)


def update_user(ctx: Ctx, user: User, **values: Any) -> User:
    """Change a user's name, role, team, manager or active flag; recorded in history."""
    allowed = {"name", "role", "team_id", "manager_id", "active", "password_hash"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationFailed(f"cannot set {', '.join(sorted(unknown))} on a user", object="user")
    changes: dict[str, list[Any]] = {}
    for key, value in values.items():
        old = getattr(user, key)
        if old != value:
            label = "password" if key == "password_hash" else key
            changes[label] = [
                "(set)" if key == "password_hash" and old else old,
                "(set)" if key == "password_hash" else value,
            ]
    if not changes:
        return user
    now = ctx.now()
    extra: dict[str, Any] = {}
    if "active" in values:
        extra["deactivated_at"] = None if values["active"] else now
    ctx.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(**values, **extra, version=user.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    chain.append(ctx, [chain.Entry("user", user.id, "update", changes, user.version + 1)])
    ctx.session.expire(user)
    return ctx.session.get_one(User, user.id)


def set_role(ctx: Ctx, ref: str, role: str) -> User:
    """Give a user another role from the workspace; recorded in history."""
    authz.require_admin(ctx, "change a user's role")
    user = find_user(ctx, ref)
    _check_role(ctx, role, f"the role of {user.email} was not changed")
    return update_user(ctx, user, role=role)


def set_password(ctx: Ctx, ref: str, password: str) -> User:
    """Set a user's password (Argon2id) and sign them out of every session."""
    if ctx.actor.user_id is not None and ctx.actor.user_id != find_user(ctx, ref).id:
        authz.require_admin(ctx, "set another user's password")
    user = find_user(ctx, ref)
    user = update_user(ctx, user, password_hash=hash_password(password, email=user.email))
    revoke_sessions(ctx, user.id)
    return user
